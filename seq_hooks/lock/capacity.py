"""How much a lock may run at once: slots, a memory budget, and the expected peak memory of a unit.

A lock admits its oldest waiting unit while (a) fewer than `slots` units hold it, (b) the expected
peaks of the holders plus the unit's own fit the memory budget (a unit that alone exceeds it runs
when nobody holds), and (c) the machine's available memory, less what the holders are still expected
to take, less the unit's expected peak, stays above a reserve, and (d) where there are more slots
than CPUs, the holders leave a CPU free: fewer of their processes are running than there are CPUs.
`slots = 1` is the plain exclusive lock, whatever the budget.

- `slots = "auto"`: the CPUs this process may use (affinity, lowered to the cgroup's CPU quota).
- `memory_budget_mb = "auto"`: half of the memory we may use (MemTotal, lowered to a cgroup limit).
  The other half is for what never goes through the queue (editors, language servers, the agents
  themselves, the page cache that keeps the tools fast); check (c) protects a machine that is busy
  anyway.
- Both are "auto" by default (config.Settings): agents committing at once then run side by side, one
  per CPU, instead of queueing behind each other, and the budget keeps their memory bounded. A lock
  whose units fan out themselves (`pytest -n auto`, a parallel build) gets `slots = 1` in its own
  table, or `threads`.
- (d): slots beyond the CPUs are for units that wait more than they compute (they hold memory,
  sleep, or wait for I/O), so such a slot is given while a CPU is free. Units that arrive together
  then start staggered, each as the one before it stops computing, instead of all computing at once
  and then all waiting at once (16 units that fill 2 GB and hold it, 4 at a time on 2 CPUs: a pool
  that starts 4 at once takes 1.43x the ideal; started staggered, 1.14x). With no more slots than
  CPUs the slots alone keep the CPUs from being oversubscribed.
- The reserve: 10% of that memory, at least 256 MB and at most 2 GB (the kernel starts reclaiming
  and then killing somewhere below that, whatever the budget says).
- The expected peak of a unit: the largest of the last few peaks the journal recorded for the same
  key (the tool and its files, or the command line), plus a margin; without history, the unit's
  memory limit; without a limit either, the whole budget (it runs alone until its peak is known). A
  guess made without history is not kept: the head of the queue reads the journal again whenever it
  has grown (admission.py), so units that queued before their key had history use the history
  written while they waited. In a fresh repository the first git hook's chain runs alone and the
  chains behind it share the slots as soon as its peak is in the journal.
"""
from __future__ import annotations

import time

from seq_hooks import journal
from seq_hooks.config import GIT_LOCK, Settings
from seq_hooks.errors import Reason
from seq_hooks.records import NamedTuple

HISTORY = 5  # recent peaks of the same key that count
MARGIN = 0.05  # on top of the largest recent peak: sampling misses short spikes, inputs grow
MARGIN_MB = 16
TAIL_BYTES = 1 << 20  # how much of the journal's end is searched for a key's history (~2,500 runs)
UNKNOWN_MB = 2048  # a unit with no history, no limit and no budget to go by


class Capacity(NamedTuple):
    slots: int
    budget_mb: int  # 0: no budget
    reserve_mb: int  # the machine's available memory must stay above this; 0: not checked
    # more slots than this many CPUs: the holders must leave one free (rule d); 0: not checked
    cpus: int = 0

    @property
    def exclusive(self) -> bool:
        """One unit at a time and nothing to plan: the plain lock (with one slot a budget has
        nothing to share)."""
        return self.slots == 1


def auto_budget_mb(total_mb: int | None = None) -> int:
    from seq_hooks.process import machine  # only for "auto": off the path of a plain run

    return max((machine.memory_total_mb() if total_mb is None else total_mb) // 2, 1)


def reserve_mb(total_mb: int | None = None) -> int:
    from seq_hooks.process import machine  # only for slots or a budget

    total = machine.memory_total_mb() if total_mb is None else total_mb
    return min(max(total // 10, 256), 2048)


def configured(settings: Settings, lock_id: str) -> tuple[int | str, int | str]:
    """(slots, memory_budget_mb) as set for a lock: its own table's, else [tool.seq-hooks]'s, else
    the defaults."""
    own = settings.locks.get(lock_id.split("/", maxsplit=1)[0])
    slots = own.slots if own is not None and own.slots is not None else settings.slots
    budget = own.memory_budget_mb if own is not None and own.memory_budget_mb is not None \
        else settings.memory_budget_mb
    return slots, budget


def always_alone(lock_id: str) -> bool:
    """The `git` lock and nested queues (the calls made under one holder) are one at a time,
    whatever is set."""
    return lock_id.split("/", maxsplit=1)[0] == GIT_LOCK or "/" in lock_id


def for_lock(settings: Settings, lock_id: str) -> Capacity:
    """The capacity of the queue `lock_id`: a named lock's own table over [tool.seq-hooks] (see
    always_alone)."""
    return _sized(settings, lock_id)[0]


def _sized(settings: Settings, lock_id: str) -> tuple[Capacity, int]:
    """The capacity of the queue `lock_id`, and the memory we may use (MB; 0 where the lock is the
    plain one and it was not read). Each fact of the machine is read once: its CPUs (for "auto" and
    rule d) and its memory (for "auto", the reserve and the cap of an expected peak), ~0.5M
    instructions a read."""
    if always_alone(lock_id):
        return Capacity(1, 0, 0), 0
    slots, budget = configured(settings, lock_id)
    if slots != "auto" and int(slots) <= 1:
        # one at a time: a budget has nothing to share (and "auto" is not worked out)
        return Capacity(1, 0, 0), 0
    from seq_hooks.process import machine  # only for slots or a budget: off the path of a plain run

    view = machine.cgroups()
    cpus = machine.usable_cpus(view)
    n = cpus if slots == "auto" else int(slots)
    if n == 1:
        return Capacity(1, 0, 0), 0
    total = machine.memory_total_mb(view)
    used = auto_budget_mb(total) if budget == "auto" else max(int(budget), 0)
    return Capacity(n, used, reserve_mb(total), cpus if n > cpus else 0), total


def at_defaults(settings: Settings, lock_id: str) -> bool:
    """Whether a lock's slots and budget are the defaults (set by nobody, or set to what they would
    be anyway)."""
    if always_alone(lock_id):
        return False  # nothing of theirs is set
    defaults = Settings._field_defaults
    return configured(settings, lock_id) == (defaults["slots"], defaults["memory_budget_mb"])


def recent_peaks(state_dir: str, key: str, n: int = HISTORY) -> list[float]:
    """The peak memory (MB) of the last `n` runs with `key` that ended by themselves, newest
    first."""
    out: list[float] = []
    for record in journal.recent(state_dir, key, TAIL_BYTES):
        if record.reason in Reason.BY_ITSELF:
            out.append(record.peak_rss_mb)
            if len(out) >= n:
                break
    return out


class Estimate(NamedTuple):
    """A unit's expected peak memory and what it comes from (its ticket records both; `status` says
    them)."""

    mb: int
    basis: str  # HISTORY_BASIS, LIMIT_BASIS, BUDGET_BASIS or UNKNOWN_BASIS
    runs: int = 0  # the recent runs of its key it comes from (HISTORY_BASIS)
    # epoch seconds when the head of the queue revised it from new history; 0: never
    revised: float = 0.0


HISTORY_BASIS, LIMIT_BASIS, BUDGET_BASIS, UNKNOWN_BASIS = (
    "history",
    "memory limit",
    "budget",
    "unknown",
)
BASES = (HISTORY_BASIS, LIMIT_BASIS, BUDGET_BASIS, UNKNOWN_BASIS)


def estimate(
    state_dir: str, key: str, limit_mb: int, budget_mb: int, total_mb: int | None = None
) -> Estimate:
    """What a unit is expected to hold at its peak, in MB, and from what (see the module's
    docstring), at most the memory we may use (`total_mb`; default: the machine's, lowered to a
    cgroup limit): a unit cannot hold more, and a peak recorded as 1e300 must not become a 301-digit
    number in a ticket."""
    peaks = recent_peaks(state_dir, key)
    if peaks:
        guess = Estimate(int(max(peaks) * (1 + MARGIN)) + MARGIN_MB, HISTORY_BASIS, len(peaks))
    elif limit_mb > 0:
        guess = Estimate(limit_mb, LIMIT_BASIS)
    else:
        guess = (
            Estimate(budget_mb, BUDGET_BASIS) if budget_mb else Estimate(UNKNOWN_MB, UNKNOWN_BASIS)
        )
    if total_mb is None:
        # only for slots or a budget: off the path of a plain run
        from seq_hooks.process import machine

        total_mb = machine.memory_total_mb()
    return guess._replace(mb=min(guess.mb, max(total_mb, 1)))


def expected_peak_mb(
    state_dir: str, key: str, limit_mb: int, budget_mb: int, total_mb: int | None = None
) -> int:
    return estimate(state_dir, key, limit_mb, budget_mb, total_mb).mb


def said(basis: str, runs: int) -> str:
    """What an expected peak comes from, in words: `history of 3 runs`, `no history: the whole
    budget`."""
    if basis == HISTORY_BASIS:
        return f"history of {runs} run{'s' if runs != 1 else ''}"
    return {
        LIMIT_BASIS: "no history: its memory limit",
        BUDGET_BASIS: "no history: the whole budget",
        UNKNOWN_BASIS: f"no history, no limit, no budget: {UNKNOWN_MB} MB",
    }.get(basis, basis)


class Guess:
    """A waiting unit's expected peak, read again from the journal whenever the journal has
    grown."""

    def __init__(self, state_dir: str, key: str, limit_mb: int, budget_mb: int,
                 total_mb: int | None = None) -> None:
        self.state_dir, self.key, self.limit_mb, self.budget_mb = (
            state_dir,
            key,
            limit_mb,
            budget_mb,
        )
        self.total_mb = total_mb  # the memory we may use (None: read at each estimate)
        self.seen = journal.stamp(state_dir) if key else None
        self.now = (
            estimate(state_dir, key, limit_mb, budget_mb, total_mb)
            if key
            else Estimate(limit_mb, LIMIT_BASIS)
        )

    @staticmethod
    def fixed(mb: int) -> Guess:
        """An expected peak given, not learned: never revised (a caller of queue.acquire that knows
        its own)."""
        return Guess("", "", mb, 0)

    def revise(self) -> bool:
        """Reads the history again if the journal has grown since the last look: True when the peak
        changed."""
        if not self.key:
            return False
        seen = journal.stamp(self.state_dir)
        if seen == self.seen:
            return False
        self.seen = seen
        new = estimate(self.state_dir, self.key, self.limit_mb, self.budget_mb, self.total_mb)
        if new[:3] == self.now[:3]:
            return False
        self.now = new._replace(revised=time.time())
        return True


def strictest(cap: Capacity, terms: list[tuple[int, int]]) -> Capacity:
    """`cap` narrowed to the (slots, budget MB) each holder was admitted under: the fewest slots and
    the smallest budget win, so callers whose settings disagree (an exported SEQ_HOOKS_SLOTS,
    another branch's pyproject.toml) never run more at once than any holder's own terms allow. A
    plain lock's holder says (1, 0): it runs alone."""
    slots = min([cap.slots, *(s for s, _b in terms)])
    budgets = [b for b in (cap.budget_mb, *(b for _s, b in terms)) if b > 0]
    return cap._replace(slots=slots, budget_mb=min(budgets) if budgets else 0)


# why the head of a queue may not start yet (status shows it beside the head)
SLOTS_FULL = "slots full"  # (a) as many units hold the lock as it has slots
BUDGET = "budget"  # (b) the holders' expected peaks and its own would not fit the memory budget
MACHINE_MEMORY = "machine memory"  # (c) the machine's available memory would fall below the reserve
CPUS_BUSY = "CPUs busy"  # (d) more slots than CPUs, and the holders leave no CPU free


class Verdict(NamedTuple):
    admit: bool
    why: str  # "" when admitted, else SLOTS_FULL, BUDGET, MACHINE_MEMORY or CPUS_BUSY


def admit(cap: Capacity, mine_mb: int, holders: list[tuple[int, float]], available_mb: int | None,
          running: int | None = None) -> Verdict:
    """Whether the head of the queue may start now. `holders`: (expected peak MB, tree memory now
    MB) of each unit holding the lock; `available_mb`: the machine's available memory; `running`:
    how many of the holders' processes are running on a CPU or ready to (None: not checked)."""
    if len(holders) >= cap.slots:
        return Verdict(False, SLOTS_FULL)
    if not holders:
        return Verdict(True, "")  # alone, whatever its size: nothing else can be squeezed
    if cap.budget_mb and sum(e for e, _ in holders) + mine_mb > cap.budget_mb:
        return Verdict(False, BUDGET)
    if available_mb is not None and cap.reserve_mb:
        still_coming = sum(max(e - now, 0.0) for e, now in holders)
        if available_mb - still_coming - mine_mb < cap.reserve_mb:
            return Verdict(False, MACHINE_MEMORY)
    if cap.cpus and running is not None and running >= cap.cpus:
        return Verdict(False, CPUS_BUSY)
    return Verdict(True, "")


def plan(settings: Settings, state_dir: str, lock_id: str, argv: list[str],
         limit_mb: int) -> tuple[Capacity, Guess | None]:
    """The capacity of the queue `lock_id` and, when it has slots or a budget, the unit's expected
    peak (else None)."""
    cap, total_mb = _sized(settings, lock_id)
    if cap.exclusive:
        return cap, None
    return cap, Guess(state_dir, journal.unit_key(argv), limit_mb, cap.budget_mb, total_mb)


def slots_used(runs: list[tuple[str, float, float]]) -> list[int]:
    """The slot each run (lock, started, ended) held: the lowest free when it started (a successor
    admitted within 2 ms of a release took that slot over), 1, 2, ...; 0 for the runs of a lock that
    never had two at once."""
    ends: dict[str, list[float]] = {}
    out = [0] * len(runs)
    for i in sorted(range(len(runs)), key=lambda i: (runs[i][1], i)):
        lock, started, ended = runs[i]
        lane = ends.setdefault(lock, [])
        free = next((k for k, end in enumerate(lane) if end <= started + 0.002), len(lane))
        lane[free:free + 1] = [ended]
        out[i] = free + 1
    return [slot if len(ends[runs[i][0]]) > 1 else 0 for i, slot in enumerate(out)]
