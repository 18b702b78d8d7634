"""The project lock: a strict FIFO ticket queue on flock that survives crashes
(docs/design.md, "Locks").

Each caller takes the next number and makes its ticket already flocked (tickets.py owns the files),
then blocks in the kernel on the flock of the ticket ahead of it. When that flock is granted its
owner has released or died: a ticket left behind belongs to a dead process and is taken over
(takeover.py). When no ticket is left ahead, the lock is ours. Waiting can end early: `--max-wait`,
a lock cycle (cycles.py), SIGTERM/SIGHUP/SIGINT; our ticket is gone by then and the others keep
their order. Nested calls queue under their holder (markers.py).
"""
from __future__ import annotations

import fcntl
import os
import signal
import time

from seq_hooks.errors import MAX_WAIT, FatalError, signalled
from seq_hooks.lock import tickets
from seq_hooks.lock.markers import Marker
from seq_hooks.lock.tickets import TicketInfo
from seq_hooks.process import proctree
from seq_hooks.project import ensure_private_dir
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable
    from signal import _HANDLER

    from seq_hooks.lock.capacity import Capacity, Guess

# seconds: the first "waiting for lock" note, then one per interval
NOTE_FIRST, NOTE_EVERY = 0.5, 30.0


class WaitInfo(NamedTuple):
    lock_id: str
    position: int  # 1 = next
    holder: TicketInfo | None
    waited: float
    # pids ahead of us that are stopped (Ctrl-Z, SIGSTOP): the queue waits for them
    stopped: tuple[int, ...] = ()


class Held:
    """A granted ticket: the lock is ours until `release` (or until this process dies)."""

    def __init__(self, state_dir: str, lock_id: str, qdir: str, number: int, fd: int, token: str,
                 enqueued: float) -> None:
        self.state_dir = state_dir
        self.lock_id = lock_id
        self.qdir = qdir
        self.number = number
        self.fd = fd
        self.token = token
        self.enqueued = enqueued
        self.granted = time.time()
        self.expected_mb = 0  # the expected peak it was admitted with (slots or a budget)
        # one of several holders (admission.py): a head may wait for what its run learned
        self.slotted = False
        self.released = 0.0  # when `release` let the lock go (epoch seconds)
        self.procs = tickets.ProcRecord(tickets.path(qdir, number))
        self.procs.open()

    def record(self, procs: list[tuple[int, int]]) -> None:
        """Records processes of our run (pid, start time) for whoever takes over if we die holding
        the lock."""
        self.procs.add(procs)

    def note_memory(self, level: int, limit_mb: int) -> None:
        """Appends to our ticket that the unit's tree passed `level` % of its memory limit; never
        raises."""
        if self.fd >= 0:
            try:
                os.write(self.fd, tickets.encode_memory(level, limit_mb))
            except OSError:
                pass

    def note_deadline(self, deadline: float | None, pipeline: float | None) -> None:
        """Appends to our ticket when the unit is killed and the pipeline deadline it runs within;
        never raises."""
        if self.fd >= 0:
            try:
                os.write(self.fd, tickets.encode_deadline(deadline, pipeline))
            except OSError:
                pass

    def marker(self) -> Marker:
        return Marker(self.lock_id, os.getpid(), self.token)

    def release(self) -> None:
        if self.fd < 0:
            return
        if os.path.isdir(tickets.nested_dir(self.qdir, self.token)):
            # our tree has ended: a ticket left there is a dead one's
            tickets.clear_nested(self.qdir, self.token)
        self.procs.close()
        # taken before the lock goes: nobody can have been granted it earlier
        self.released = time.time()
        tickets.remove(tickets.path(self.qdir, self.number))
        os.close(self.fd)  # the successor's flock is granted now
        self.fd = -1
        # A head of a lock with slots may wait behind us, even with the plain lock held. It holds a
        # gate while it waits: where none is, nobody listens (and wakeup is not imported, 0.7M
        # instructions). A head whose gate came after this look made its ticket after ours was gone;
        # one whose gate was removed under it (an `rm`) still looks again on its clock.
        if tickets.gate_tokens(self.qdir):
            from seq_hooks.lock import wakeup  # only where a head may listen

            wakeup.notify(self.qdir)


def halted(t: TicketInfo) -> bool:
    """Its owner is stopped, or (a holder) every process of its command is: the queue waits for a
    SIGCONT."""
    if proctree.stopped(t.pid):
        return True
    tree = proctree.tree(t.pid) if t.granted is not None else None
    return tree is not None and tree.procs > 0 and tree.stopped == tree.procs


def describe(t: TicketInfo | None) -> str:
    """A ticket's owner for a message: pid, command line (cut, control characters replaced), time
    held."""
    if t is None:
        return "nobody"
    from seq_hooks import display  # display imports shlex: only to describe a holder

    since = t.granted or t.since
    return (
        f"pid {t.pid} ({display.fit(display.command(t.argv), 80)}), running "
        f"{time.time() - since:.0f}s"
    )


class _Wake(Exception):
    """Raised from SIGALRM to interrupt a blocking flock for periodic work."""


class _Interruptible:
    """While waiting: SIGALRM interrupts a blocking flock; SIGTERM/SIGHUP leave the queue with exit
    128+N. Entering says whether the alarm works (not in the main thread it does not: then flock is
    tried in short steps); leaving puts the previous handlers back. (A class, not contextlib: that
    import costs a plain run ~2.7M instructions.)"""

    def __init__(self, lock_id: str) -> None:
        self.lock_id = lock_id
        self.handlers: dict[int, _HANDLER] = {}

    def __enter__(self) -> bool:
        try:
            self.handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, _on_alarm)
            for s in (signal.SIGTERM, signal.SIGHUP):
                self.handlers[s] = signal.signal(s, self._on_stop)
        except ValueError:  # not the main thread
            pass
        except BaseException:
            self.__exit__()
            raise
        return signal.SIGALRM in self.handlers

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self.handlers.items():
            signal.signal(signum, handler)

    def _on_stop(self, signum: int, _f: object) -> None:
        name = signal.Signals(signum).name
        raise FatalError(
            f"received {name} while waiting for lock {self.lock_id!r}: left the queue",
            signalled(signum),
        )


def _on_alarm(_s: int, _f: object) -> None:
    raise _Wake


def _block(fd: int, seconds: float | None, can_alarm: bool) -> bool:
    """flock(fd, LOCK_EX), given up after `seconds` (None: no limit); True when the lock is ours."""
    if not can_alarm:
        return tickets.take_within(fd, NOTE_FIRST if seconds is None else seconds)
    if seconds is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    try:
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Wake:
        pass
    try:  # the alarm may have fired just after the lock was granted
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class _Caller(NamedTuple):
    """Who joins a queue, and how long and how loudly it may wait (what `acquire` was given)."""

    state_dir: str
    lock_id: str
    qdir: str
    token: str
    # the tokens of the locks it holds already (a nested call): it checks for cycles
    holds: list[str]
    max_wait: float | None
    on_wait: Callable[[WaitInfo], None] | None


class _Chore:
    """Something a waiter does while it waits: first at `at` (monotonic seconds), then every `every`
    seconds."""

    __slots__ = ("at", "do", "every")

    def __init__(self, at: float, every: float, do: Callable[[float], None]) -> None:
        self.at, self.every, self.do = at, every, do


class _Waiting:
    """What a waiter does while it waits, each chore on its own clock: it gives up at `max_wait`,
    checks for lock cycles (a nested call: it holds a lock already), and notes that it waits. `tick`
    does the chores that are due and says when the next one is: the one rule of what is due when.
    `flock` blocks between chores."""

    def __init__(self, caller: _Caller, me: tuple[int, str, float], can_alarm: bool) -> None:
        self.caller = caller
        self.number, self.ticket, since = me
        self.can_alarm = can_alarm
        self.start = time.monotonic()
        self.chores: list[_Chore] = []
        if caller.max_wait is not None:
            self.chores.append(_Chore(self.start + caller.max_wait, caller.max_wait, self._give_up))
        if caller.holds:
            # only a nested call can close a cycle: a plain run skips the import (1.0M instructions,
            # 1%)
            from seq_hooks.lock import cycles

            watch = cycles.Watch(
                caller.state_dir,
                caller.qdir,
                caller.lock_id,
                caller.holds,
                (since, caller.token),
                describe,
            )
            self.chores.append(_Chore(self.start, cycles.EVERY, watch.check))
        if caller.on_wait is not None:
            self.chores.append(_Chore(self.start + NOTE_FIRST, NOTE_EVERY, self._note))

    def tick(self) -> float | None:
        """Does the chores that are due; returns the seconds until the next one is (None: no chore
        ever is)."""
        for chore in self.chores:
            now = time.monotonic()
            if chore.at <= now:
                chore.do(now)
                chore.at = now + chore.every
        if not self.chores:
            return None
        return max(min(c.at for c in self.chores) - time.monotonic(), 0.0)

    def flock(self, fd: int) -> None:
        """Blocks until the flock of `fd` is ours, doing each chore as it falls due."""
        while not _block(fd, self.tick(), self.can_alarm):
            pass

    def _live_queue(self) -> list[TicketInfo]:
        return [t for t in tickets.read_queue(self.caller.qdir) if t.alive]

    def _give_up(self, _now: float) -> None:
        queue = self._live_queue()
        raise FatalError(
            f"gave up after waiting {self.caller.max_wait:g}s for lock {self.caller.lock_id!r}: "
            "held "
            f"by {describe(queue[0] if queue else None)}",
            MAX_WAIT,
        )

    def _note(self, now: float) -> None:
        if self.caller.on_wait is None:
            return
        queue = self._live_queue()
        ahead = [t for t in queue if (t.number, t.path) < (self.number, self.ticket)]
        held_up = tuple(t.pid for t in ahead if halted(t))
        self.caller.on_wait(WaitInfo(self.caller.lock_id, len(ahead), queue[0] if ahead else None,
                                     now - self.start, held_up))


def _ahead(qdir: str, me: tuple[int, str], passed: set[str]) -> str | None:
    """The ticket right before ours (but those `passed` over), or None when ours is first."""
    before = [p for n, p in tickets.listing(qdir) if (n, p) < me and p not in passed]
    return before[-1] if before else None


def _wait_for(ticket: str, waiting: _Waiting, grace: float) -> bool:
    """Blocks until the flock of `ticket` is ours (its owner released or died), taking over a dead
    owner's.

    False when its owner is dead but the file cannot be removed: we pass over it (never wait on it
    again)."""
    try:
        fd = os.open(ticket, tickets.OPEN_FLAGS)
    except FileNotFoundError:
        return True  # released meanwhile
    # a symlink or a file we may not open in a ticket's place: nobody's flock, nobody's turn
    except OSError:
        return tickets.remove(ticket)
    try:
        waiting.flock(fd)
        if os.fstat(fd).st_nlink == 0:
            # released (a live owner removes its ticket before it lets the flock go), or rewritten
            return True
        # only when an owner died: a handoff skips the import (2.8M instructions with rungroup,
        # 2.7%)
        from seq_hooks.lock import takeover

        return takeover.take_over(ticket, grace)  # a file still there belongs to a dead process
    finally:
        os.close(fd)


def _wait_in_line(qdir: str, me: tuple[int, str], grace: float, waiting: _Waiting) -> None:
    """The plain lock: waits for each ticket ahead of ours in turn, the nearest first, until none is
    left."""
    # dead tickets that cannot be removed: never waited on again (no spinning)
    passed: set[str] = set()
    while (ahead := _ahead(qdir, me, passed)) is not None:
        if not _wait_for(ahead, waiting, grace):
            passed.add(ahead)


class _Ticket:
    """Our ticket in the queue: its number and path, when we joined, and the fd that holds its flock
    (a rewrite, with a revised expected peak, replaces the file and so the fd)."""

    def __init__(self, qdir: str, made: tuple[int, int, float]) -> None:
        self.number, self.fd, self.since = made
        self.path = tickets.path(qdir, self.number)

    def rewrite(self, fields: dict[str, object]) -> None:
        self.fd = tickets.rewrite(self.path, self.fd, fields)


def _take(
    caller: _Caller, ticket: _Ticket, turn: Callable[[tuple[int, str], _Waiting], None]
) -> Held:
    """With our ticket made (flocked, in the queue), waits as `turn` says until it is our turn, and
    marks the ticket granted. Any other way out (max-wait, a cycle, a signal) removes our ticket:
    the others keep their order."""
    me = (ticket.number, ticket.path)
    try:
        with _Interruptible(caller.lock_id) as can_alarm:
            turn(me, _Waiting(caller, (*me, ticket.since), can_alarm))
        tickets.mark_granted(ticket.fd)
    except BaseException:
        tickets.remove(ticket.path)
        os.close(ticket.fd)
        raise
    return Held(
        caller.state_dir,
        caller.lock_id,
        caller.qdir,
        ticket.number,
        ticket.fd,
        caller.token,
        ticket.since,
    )


def acquire(
    state_dir: str,
    lock_id: str,
    *,
    token: str,
    argv: list[str],
    cwd: str,
    holds: list[str],
    max_wait: float | None = None,
    on_wait: Callable[[WaitInfo], None] | None = None,
    takeover_grace: float = 5.0,
    cap: Capacity | None = None,
    guess: Guess | None = None,
) -> Held:
    """Joins the queue `lock_id` and returns when the lock is ours.

    Raises FatalError(75) when `max_wait` expires or when waiting would close a cycle with another
    lock's holder, and FatalError(128+N) (or KeyboardInterrupt) when SIGTERM/SIGHUP (SIGINT) arrives
    while waiting; our ticket is gone by then and the others keep their order. With `cap` (slots or
    a memory budget), several holders share the lock as admission.py admits them; `guess` is our
    expected peak, revised while we wait.
    """
    qdir = ensure_private_dir(tickets.queue_dir(state_dir, lock_id))
    caller = _Caller(state_dir, lock_id, qdir, token, holds, max_wait, on_wait)
    if cap is None or cap.exclusive:
        return _take(caller, _Ticket(qdir, tickets.make(qdir, token, argv, cwd, holds)),
                     lambda me, waiting: _wait_in_line(qdir, me, takeover_grace, waiting))
    if guess is None:
        from seq_hooks.lock import capacity  # only for a caller with slots and no guess

        guess = capacity.Guess.fixed(0)  # nothing expected
    terms = (cap.slots, cap.budget_mb)
    # An empty queue: nobody to wait for, and the rule admits a unit alone whatever its size. Our
    # ticket says our terms and expected peak to whoever comes next (tickets.make_granted_if_alone).
    made = tickets.make_granted_if_alone(qdir, token, argv, cwd, holds, guess.now, terms)
    if made is not None:
        held = Held(state_dir, lock_id, qdir, made[0], made[1], token, made[2])
    else:
        held = _admitted(caller, cap, guess, (argv, cwd, holds), takeover_grace)
    held.slotted, held.expected_mb = True, guess.now.mb
    return held


def _admitted(caller: _Caller, cap: Capacity, guess: Guess,
              unit: tuple[list[str], str, list[str]], grace: float) -> Held:
    """Our ticket in a queue that holds others, granted when admission.py admits it: in arrival
    order, beside the holders as their terms and ours allow."""
    # Imported here only: with machine, takeover and rungroup it would cost every plain run, and
    # every run that finds its queue empty, 5.3M instructions (tests/records_test.py keeps them
    # off those paths).
    from seq_hooks.lock import admission

    qdir, token = caller.qdir, caller.token
    argv, cwd, holds = unit
    gate = admission.open_gate(qdir, token)  # before our ticket: the waiter behind us blocks on it
    try:
        ticket = _Ticket(
            qdir, tickets.make(qdir, token, argv, cwd, holds, guess.now, (cap.slots, cap.budget_mb))
        )
        mine = admission.Mine(guess, ticket.rewrite)  # our expected peak, revised while we wait
        return _take(
            caller,
            ticket,
            lambda me, waiting: admission.wait_turn(qdir, me, cap, mine, grace, waiting),
        )
    finally:  # admitted (our ticket is marked granted) or gone: the waiter behind us may look now
        admission.close_gate(qdir, token, gate)
