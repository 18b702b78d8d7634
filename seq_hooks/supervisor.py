"""Runs one command and supervises its whole process tree until every descendant is gone.

The loop sleeps in poll(2) on the command's output pipes, a pidfd for the main child and a self-pipe woken by
signals (SIGCHLD included); its timeout is the nearest of the deadline, the kill escalation and the next memory
sample. Nothing here sleeps on a fixed clock.
"""
from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

from seq_hooks import proctree
from seq_hooks.errors import KILLED, TIMEOUT
from seq_hooks.spawn import spawn

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_PR_SET_CHILD_SUBREAPER = 36
_MIN_SAMPLE = 0.005
_FILL_RATE = 2e9  # bytes per second we assume a tree can grow between two samples (FINDINGS.md)
_subreaper: bool | None = None


class Limits(NamedTuple):
    timeout: float = 0.0  # seconds, 0 = none
    kill_after: float = 5.0
    kill_signal: int = signal.SIGTERM
    memory_limit_mb: int = 0  # whole tree, 0 = none
    max_procs: int = 0  # live descendants, 0 = none
    check_interval: float = 0.25  # longest gap between memory samples


class ProcPeak(NamedTuple):
    pid: int
    command: str
    peak_rss: int  # bytes


class Outcome(NamedTuple):
    exit_code: int
    reason: str  # exit, signal, timeout, memory, procs, interrupted
    message: str  # a sentence when seq-hooks ended the command, else ""
    duration_s: float
    peak_rss: int  # bytes: the largest whole-tree sum seen
    procs: tuple[ProcPeak, ...]
    stdout: bytes  # captured output (capture=True), else b""
    stderr: bytes


def become_subreaper() -> bool:
    """Orphaned descendants reparent to us, so we can wait for (and kill) daemons that called setsid."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if proctree.use_proc() and os.environ.get("SEQ_HOOKS_NO_SUBREAPER") != "1":
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                _subreaper = False
    return _subreaper


class _Tree:
    """What we know of the tree: per-process peaks, and the pids to signal."""

    def __init__(self, token: str, subreaper: bool) -> None:
        self.token = token
        self.subreaper = subreaper
        self.peaks: dict[int, ProcPeak] = {}
        self.peak_total = 0
        self.last_scan = 0.0
        self.scanned: list[int] = []

    def pids(self) -> list[int]:
        found = proctree.descendants(os.getpid())
        if not self.subreaper:
            # no subreaper (macOS, or forced): daemons reparent to init; find them by the run token
            now = time.monotonic()
            if now - self.last_scan > 0.5:
                self.scanned = proctree.pids_with_token(self.token)
                self.last_scan = now
            found.extend(p for p in self.scanned if p not in found)
        return found

    def sample(self) -> tuple[int, int]:
        """(total resident bytes, live process count) of the tree now."""
        total = count = 0
        for pid in self.pids():
            i = proctree.info(pid)
            if i is None or i.state == "Z":
                continue
            total += i.rss
            count += 1
            known = self.peaks.get(pid)
            if known is None:
                self.peaks[pid] = ProcPeak(pid, proctree.cmdline(pid) or i.name, i.rss)
            elif i.rss > known.peak_rss:
                self.peaks[pid] = known._replace(peak_rss=i.rss)
        self.peak_total = max(self.peak_total, total)
        return total, count

    def signal(self, pgid: int, sig: int) -> int:
        """Signals the group and every known descendant; returns how many descendants there were."""
        pids = self.pids()
        proctree.send_group(pgid, sig)
        proctree.send(pids, sig)
        return len(pids)


def foreground_tty() -> int | None:
    """fd 0 when it is a terminal whose foreground process group is ours (an interactive shell started us)."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def give_terminal(fd: int, pgid: int) -> None:
    """Makes `pgid` the terminal's foreground group, so the command can read it (an editor, a prompt) and gets
    Ctrl-C and Ctrl-Z directly, as under a shell. We may be in the background when taking it back: a background
    tcsetpgrp raises SIGTTOU, which we ignore for the call."""
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, pgid)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)


def _set_nonblocking(fd: int) -> None:
    os.set_blocking(fd, False)


def _log_note(log_fd: int | None, start: float, text: str) -> None:
    """An escalation step, in the run's log, with the time since the start."""
    if log_fd is not None:
        _write_all(log_fd, f"\n# seq-hooks at {time.monotonic() - start:.3f}s: {text}\n".encode())


def _write_all(fd: int, data: bytes) -> bool:
    """Writes everything; False when the reader has gone (EPIPE), so the caller stops echoing."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        except (BrokenPipeError, OSError):
            return False
        view = view[n:]
    return True


def supervise(
    argv: list[str],
    *,
    env: Mapping[str, str],
    token: str,
    limits: Limits,
    capture: bool = False,
    direct: bool = False,
    log_fd: int | None = None,
) -> Outcome:
    """Runs argv to the end of its whole tree. Raises FatalError (126/127) when it cannot start.

    Output is read through pipes: echoed to our stdout/stderr (or kept, with `capture`) and written to `log_fd`.
    With `direct` the command writes to our own stdout/stderr (an interactive command that needs the terminal:
    an editor, a pager); its output then is not in the log.
    """
    start = time.monotonic()
    subreaper = become_subreaper()
    tree = _Tree(token, subreaper)
    sinks: dict[int, int] = {}  # our end of a pipe -> the fd it echoes to
    if direct:
        pid = spawn(argv, env=env)
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            pid = spawn(argv, env=env, stdout=out_w, stderr=err_w)
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        sinks = {out_r: 1, err_r: 2}

    received: list[int] = []
    wake_r, wake_w = os.pipe()
    _set_nonblocking(wake_r)
    _set_nonblocking(wake_w)
    old_handlers: dict[int, Any] = {}
    old_wakeup: int | None = None
    try:
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

        def on_signal(signum: int, _frame: object) -> None:
            received.append(signum)

        for s in (*FORWARDED, signal.SIGTSTP):
            old_handlers[s] = signal.signal(s, on_signal)
        old_handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda _s, _f: None)
    except ValueError:  # not the main thread: no signal handling, bounded polling for orphans instead
        old_wakeup = None

    tty = foreground_tty() if old_wakeup is not None else None
    if tty is not None:
        give_terminal(tty, pid)
        proctree.send_group(pid, signal.SIGCONT)  # in case it read the terminal before it was its own

    pidfd = -1
    if hasattr(os, "pidfd_open"):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = -1

    poller = select.poll()
    captured: dict[int, list[bytes]] = {1: [], 2: []}
    echo = {1: not capture, 2: not capture}
    interrupted_by = 0
    for fd in (*sinks, wake_r):
        poller.register(fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)

    main_status: int | None = None
    children_left = True
    reason = ""
    message = ""
    phase = ""  # "" running, "term" kill signal sent, "kill" SIGKILL sent
    kill_at = 0.0
    deadline = start + limits.timeout if limits.timeout > 0 else 0.0
    limit_bytes = limits.memory_limit_mb * 1024 * 1024
    next_sample = start + _MIN_SAMPLE

    def reap() -> bool:
        nonlocal main_status
        while True:
            try:
                got, status = os.waitpid(-1, os.WNOHANG | os.WUNTRACED)
            except ChildProcessError:
                return False
            if got == 0:
                return True
            if got != pid:
                continue
            if not os.WIFSTOPPED(status):
                main_status = status
            elif tty is not None:  # Ctrl-Z reached the command: stop with it, as a shell job does
                give_terminal(tty, os.getpgrp())
                os.kill(os.getpid(), signal.SIGSTOP)
                give_terminal(tty, pid)
                proctree.send_group(pid, signal.SIGCONT)

    def escalate(why: str, sig: int, text: str) -> None:
        nonlocal phase, kill_at, reason, message
        if not reason:
            reason, message = why, text
        if sig == signal.SIGKILL or phase == "term":
            phase = "kill"
            n = tree.signal(pid, signal.SIGKILL)
            _log_note(log_fd, start, f"{why}: SIGKILL to the process group and {n} processes")
        elif not phase:
            phase = "term"
            kill_at = time.monotonic() + limits.kill_after
            n = tree.signal(pid, sig)
            _log_note(log_fd, start, f"{why}: {signal.Signals(sig).name} (and SIGCONT) to the process group and "
                      f"{n} processes; SIGKILL in {limits.kill_after:g}s if any is left")

    try:
        while True:
            if not children_left and not sinks and (subreaper or not tree.pids()):
                break
            now = time.monotonic()
            waits = [next_sample - now]
            if deadline and not phase:
                waits.append(deadline - now)
            if phase == "term":
                waits.append(kill_at - now)
            if phase == "kill" or old_wakeup is None or not subreaper:
                waits.append(0.05)
            wait_ms = max(0.0, min(waits)) * 1000
            for fd, _ in poller.poll(wait_ms):
                if fd in sinks:
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    target = sinks[fd]
                    if not chunk:
                        poller.unregister(fd)
                        os.close(fd)
                        del sinks[fd]
                        continue
                    if log_fd is not None:
                        _write_all(log_fd, chunk)
                    if capture:
                        captured[target].append(chunk)
                    elif echo[target]:
                        echo[target] = _write_all(target, chunk)
                elif fd == wake_r:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                elif fd == pidfd:
                    poller.unregister(pidfd)
                    os.close(pidfd)
                    pidfd = -1
            children_left = reap()
            now = time.monotonic()
            if (tty is not None and children_left and not phase and main_status is not None
                    and os.WIFSIGNALED(main_status) and os.WTERMSIG(main_status) in (signal.SIGINT, signal.SIGQUIT)):
                # Ctrl-C went straight to the command's group; end what it left running in other groups
                interrupted_by = os.WTERMSIG(main_status)
                escalate("interrupted", signal.SIGTERM, "interrupted: stopped what the command left running")
            while received:
                sig = received.pop(0)
                if sig == signal.SIGTSTP:
                    proctree.send_group(pid, signal.SIGSTOP)
                    os.kill(os.getpid(), signal.SIGSTOP)
                    proctree.send_group(pid, signal.SIGCONT)
                    continue
                if not interrupted_by:
                    interrupted_by = sig
                name = signal.Signals(sig).name
                escalate("interrupted", sig, f"seq-hooks received {name}: stopped the command and all it started")
            if deadline and not phase and now >= deadline and children_left:
                escalate("timeout", limits.kill_signal,
                         f"timed out after {limits.timeout:g}s: killed the command and all it started")
            if phase == "term" and now >= kill_at and children_left:
                escalate(reason, signal.SIGKILL, message)
            elif phase == "kill" and children_left:
                tree.signal(pid, signal.SIGKILL)
            if now >= next_sample and children_left:
                total, count = tree.sample()
                if limit_bytes and total > limit_bytes:
                    escalate("memory", signal.SIGKILL,
                             f"memory limit {limits.memory_limit_mb} MB exceeded (the tree held "
                             f"{total / 1048576:.0f} MB): killed the command and all it started")
                elif limits.max_procs and count > limits.max_procs:
                    escalate("procs", signal.SIGKILL,
                             f"process limit {limits.max_procs} exceeded ({count} processes): "
                             "killed the command and all it started")
                gap = limits.check_interval
                if limit_bytes:
                    gap = min(gap, max(_MIN_SAMPLE, (limit_bytes - total) / _FILL_RATE))
                next_sample = now + max(_MIN_SAMPLE, gap)
    finally:
        if tty is not None:
            give_terminal(tty, os.getpgrp())
        for fd in (*sinks, wake_r, wake_w):
            os.close(fd)
        if pidfd >= 0:
            os.close(pidfd)
        if old_wakeup is not None:
            signal.set_wakeup_fd(old_wakeup)
            for signum, handler in old_handlers.items():
                signal.signal(signum, handler)

    duration = time.monotonic() - start
    status = main_status if main_status is not None else 0
    code = os.waitstatus_to_exitcode(status)
    if reason == "timeout":
        exit_code = TIMEOUT
    elif reason in ("memory", "procs"):
        exit_code = KILLED
    elif reason == "interrupted":
        exit_code = 128 + interrupted_by
    elif code < 0:
        exit_code, reason = 128 - code, "signal"
    else:
        exit_code, reason = code, "exit"
    return Outcome(
        exit_code,
        reason,
        message,
        duration,
        tree.peak_total,
        tuple(sorted(tree.peaks.values())),
        b"".join(captured[1]),
        b"".join(captured[2]),
    )
