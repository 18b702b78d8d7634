"""Admission to a lock with slots or a memory budget: several holders at once, still in strict
arrival order.

The queue is the ticket queue of tickets.py and keeps its order (docs/design.md, "Capacity"); the
rule is `capacity.admit`. A unit that finds its queue empty does not come here: the rule admits a
unit alone whatever its size, so it makes its ticket granted at once, under the `.seq` flock every
ticket is made under (tickets.make_granted_if_alone; its ticket says its terms and expected peak to
whoever comes next). A unit that finds a ticket there is a waiter, and goes through two phases:
- Behind the waiters ahead (`_reach_the_head`). Each waiter also holds a flock on its gate,
  `.gate-<token>`, from before its ticket exists until it is admitted (its ticket is marked granted
  first). The waiter behind it blocks in the kernel on that flock, so only the oldest waiter -- the
  head -- looks at the holders, and nobody overtakes.
- At the head (`_wait_for_room`). It checks the rule against the holders' tickets (each records its
  expected peak) and the machine; a head the rule admits at once is done, without listening.
  Otherwise it sleeps in select() on the queue's release FIFO, which every releaser writes a byte to
  (wakeup.py), and on a pidfd of each holder: the kernel's word when one dies. A dead holder's
  leftovers are ended (takeover) before its slot counts as free. No wake-up depends on one path
  alone: the head looks again at least every RELEASE_RECHECK seconds; one waiting for the machine's
  memory every MACHINE_RECHECK (memory freed by other programs sends no event), one waiting for a
  free CPU every CPU_RECHECK (a process that stops computing sends none either). Its own expected
  peak is not fixed on arrival: each time it looks it reads the journal again if the journal grew
  (capacity.Guess), and a changed peak is written into its ticket (the waiters behind it and
  `status` read it there). A releaser on such a lock journals its run before it lets go, so the head
  its release wakes sees the peak just learned.
"""
from __future__ import annotations

import errno
import fcntl
import os
import select

from seq_hooks.errors import FatalError
from seq_hooks.lock import capacity, takeover, tickets, wakeup
from seq_hooks.lock.capacity import Capacity, Guess, Verdict
from seq_hooks.lock.tickets import TicketInfo
from seq_hooks.process import machine, proctree
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.sizes import MB

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Waiting(Protocol):
        """What a waiter does between looks (queue._Waiting): its chores, and blocking on a flock
        meanwhile."""

        def tick(self) -> float | None:
            """Does the chores due now; returns the seconds until the next one is (None: no chore
            ever is)."""

        def flock(self, fd: int) -> None:
            """Blocks until the flock of `fd` is ours, doing the chores as they fall due."""

# seconds: the head looks again at least this often, whatever woke it or not (wakeup.py)
RELEASE_RECHECK = 1.0
# seconds between two looks at the machine's memory while that is what we wait for
MACHINE_RECHECK = 0.25
# seconds between two looks at the holders' running processes while a free CPU is awaited
CPU_RECHECK = 0.05
PORTABLE_RECHECK = 0.05  # without pidfds (not Linux) a holder's death is noticed within this
# what no event announces (memory freed, a CPU that went idle) is looked at again this often
_RECHECK = {capacity.MACHINE_MEMORY: MACHINE_RECHECK, capacity.CPUS_BUSY: CPU_RECHECK}
_OPEN = os.O_NOFOLLOW | os.O_CLOEXEC


def gate_path(qdir: str, token: str) -> str:
    return os.path.join(qdir, f"{tickets.GATE_PREFIX}{token}")


def open_gate(qdir: str, token: str) -> int:
    """Our gate, flocked: made before our ticket, so a ticket whose gate is missing has been
    admitted."""
    fd = os.open(gate_path(qdir, token), os.O_RDWR | os.O_CREAT | os.O_EXCL | _OPEN, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def close_gate(qdir: str, token: str, fd: int) -> None:
    """Lets the waiter behind us go on: it becomes the head (after our ticket is marked granted or
    removed)."""
    tickets.remove(gate_path(qdir, token))
    os.close(fd)


def stale_gates(qdir: str) -> list[str]:
    """Gates nobody holds the flock of: left by waiters that died (the next waiter or `clean`
    removes them)."""
    try:
        names = sorted(n for n in os.listdir(qdir) if n.startswith(tickets.GATE_PREFIX))
    except OSError:
        return []
    return [p for p in (os.path.join(qdir, n) for n in names) if tickets.is_free(p)]


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def holders_now(holders: list[TicketInfo]) -> tuple[list[tuple[int, float]], int]:
    """(expected peak MB, tree memory now MB) of each holder (its runner's descendants), and how
    many of those processes are running or ready to run (state R). A holder whose command has not
    started yet counts as one running: it is about to (else every unit admitted in the same instant
    would find the CPUs free); one whose tree has ended (its output waits for a reader) does not."""
    out, running = [], 0
    for t in holders:
        tree = proctree.tree(t.pid)
        running += tree.running + (tree.procs == 0 and not tickets.started(t.path))
        out.append((t.expected_mb, tree.rss / MB))
    return out, running


def verdict(cap: Capacity, mine_mb: int, holders: list[TicketInfo]) -> Verdict:
    """The admission rule applied to the holders' tickets and the machine now, under the strictest
    terms any holder was admitted with (a plain lock's holder runs alone)."""
    cap = capacity.strictest(cap, [(t.slots, t.budget_mb) for t in holders])
    if len(holders) >= cap.slots or not holders:
        return capacity.admit(cap, mine_mb, [(t.expected_mb, 0.0) for t in holders], None)
    now, running = holders_now(holders)
    return capacity.admit(cap, mine_mb, now, machine.memory_available_mb(), running)


class _Ahead:
    """The tickets ahead of ours, read afresh at each look. A dead one is taken over first: its
    leftovers are ended (so a dead holder's slot is free only once its processes are gone) and its
    gate removed; one that cannot be removed is passed over for good (never waited on again: no
    spinning)."""

    def __init__(self, qdir: str, me: tuple[int, str], grace: float) -> None:
        self.qdir, self.me, self.grace = qdir, me, grace
        self.passed: set[str] = set()

    def live(self) -> list[TicketInfo]:
        ahead = self._read()
        while dead := [t for t in ahead if not t.alive]:
            for t in dead:
                if not takeover.take_over(t.path, self.grace):
                    self.passed.add(t.path)
                if t.token:
                    tickets.remove(gate_path(self.qdir, t.token))
            ahead = self._read()
        return ahead

    def _read(self) -> list[TicketInfo]:
        return [
            t
            for t in tickets.read_queue(self.qdir)
            if (t.number, t.path) < self.me and t.path not in self.passed
        ]


class _Head:
    """The head's ears: the release FIFO and a pidfd per holder, opened once and kept while we are
    the head."""

    def __init__(self, qdir: str) -> None:
        self.listen = wakeup.Listener(qdir)
        self.pidfds: dict[int, int | None] = {}
        self.exited: set[int] = set()

    def __enter__(self) -> _Head:
        return self

    def __exit__(self, *_exc: object) -> None:
        for fd in self.pidfds.values():
            if fd is not None:
                os.close(fd)
        self.listen.close()

    def watch(self, holders: list[TicketInfo]) -> bool:
        """Opens a pidfd on each holder not watched yet; False when one died before its pidfd was
        open (its pid may be reused): then look again at once."""
        for t in holders:
            if t.pid not in self.pidfds and t.pid not in self.exited:
                self.pidfds[t.pid] = _pidfd(t.pid)
                if tickets.is_free(t.path):
                    return False
        return True

    def look_again(self, why: str) -> float:
        """The seconds after which the head looks again though nothing woke it: RELEASE_RECHECK,
        sooner for what no event announces (the machine's memory, a free CPU; a holder's death
        without pidfds)."""
        seconds = _RECHECK.get(why, RELEASE_RECHECK)
        if any(fd is None for fd in self.pidfds.values()):
            seconds = min(seconds, PORTABLE_RECHECK)
        return seconds

    def sleep(self, seconds: float) -> None:
        """Until a release, a holder's death, or `seconds`."""
        fds = [fd for fd in (self.listen.fd, *self.pidfds.values()) if fd is not None]
        try:
            ready, _, _ = select.select(fds, [], [], seconds)
        except OSError as e:  # pragma: no cover - EINTR is retried by Python; anything else is ours
            raise FatalError(f"waiting for a slot: {os.strerror(e.errno or errno.EIO)}") from None
        for pid, fd in list(self.pidfds.items()):
            # that holder has exited: its ticket says what is left
            if fd is not None and fd in ready:
                os.close(fd)
                del self.pidfds[pid]
                self.exited.add(pid)
        self.listen.drain()
        self.listen.check()  # the FIFO removed or replaced meanwhile: listen on a new one


def _sooner(a: float | None, b: float) -> float:
    """The earlier of two delays, where None is never."""
    return b if a is None else min(a, b)


def _wait_behind(ahead: TicketInfo, qdir: str, wait: Waiting) -> None:
    """Blocks until the waiter ahead of us is admitted or gone (its gate's flock is ours, or its
    gate is gone)."""
    try:
        fd = os.open(gate_path(qdir, ahead.token), os.O_RDONLY | _OPEN)
    except FileNotFoundError:
        now = tickets.read(ahead.path)
        if now is not None and now.alive and now.granted is None:
            # a waiter without a gate (the plain lock's): wait until it is gone
            _wait_for_ticket(ahead.path, wait)
        return
    try:
        wait.flock(fd)
        # left by a dead waiter; an admitted one removed it already
        tickets.remove(gate_path(qdir, ahead.token))
    finally:
        os.close(fd)


def _wait_for_ticket(path: str, wait: Waiting) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN)
    except FileNotFoundError:
        return
    try:
        wait.flock(fd)
    finally:
        os.close(fd)


def _reach_the_head(ahead: _Ahead, wait: Waiting) -> None:
    """Returns once no live waiter is ahead of us (each was admitted or has gone): we are the
    head."""
    while (
        waiter := next((t for t in reversed(ahead.live()) if t.granted is None), None)
    ) is not None:
        _wait_behind(waiter, ahead.qdir, wait)


class Mine(NamedTuple):
    """The head's own expected peak, and how its ticket is rewritten when that changes (queue.py
    owns the file)."""

    guess: Guess
    publish: Callable[[dict[str, object]], None]


def _look(ahead: _Ahead, cap: Capacity, mine: Mine) -> tuple[Verdict, list[TicketInfo]]:
    """The rule applied now, with our expected peak as the journal has it now, and the holders it
    was applied to (every live ticket ahead of the head)."""
    # the journal grew while we waited: what it learned beats the guess on arrival
    if mine.guess.revise():
        mine.publish(tickets.expected_fields(mine.guess.now))
    holders = ahead.live()
    return verdict(cap, mine.guess.now.mb, holders), holders


def _wait_for_room(ahead: _Ahead, cap: Capacity, mine: Mine, wait: Waiting) -> None:
    """As the head: sleeps until a release, a holder's death, a chore or a clock says to look again,
    and looks, until the rule admits us."""
    with _Head(ahead.qdir) as head:  # listen first, then look: a release after this wakes us
        now, holders = _look(ahead, cap, mine)
        while not now.admit:
            seconds = _sooner(wait.tick(), head.look_again(now.why))
            if head.watch(holders):  # else one died before it was watched: look again at once
                head.sleep(seconds)
            now, holders = _look(ahead, cap, mine)


def wait_turn(
    qdir: str, me: tuple[int, str], cap: Capacity, mine: Mine, grace: float, wait: Waiting
) -> None:
    """Returns when the rule admits us: no live waiter ahead, and the holders ahead leave room.

    `me`: our ticket's (number, path); `mine`: our expected peak, revised from the journal as we
    look; `wait`: the waiter's chores (max-wait, cycles, notes), done as they fall due while we
    wait."""
    ahead = _Ahead(qdir, me, grace)
    _reach_the_head(ahead, wait)
    if not _look(ahead, cap, mine)[0].admit:  # room at once needs no ears (nor a FIFO)
        _wait_for_room(ahead, cap, mine, wait)
