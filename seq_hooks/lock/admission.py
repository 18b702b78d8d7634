"""Admission to a lock with slots or a memory budget: several holders at once, still in strict arrival order.

The queue is the ticket queue of tickets.py and keeps its order (docs/design.md, "Capacity"); the rule is
`capacity.admit`. What changes when a lock may have more than one holder:
- Each waiter also holds a flock on its gate, `.gate-<token>`, from before its ticket exists until it is admitted
  (its ticket is marked granted first). The waiter behind it blocks in the kernel on that flock, so only the oldest
  waiter -- the head -- looks at the holders, and nobody overtakes.
- The head checks the rule against the holders' tickets (each records its expected peak) and the machine. While
  it may not start, it sleeps in select() on the queue's `.release` FIFO, which every releaser writes a byte to,
  and on a pidfd of each holder: the kernel's word when one dies. A dead holder's leftovers are ended (takeover)
  before its slot counts as free. A head waiting for the machine's memory re-checks every MACHINE_RECHECK
  seconds (memory freed by other programs sends no event), one waiting for a free CPU every CPU_RECHECK (a
  process that stops computing sends none either).
"""
from __future__ import annotations

import errno
import fcntl
import os
import select
import stat
from collections.abc import Callable

from seq_hooks.errors import FatalError
from seq_hooks.lock import capacity, takeover, tickets
from seq_hooks.lock.capacity import Capacity, Verdict
from seq_hooks.lock.tickets import TicketInfo
from seq_hooks.process import machine, proctree
from seq_hooks.sizes import MB

GATE_PREFIX = ".gate-"
RELEASE = ".release"
MACHINE_RECHECK = 0.25  # seconds between two looks at the machine's memory while that is what we wait for
CPU_RECHECK = 0.05  # seconds between two looks at the holders' running processes while a free CPU is awaited
PORTABLE_RECHECK = 0.05  # without pidfds (not Linux) a holder's death is noticed within this
_OPEN = os.O_NOFOLLOW | os.O_CLOEXEC


def gate_path(qdir: str, token: str) -> str:
    return os.path.join(qdir, f"{GATE_PREFIX}{token}")


def open_gate(qdir: str, token: str) -> int:
    """Our gate, flocked: made before our ticket, so a ticket whose gate is missing has been admitted."""
    fd = os.open(gate_path(qdir, token), os.O_RDWR | os.O_CREAT | os.O_EXCL | _OPEN, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def close_gate(qdir: str, token: str, fd: int) -> None:
    """Lets the waiter behind us go on: it becomes the head (after our ticket is marked granted or removed)."""
    tickets.remove(gate_path(qdir, token))
    os.close(fd)


def stale_gates(qdir: str) -> list[str]:
    """Gates nobody holds the flock of: left by waiters that died (the next waiter or `clean` removes them)."""
    try:
        names = sorted(n for n in os.listdir(qdir) if n.startswith(GATE_PREFIX))
    except OSError:
        return []
    return [p for p in (os.path.join(qdir, n) for n in names) if tickets.is_free(p)]


def notify(qdir: str) -> None:
    """Tells the head of the queue that a slot was released (nothing happens when nobody waits)."""
    try:
        fd = os.open(os.path.join(qdir, RELEASE), os.O_WRONLY | os.O_NONBLOCK | _OPEN)
    except OSError:  # ENXIO: no head listens; ENOENT: nobody ever waited here
        return
    try:
        os.write(fd, b".")
    except OSError:  # EAGAIN: the pipe is full, so the head has been told already
        pass
    finally:
        os.close(fd)


def _listen(qdir: str) -> int:
    path = os.path.join(qdir, RELEASE)
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _OPEN)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise FatalError(f"{path} is not a FIFO: remove it (seq-hooks clean)")
    return fd


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def holders_now(holders: list[TicketInfo]) -> tuple[list[tuple[int, float]], int]:
    """(expected peak MB, tree memory now MB) of each holder (its runner's descendants), and how many of those
    processes are running or ready to run (state R). A holder whose command has not started yet counts as one
    running: it is about to (else every unit admitted in the same instant would find the CPUs free)."""
    out, running = [], 0
    for t in holders:
        tree = proctree.tree(t.pid)
        running += tree.running + (tree.procs == 0)
        out.append((t.expected_mb, tree.rss / MB))
    return out, running


def verdict(cap: Capacity, mine_mb: int, holders: list[TicketInfo]) -> Verdict:
    """The admission rule applied to the holders' tickets and the machine now."""
    if len(holders) >= cap.slots or not holders:
        return capacity.admit(cap, mine_mb, [(t.expected_mb, 0.0) for t in holders], None)
    now, running = holders_now(holders)
    return capacity.admit(cap, mine_mb, now, machine.memory_available_mb(), running)


class _Head:
    """The head's ears: the release FIFO and a pidfd per holder, opened once and kept while we are the head."""

    def __init__(self, qdir: str) -> None:
        self.listen = _listen(qdir)
        self.pidfds: dict[int, int | None] = {}
        self.exited: set[int] = set()

    def sleep(self, holders: list[TicketInfo], seconds: float | None) -> None:
        """Until a release, a holder's death, or `seconds` (None: no limit)."""
        for t in holders:
            if t.pid not in self.pidfds and t.pid not in self.exited:
                self.pidfds[t.pid] = _pidfd(t.pid)
                if tickets.is_free(t.path):  # it died before its pidfd was open (its pid may be reused)
                    return
        if any(fd is None for fd in self.pidfds.values()):
            seconds = PORTABLE_RECHECK if seconds is None else min(seconds, PORTABLE_RECHECK)
        fds = [self.listen, *(fd for fd in self.pidfds.values() if fd is not None)]
        try:
            ready, _, _ = select.select(fds, [], [], seconds)
        except OSError as e:  # pragma: no cover - EINTR is retried by Python; anything else is ours
            raise FatalError(f"waiting for a slot: {os.strerror(e.errno or errno.EIO)}") from None
        for pid, fd in list(self.pidfds.items()):
            if fd is not None and fd in ready:  # that holder has exited: its ticket says what is left
                os.close(fd)
                del self.pidfds[pid]
                self.exited.add(pid)
        _drain(self.listen)

    def close(self) -> None:
        for fd in self.pidfds.values():
            if fd is not None:
                os.close(fd)
        os.close(self.listen)


def _wait_behind(ahead: TicketInfo, qdir: str, block: Callable[[int], bool]) -> None:
    """Blocks until the waiter ahead of us is admitted or gone (its gate's flock is ours, or its gate is gone)."""
    try:
        fd = os.open(gate_path(qdir, ahead.token), os.O_RDONLY | _OPEN)
    except FileNotFoundError:
        now = tickets.read(ahead.path)
        if now is not None and now.alive and now.granted is None:
            _wait_for_ticket(ahead.path, block)  # a waiter without a gate (the plain lock's): wait until it is gone
        return
    try:
        while not block(fd):
            pass
        tickets.remove(gate_path(qdir, ahead.token))  # left by a dead waiter; an admitted one removed it already
    finally:
        os.close(fd)


def _wait_for_ticket(path: str, block: Callable[[int], bool]) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN)
    except FileNotFoundError:
        return
    try:
        while not block(fd):
            pass
    finally:
        os.close(fd)


def wait_turn(qdir: str, me: tuple[int, str], cap: Capacity, mine_mb: int, grace: float,
              block: Callable[[int], bool], tick: Callable[[], float | None]) -> None:
    """Returns when the rule admits us: no live waiter ahead, and the holders ahead leave room.

    `me`: our ticket's (number, path). `block(fd)` flocks fd until the waiting chores are due (True when
    granted); `tick()` does those chores (max-wait, cycles, notes) and says when they are due again."""
    head: _Head | None = None
    passed: set[str] = set()  # dead tickets that cannot be removed: never waited on again (no spinning)
    try:
        while True:
            ahead = [t for t in tickets.read_queue(qdir) if (t.number, t.path) < me and t.path not in passed]
            dead = [t for t in ahead if not t.alive]
            for t in dead:
                # a dead holder's slot is free once its leftovers are gone
                if not takeover.take_over(t.path, grace):
                    passed.add(t.path)
                tickets.remove(gate_path(qdir, t.token))
            waiter = next((t for t in reversed(ahead) if t.granted is None), None)
            if dead:
                continue
            if waiter is not None:
                _wait_behind(waiter, qdir, block)
                continue
            if head is None:  # listen first, then look: a release after this wakes us
                head = _Head(qdir)
                continue
            v = verdict(cap, mine_mb, ahead)
            if v.admit:
                return
            due = tick()
            recheck = {"machine memory": MACHINE_RECHECK, "CPUs busy": CPU_RECHECK}.get(v.why)
            if recheck is not None:
                due = recheck if due is None else min(due, recheck)
            head.sleep(ahead, due)
    finally:
        if head is not None:
            head.close()
