"""The command's whole tree as the supervisor sees it: which processes, how much memory, how many,
and whether a limit is passed (docs/design.md, Processes; docs/design.md, Memory).

Memory is the sum of RSS over the tree while that sum is below every level that matters (50% and 75%
of the limit, then the limit); above one, it is measured again as PSS (/proc/PID/smaps_rollup: pages
shared by several processes divided among them, as the kernel charges them), so forks sharing
copy-on-write pages are not counted once per process. Files the tree writes to /dev/shm (tmpfs) are
charged to no process and are not counted; pages of them the tree maps are (in RSS and PSS).
"""
from __future__ import annotations

import os
import signal
import time

from seq_hooks import envnames
from seq_hooks.errors import Reason
from seq_hooks.process import proctree
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.sizes import MB

if TYPE_CHECKING:
    from collections.abc import Callable

    from seq_hooks.process.rungroup import RunGroup

MIN_SAMPLE = 0.005  # seconds: the shortest gap between two samples
MAX_SAMPLE_GAP = 0.25  # seconds: the longest gap between two samples, whatever check_interval says
MIN_COUNT = 0.001  # seconds: the shortest gap between two counts of the run's cgroup
# tasks a tree may start between two counts at least: 4 per CPU + 32 (a pool's threads)
THREAD_SLACK = (4, 32)
# bytes per second we assume a tree can grow between two samples (docs/design.md, Memory)
FILL_RATE = 2e9
FORK_RATE = 5000.0  # processes per second we assume a tree can start between two samples
LEVELS = (50, 75)  # percent of the memory limit worth a note in the log
# the note's text in the log, before "75% of its limit (...)"
LEVEL_NOTE = "memory: the tree passed "
DAEMON_RECHECK = 1.0  # seconds before a process found not to be a daemon is asked again
# seconds between two scans for the run token (no subreaper only: a full pass over /proc)
TOKEN_SCAN = 0.5


class ProcPeak(NamedTuple):
    pid: int
    command: str
    peak_rss: int  # bytes
    system: tuple[int, int] = (0, 0)  # the system's memory (used, total MB) when this peak was seen


class Verdict(NamedTuple):
    why: str  # memory, procs
    text: str


class Sample(NamedTuple):
    memory: int  # bytes, by `measure`
    procs: int
    measure: str  # "RSS" or "PSS"


def _system_memory() -> tuple[int, int]:
    """The system's (used, total) memory in MB, for the log beside a peak."""
    # imported here: a run that ends before its first sample never pays for it (`run --no-lock --
    # true`: 94.5M instructions against 94.8M with the import at the top; callgrind, .pyc compiled,
    # the lowest 3 of 5 runs)
    from seq_hooks.process import meminfo

    return meminfo.used_total()


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


class TreeWatch:
    """What we know of the tree: per-process peaks, the pids to signal, and when to look again."""

    def __init__(
        self,
        token: str,
        subreaper: bool,
        *,
        memory_limit_mb: int,
        max_procs: int,
        check_interval: float,
        note: Callable[[str], None],
        on_procs: Callable[[list[tuple[int, int]]], None] | None = None,
        on_memory: Callable[[int, Sample], None] | None = None,
        group: RunGroup | None = None,
        root: int | None = None,
    ) -> None:
        self.token = token
        # `seq-hooks watch --pid`: that process and its descendants; None: our children's tree
        self.root = root
        self.subreaper = subreaper
        self.limit = memory_limit_mb * MB
        self.max_procs = max_procs
        self.interval = check_interval
        self.note = note
        self.on_procs = on_procs
        self.on_memory = on_memory
        self.peaks: dict[int, ProcPeak] = {}
        self.peak_total = 0
        self.peak_measure = "RSS"
        # the system's memory (used, total MB) when the tree's peak was seen
        self.peak_system = (0, 0)
        self.warned = 0  # the highest level noted so far
        self.next_sample = time.monotonic() + MIN_SAMPLE
        # counts processes in one read: checked between samples
        self.group = group if max_procs else None
        self.next_count = self.next_sample if self.group is not None else 0.0
        # room for new tasks until the next count: the process limit, or the threads a tool's pools
        # start at once
        self.slack = max(max_procs, THREAD_SLACK[0] * (os.cpu_count() or 1) + THREAD_SLACK[1])
        if self.group is not None:
            self.group.allow((self.group.tasks() or 1) + self.slack)
        self._last_scan = 0.0
        self._scanned: list[int] = []
        self._daemons: dict[int, bool] = {}
        self._asked: dict[int, float] = {}  # when a pid was last asked whether it is a daemon

    def daemon(self, pid: int) -> bool:
        """A resident daemon seq-hooks started (daemons/): not part of any unit's tree. A yes is
        kept; a no is asked again after DAEMON_RECHECK, since a process seen between its fork and
        its exec still shows its parent's environment (a daemon taken for a unit's process kept a
        hook chain waiting for minutes)."""
        now = time.monotonic()
        known = self._daemons.get(pid)
        if known is None or (known is False and now - self._asked.get(pid, 0.0) >= DAEMON_RECHECK):
            known = self._daemons[pid] = proctree.is_daemon(pid)
            self._asked[pid] = now
        return known

    def pids(self) -> list[int]:
        # a process we did not start, and its descendants, never ourselves
        if self.root is not None:
            me = os.getpid()
            return [
                self.root,
                *proctree.descendants(self.root, skip=lambda p: p == me or self.daemon(p)),
            ]
        found = proctree.descendants(os.getpid(), skip=self.daemon)
        if not self.subreaper:
            # no subreaper (macOS, or forced): daemons reparent to init; find them by the run token
            now = time.monotonic()
            if now - self._last_scan > TOKEN_SCAN:
                self._scanned = proctree.pids_with_token(self.token)
                self._last_scan = now
            found.extend(p for p in self._scanned if p not in found)
        if self.group is not None:
            found.extend(p for p in self.group.pids() if p not in found)
        return found

    def signal(self, pgid: int, sig: int, *, group_told: bool = False) -> int:
        """Sends `sig` once to each process of the tree; returns how many processes the tree has.

        The command's process group gets it in one call, first (a fork loop stops at once), unless
        `group_told` (the terminal signalled it: Ctrl-C); then each process outside that group,
        but not those a nested run supervises: its runner forwards the signal, and a second
        delivery would read to it as a second request (SIGKILL now, no grace). SIGKILL goes to
        every process."""
        if not group_told:
            proctree.send_group(pgid, sig)
        pids = self.pids()
        proctree.send(pids if sig == signal.SIGKILL else self._not_told(pgid, pids), sig)
        return len(pids)

    def _not_told(self, pgid: int, pids: list[int]) -> list[int]:
        """The processes of `pids` that the signal to group `pgid` and nested runners miss."""
        infos = {p: proctree.info(p) for p in pids}
        return [p for p, i in infos.items()
                if i is not None and i.pgrp != pgid and not self._nested(p, infos)]

    def _nested(self, pid: int, infos: dict[int, proctree.ProcInfo | None]) -> bool:
        """Whether a nested run supervises `pid`: it, or its parent within the tree, and so on up,
        carries another run's token (a nested runner gives its command a token of its own)."""
        for _ in range(len(infos)):
            i = infos.get(pid)
            if i is None:  # above the tree (us), or gone
                return False
            token = proctree.process(pid).env(envnames.RUN)
            if token and token != self.token:
                return True
            pid = i.ppid
        return False

    def count(self, now: float) -> Verdict | None:
        """The quick check between samples: the run's cgroup says how many processes the tree
        has."""
        if self.group is None:
            return None
        n = len(self.group.pids())
        tasks = self.group.tasks()
        if tasks is not None:
            self.group.allow(tasks + self.slack)  # the backstop moves with the tree (see rungroup)
        self.next_count = now + max(MIN_COUNT, (self.max_procs - n) / FORK_RATE)
        return self._procs_verdict(n)

    def _procs_verdict(self, n: int) -> Verdict | None:
        if self.max_procs and n > self.max_procs:
            return Verdict(
                Reason.PROCS,
                f"process limit {self.max_procs} exceeded ({n} processes): "
                "killed the command and all it started",
            )
        return None

    def _next_level(self) -> int:
        """Bytes above which the sum of RSS is worth measuring again as PSS."""
        pending = [lv for lv in LEVELS if lv > self.warned]
        return self.limit * pending[0] // 100 if pending else self.limit

    def _measure(self) -> Sample:
        live: list[tuple[int, int]] = []
        total = 0
        new: list[tuple[int, int]] = []
        system: tuple[int, int] | None = None  # read once per sample, when a peak moves
        for pid in self.pids():
            i = proctree.info(pid)
            if i is None or i.state == "Z":
                continue
            live.append((pid, i.rss))
            total += i.rss
            known = self.peaks.get(pid)
            if known is None or i.rss > known.peak_rss:
                system = system or _system_memory()
                if known is None:
                    self.peaks[pid] = ProcPeak(pid, proctree.cmdline(pid) or i.name, i.rss, system)
                    new.append((pid, i.start))
                else:
                    self.peaks[pid] = known._replace(peak_rss=i.rss, system=system)
        if new and self.on_procs is not None:
            self.on_procs(new)
        if self.limit and total > self._next_level() and proctree.pss(os.getpid()):
            # a process whose PSS cannot be read (another user's) counts with its RSS
            return Sample(sum(_or(proctree.pss(pid), rss) for pid, rss in live), len(live), "PSS")
        return Sample(total, len(live), "RSS")

    def sample(self, now: float) -> Verdict | None:
        """Looks at the tree now; a verdict when a limit is passed. Sets `next_sample`: sooner the
        nearer a limit is (at FILL_RATE and FORK_RATE, the tree cannot pass it before we look
        again)."""
        s = self._measure()
        if s.memory >= self.peak_total:
            if s.memory > self.peak_total or not self.peak_system[1]:
                self.peak_system = _system_memory()
            self.peak_total, self.peak_measure = s.memory, s.measure
        gap = self.interval
        if self.limit:
            gap = min(gap, (self.limit - s.memory) / FILL_RATE)
            self._levels(s)
        if self.max_procs:
            gap = min(gap, (self.max_procs - s.procs) / FORK_RATE)
        self.next_sample = now + max(MIN_SAMPLE, gap)
        if self.limit and s.memory > self.limit:
            return Verdict(
                Reason.MEMORY,
                f"memory limit {self.limit // MB} MB exceeded (the tree held "
                f"{s.memory / MB:.0f} MB {s.measure}): killed the command and all it "
                "started",
            )
        return self._procs_verdict(s.procs)

    def _levels(self, s: Sample) -> None:
        for level in LEVELS:
            if level > self.warned and s.memory * 100 > self.limit * level:
                self.warned = level
                self.note(f"{LEVEL_NOTE}{level}% of its limit ({s.memory / MB:.0f} MB of "
                          f"{self.limit // MB} MB, {s.measure}, {s.procs} processes)")
                if self.on_memory is not None:
                    self.on_memory(level, s)

    def summary(self) -> str | None:
        """For the log, under a memory limit: the peak and how it was measured."""
        if not self.limit:
            return None
        how = ("PSS: /proc/PID/smaps_rollup, pages shared by several processes divided among them"
               if self.peak_measure == "PSS" else "RSS: resident pages of each process, summed")
        return (
            f"memory: the tree's peak was {self.peak_total / MB:.0f} MB of its {self.limit // MB} "
            "MB "
            f"limit ({how}; PSS is measured once the RSS sum passes 50% of the limit)"
        )

    def peaks_sorted(self) -> tuple[ProcPeak, ...]:
        return tuple(sorted(self.peaks.values()))
