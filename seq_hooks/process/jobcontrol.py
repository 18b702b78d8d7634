"""The supervisor's signals and terminal: a signal inbox that wakes poll(2), and job control as a
shell does it (the command gets the terminal; Ctrl-Z stops the command and us, `fg` resumes
both)."""
from __future__ import annotations

import os
import signal

from seq_hooks.process import proctree
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

    _Handler = Callable[[int, FrameType | None], Any] | int | None

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def signal_name(sig: int) -> str:
    """SIGTERM, SIGRTMIN+6, or "signal 33" for a number Python has no name for."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        pass
    low, high = getattr(signal, "SIGRTMIN", 0), getattr(signal, "SIGRTMAX", 0)
    if low and low <= sig <= high:
        return "SIGRTMIN" if sig == low else f"SIGRTMIN+{sig - low}"
    return f"signal {sig}"


class Inbox:
    """Signals for the supervisor. The handlers only note the signal; the wakeup fd (`fd`, readable
    when any signal arrived, SIGCHLD included) wakes the loop's poll(2). Off the main thread Python
    allows no handlers: `active` is then False and nothing wakes us but the loop's own timers."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.fd, self._wake_w = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._wake_w, False)
        self._old: dict[int, _Handler] = {}
        self._old_wakeup: int | None = None
        try:
            self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
            for s in (*FORWARDED, signal.SIGTSTP):
                self._old[s] = signal.signal(s, self._note)
            self._old[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda _s, _f: None)
        except ValueError:  # not the main thread
            self._old_wakeup = None
        self.active = self._old_wakeup is not None

    def _note(self, signum: int, _frame: object) -> None:
        self.received.append(signum)

    def drain(self) -> None:
        try:
            while os.read(self.fd, 512):
                pass
        except BlockingIOError:
            pass

    def take(self) -> list[int]:
        out, self.received = self.received, []
        return out

    def close(self) -> None:
        os.close(self.fd)
        os.close(self._wake_w)
        if self._old_wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            for signum, handler in self._old.items():
                signal.signal(signum, handler)


def foreground_tty() -> int | None:
    """fd 0 when it is a terminal whose foreground process group is ours (an interactive shell
    started us)."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def give_terminal(fd: int, pgid: int) -> None:
    """Makes `pgid` the terminal's foreground group. We may be in the background when taking it
    back: a background tcsetpgrp raises SIGTTOU, which we ignore for the call."""
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)


class Job:
    """The command's process group as a shell job: on our terminal when we were in its foreground
    (so it can read it, an editor or a prompt, and gets Ctrl-C and Ctrl-Z directly), stopped and
    resumed with us."""

    def __init__(self, tty: int | None) -> None:
        self.pgid = 0
        self.tty = tty

    @staticmethod
    def wanted(inbox: Inbox) -> Job:
        """A job on our terminal when we are in its foreground (and can handle signals), else a
        plain group."""
        return Job(foreground_tty() if inbox.active else None)

    def started(self, pgid: int) -> None:
        """Right after the spawn: the terminal goes to the command."""
        self.pgid = pgid
        if self.tty is not None:
            give_terminal(self.tty, pgid)
            # in case it read the terminal before it was its own
            proctree.send_group(pgid, signal.SIGCONT)

    def stopped(self, sig: int) -> None:
        """The command's group leader stopped on `sig`: Ctrl-Z (or a STOP) stops us with it, as a
        shell job does; a read or write of the terminal before it was the command's
        (SIGTTIN/SIGTTOU) just goes on."""
        if self.tty is None:
            return
        if sig in (signal.SIGTTIN, signal.SIGTTOU):
            give_terminal(self.tty, self.pgid)
            proctree.send_group(self.pgid, signal.SIGCONT)
        else:
            self.suspend(stop_job=False)

    def suspend(self, *, stop_job: bool) -> None:
        """Ctrl-Z: the job stops (it already did when the terminal stopped it), we stop until
        `fg`/`bg`, then the job goes on, with the terminal again."""
        if stop_job:
            try:
                os.killpg(self.pgid, signal.SIGSTOP)
            except OSError:
                pass
        if self.tty is not None:
            give_terminal(self.tty, os.getpgrp())
        os.kill(os.getpid(), signal.SIGSTOP)
        if self.tty is not None:
            give_terminal(self.tty, self.pgid)
        proctree.send_group(self.pgid, signal.SIGCONT)

    def release(self) -> None:
        if self.tty is not None:
            give_terminal(self.tty, os.getpgrp())
