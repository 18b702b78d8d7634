"""The keys of `seq-hooks status --watch` on a terminal: k ends the running unit (after a
confirmation), q quits.

A unit is ended the way its timeout would end it: TERM (after CONT) to every process that carries
its run token (SEQ_HOOKS_RUN), then KILL after `kill_after` seconds for whatever is left. Processes
are found by that token only, never by name (the guides' monitor killed by name, and so ended other
projects' tools). Its runner then sees the command end by a signal, records it in the journal and
hands the lock on.
"""
from __future__ import annotations

import os
import select
import termios
import tty

from seq_hooks import display, leftovers
from seq_hooks.process import proctree
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

    from seq_hooks.queue_view import Holder, Snapshot

QUIT = "q"
END = "k"
HELP = "k: end the running unit, q: quit"


class Mode(NamedTuple):
    """What the keys mean now: choosing among several running units, confirming one, or neither."""

    choices: tuple[Holder, ...] = ()
    target: Holder | None = None
    note: str = ""  # the last answer, shown until the next key


class Action(NamedTuple):
    mode: Mode
    end: Holder | None = None  # confirmed: end this unit now
    quit: bool = False


def running(snap: Snapshot) -> list[Holder]:
    return [h for q in snap.queues for h in q.holders]


def _name(h: Holder) -> str:
    return f"pid {h.ticket.pid} ({display.fit(display.command(h.ticket.argv), 40)})"


def prompt(mode: Mode) -> str:
    """The line the watch shows under its title: a question, the last answer, or nothing."""
    if mode.target is not None:
        return f"end unit {_name(mode.target)} and its whole tree: TERM, then KILL? y/N"
    if mode.choices:
        listed = "  ".join(f"{i}: {_name(h)}" for i, h in enumerate(mode.choices, 1))
        return f"end which unit? {listed}  (other key: cancel)"
    return mode.note


def press(mode: Mode, key: str, snap: Snapshot) -> Action:
    """The state machine of the keys; pure, so the tests can walk it without a terminal."""
    if mode.target is not None:
        return (
            Action(Mode(), end=mode.target) if key in ("y", "Y") else Action(Mode(note="cancelled"))
        )
    if mode.choices:
        if key.isdigit() and 1 <= int(key) <= len(mode.choices):
            return Action(Mode(target=mode.choices[int(key) - 1]))
        return Action(Mode(note="cancelled"))
    if key == QUIT:
        return Action(mode, quit=True)
    if key == END:
        units = running(snap)
        if not units:
            return Action(Mode(note="no unit is running"))
        return Action(Mode(target=units[0]) if len(units) == 1 else Mode(choices=tuple(units[:9])))
    return Action(Mode(note=f"keys: {HELP}"))


def still_running(h: Holder, snap: Snapshot) -> bool:
    """The unit we asked about still holds its lock (a run that ended meanwhile must not be
    ended)."""
    return any(u.ticket.token == h.ticket.token for u in running(snap))


def end_unit(h: Holder, grace: float) -> str:
    """Ends every process carrying the unit's run token, TERM then KILL after `grace` s; says what
    happened."""
    token = h.ticket.token
    pids = [p for p in proctree.pids_with_token(token) if leftovers.still_carries(p, token)]
    if not pids:
        return f"unit pid {h.ticket.pid} has no process left to end"
    survivors = proctree.end(pids, grace)
    n = len(pids)
    done = (
        f"sent TERM to {n} process{'es' if n != 1 else ''} of unit pid {h.ticket.pid} (KILL after "
        f"{grace:g}s)"
    )
    if survivors:
        return (
            f"{done}; still alive: {', '.join(map(str, survivors))} (not ours to signal, or "
            "unkillable)"
        )
    return f"{done}: ended"


class Keys:
    """The terminal in cbreak mode (keys one at a time, not echoed; Ctrl-C still a signal), restored
    on exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None

    @staticmethod
    def usable(fd: int) -> bool:
        """A terminal whose foreground we are: reading it from the background would stop us
        (SIGTTIN)."""
        try:
            return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            return False

    def __enter__(self) -> Keys:
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def wait(self, timeout: float) -> str:
        """The keys pressed within `timeout` seconds ("" if none); escape sequences (arrows) are
        dropped."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return ""
        data = os.read(self.fd, 64)
        return "" if b"\x1b" in data else data.decode("ascii", "ignore")
