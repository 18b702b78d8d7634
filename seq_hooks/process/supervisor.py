"""Runs one command and supervises its whole process tree until every descendant is gone.

The loop sleeps in poll(2) on the command's output pipes, our own stdout/stderr while output waits
for their reader (pump), a pidfd for the main child and the signal inbox's wakeup fd (jobcontrol;
SIGCHLD included). Its timeout is the nearest of the deadline, the kill escalation's SIGKILL and the
next sample of the tree (treewatch), which comes sooner the nearer a limit is and at least every
`check_interval`. Nothing else wakes it on a clock. Where no event can say that a process ended (no
subreaper: orphans reparent to init; off the main thread: no SIGCHLD), the next sample is what
notices, within `check_interval`. After SIGKILL, the tree is looked for and signalled again at each
wake, so that what it started meanwhile dies too.
"""
from __future__ import annotations

import os
import select
import signal
import time

from seq_hooks import envnames
from seq_hooks.errors import KILLED, NOT_EXECUTABLE, TIMEOUT, FatalError, Reason, signalled
from seq_hooks.process import proctree
from seq_hooks.process.jobcontrol import FORWARDED, Inbox, Job, signal_name
from seq_hooks.process.pump import Log, Pump
from seq_hooks.process.spawn import spawn
from seq_hooks.process.treewatch import MAX_SAMPLE_GAP, ProcPeak, Sample, TreeWatch
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from seq_hooks.process.rungroup import RunGroup

__all__ = ["FORWARDED", "Limits", "Outcome", "ProcPeak", "exit_code", "supervise"]
_PR_SET_CHILD_SUBREAPER = 36
# seconds a process the command detached (a session of its own, no terminal: a daemon) may outlive
# the command before it is ended; what stays in the command's session is waited for (docs/design.md,
# Processes)
DETACHED_GRACE = 1.0
ECHO_WINDOW = 1.0  # seconds after a signal in which a nested runner takes another for its echo
_subreaper: bool | None = None


class Limits(NamedTuple):
    timeout: float = 0.0  # seconds, 0 = none
    kill_after: float = 5.0
    kill_signal: int = signal.SIGTERM
    memory_limit_mb: int = 0  # whole tree, 0 = none
    max_procs: int = 0  # live descendants, 0 = none
    check_interval: float = MAX_SAMPLE_GAP  # longest gap between memory samples


class Outcome(NamedTuple):
    exit_code: int
    reason: str  # a word of errors.Reason
    message: str  # a sentence when seq-hooks ended the command, else ""
    duration_s: float
    peak_rss: int  # bytes: the largest whole-tree sum seen
    procs: tuple[ProcPeak, ...]
    stdout: bytes  # captured output (capture=True), else b""
    stderr: bytes
    # bytes of captured stdout, stderr cut from the middle (the bound)
    cut: tuple[int, int] = (0, 0)
    # the system's memory (used, total MB) when the tree's peak was seen
    peak_system: tuple[int, int] = (0, 0)


def exit_code(reason: str, status: int | None, interrupted_by: int) -> tuple[int, str]:
    """(exit code, reason) of a run: ours when we ended it (124 timeout, 137 memory or procs, 128+N
    when a signal N interrupted us), else the command's own (128+N when signal N killed it)."""
    if reason == Reason.TIMEOUT:
        return TIMEOUT, reason
    if reason in (Reason.MEMORY, Reason.PROCS):
        return KILLED, reason
    if reason == Reason.INTERRUPTED:
        return signalled(interrupted_by), reason
    code = os.waitstatus_to_exitcode(status) if status is not None else 0
    return (128 - code, Reason.SIGNAL) if code < 0 else (code, Reason.EXIT)


def become_subreaper() -> bool:
    """Orphaned descendants reparent to us, so we can wait for (and kill) daemons that called
    setsid."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if proctree.use_proc() and os.environ.get(envnames.NO_SUBREAPER) != "1":
            try:
                _subreaper = _prctl(_PR_SET_CHILD_SUBREAPER, 1) == 0
            except (OSError, AttributeError, ImportError):
                _subreaper = False
    return _subreaper


def _prctl(option: int, arg: int) -> int:
    """prctl(2) through `_ctypes`, the C half of ctypes. Importing ctypes itself defines some forty
    classes and imports struct: 7.4M instructions, 8% of a run, against 1.7M for this
    (docs/design.md, "The hot path"). A function pointer without a result type returns a C int."""
    import _ctypes  # only where a subreaper can be asked for (Linux)

    class Call(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL

    this_program: Any = None  # dlopen(NULL): the process's own symbols, libc's among them
    result: int = Call(_ctypes.dlsym(_ctypes.dlopen(this_program), "prctl"))(option, arg, 0, 0, 0)
    return result


class Escalation:
    """Ending processes: nothing yet -> the kill signal (with SIGCONT), once to each -> after
    `kill_after`, SIGKILL -> SIGKILL again at each wake until nothing is left. The first reason
    given is the one reported. `send` signals the processes concerned and says which they were."""

    def __init__(self, send: Callable[[int], str], kill_after: float, log: Log) -> None:
        self.send, self.kill_after, self.log = send, kill_after, log
        self.phase = ""  # "" running, "term" the kill signal sent, "kill" SIGKILL sent
        self.reason = self.message = ""
        self.kill_at = 0.0

    def begin(self, why: str, sig: int, text: str) -> None:
        if not self.reason:
            self.reason, self.message = why, text
        if self.phase == "kill":
            return  # already killing: `again` signals what is left at each wake
        if sig == signal.SIGKILL or self.phase == "term":
            self.phase = "kill"
            self.log.note(f"{why}: SIGKILL to {self.send(signal.SIGKILL)}")
        elif not self.phase:
            self.phase = "term"
            self.kill_at = time.monotonic() + self.kill_after
            self.log.note(f"{why}: {signal_name(sig)} (and SIGCONT) to {self.send(sig)}; "
                          f"SIGKILL in {self.kill_after:g}s if any is left")

    def escalate(self, _now: float) -> None:
        """`kill_after` has passed since the kill signal."""
        self.begin(self.reason, signal.SIGKILL, self.message)

    def again(self) -> None:
        """SIGKILL to what is still there (and what it started meanwhile)."""
        self.send(signal.SIGKILL)


class _Run:
    """One supervised command: the state the loop in `supervise` moves forward.

    `_due` is the one rule of what is due next and when: `wait` sleeps until the nearest of it
    (or an event), `act` does each that has come."""

    def __init__(
        self, pid: int, job: Job, pump: Pump, tree: TreeWatch, limits: Limits, inbox: Inbox
    ) -> None:
        self.pid, self.job, self.pump, self.tree, self.limits, self.inbox = (
            pid,
            job,
            pump,
            tree,
            limits,
            inbox,
        )
        self.start = pump.log.start
        self.session = os.getsid(0)  # the command's session: what leaves it (setsid) is detached
        self.kill = Escalation(self._signal_tree, limits.kill_after, pump.log)
        self.detached = Escalation(self._signal_detached, limits.kill_after, pump.log)
        self.group_told = False  # the terminal signalled the command's group itself (Ctrl-C)
        self.nested = bool(os.environ.get(envnames.RUN))  # we run under another run's supervisor
        self.deadline = self.start + limits.timeout if limits.timeout > 0 else 0.0
        # how long output may wait for its reader once the tree is gone (when bounded)
        self.flush_until = 0.0
        self.status: int | None = None
        self.next_detached = 0.0  # when to look for what it detached (from DETACHED_GRACE on)
        # a child of ours (the command, or an orphan reparented to us) still runs
        self.children = True
        # any process of the tree still runs (without a subreaper: also those found by token)
        self.alive = True
        self.interrupted_by = 0
        self.pidfd = -1
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(pid)
            except OSError:
                self.pidfd = -1

    def over(self, now: float) -> bool:
        """Whether the run is over: its tree has ended, its output is out (or given up)."""
        if self.alive or self.pump.sources:
            return False
        if self.pump.pending and not self.flush_until and (self.deadline or self.kill.reason):
            # output still waits for its reader: bounded by the timeout (or, when we ended the tree,
            # the grace)
            since = now if self.kill.reason else max(now, self.deadline)
            self.flush_until = since + self.limits.kill_after
        return not self.pump.pending

    def _due(self) -> list[tuple[float, Callable[[float], None]]]:
        """What is due, and when: checks of the tree while it lives, deadlines and escalations."""
        due: list[tuple[float, Callable[[float], None]]] = []
        if self.alive:
            if not self.kill.phase:
                if self.deadline:
                    due.append((self.deadline, self._time_out))
                if self.status is not None:
                    due.append((self.next_detached, self._end_detached))
                if self.tree.group is not None:
                    due.append((self.tree.next_count, self._count))
            due += [(k.kill_at, k.escalate) for k in (self.kill, self.detached)
                    if k.phase == "term"]
            due.append((self.tree.next_sample, self._sample))
        if self.flush_until:
            due.append((self.flush_until, self._give_up))
        return due

    def wait(self, now: float) -> None:
        """Sleeps in poll(2) until output moves, a signal or the command's end arrives, or the next
        thing is due."""
        due = [when for when, _ in self._due()]
        timeout_ms = max(0.0, min(due) - now) * 1000 if due else -1
        poller = select.poll()
        events = self.pump.events(drain=not self.alive)
        for fd, mask in events.items():
            poller.register(fd, mask)
        poller.register(self.inbox.fd, select.POLLIN)
        if self.pidfd >= 0:
            poller.register(self.pidfd, select.POLLIN)
        for fd, revents in poller.poll(timeout_ms):
            if fd in events:
                self.pump.handle(fd, revents)
            elif fd == self.inbox.fd:
                self.inbox.drain()
            elif fd == self.pidfd:
                os.close(self.pidfd)
                self.pidfd = -1

    def act(self, now: float) -> None:
        """Does what is due by `now`; while killing, SIGKILL again to what is left."""
        for kill in (self.kill, self.detached):
            if self.alive and kill.phase == "kill":
                kill.again()
        for when, do in self._due():
            if now >= when:
                do(now)

    def reap(self) -> None:
        """Collects ended children (ours and reparented orphans); `children`: whether any is still
        running."""
        while True:
            try:
                got, status = os.waitpid(-1, os.WNOHANG | os.WUNTRACED)
            except ChildProcessError:
                self.children = False
                break
            # a child still runs: the command, or one it left (a resident daemon does not count)
            if got == 0:
                self.children = self.status is None or any(not self.tree.daemon(p)
                                                           for p in proctree.children(os.getpid()))
                break
            if got == self.pid and not os.WIFSTOPPED(status):
                self.status = status
                self.next_detached = time.monotonic() + DETACHED_GRACE
            elif got == self.pid:
                self.job.stopped(os.WSTOPSIG(status))
        self.alive = self.children or (not self.tree.subreaper and bool(self.tree.pids()))

    def on_signals(self) -> None:
        st = self.status
        if (self.job.tty is not None and self.alive and not self.kill.phase and st is not None
                and os.WIFSIGNALED(st) and os.WTERMSIG(st) in (signal.SIGINT, signal.SIGQUIT)):
            # Ctrl-C went straight to the command's group; end what it left running in other groups
            self.interrupted_by = os.WTERMSIG(st)
            self.group_told = True
            self.kill.begin(
                Reason.INTERRUPTED,
                signal.SIGTERM,
                "interrupted: stopped what the command left running",
            )
        for sig in self.inbox.take():
            if sig == signal.SIGTSTP:
                self.job.suspend(stop_job=True)
                continue
            if self._echo():
                continue
            self.interrupted_by = self.interrupted_by or sig
            self.kill.begin(
                Reason.INTERRUPTED,
                sig,
                f"seq-hooks received {signal_name(sig)}: stopped the command and all it started",
            )

    def _echo(self) -> bool:
        """Whether a signal is an echo of the one we are acting on: a nested runner (started under
        another run) gets a signal sent to the whole tree (systemd's stop, a kill of the session)
        and, within moments, the outer runner's forward of it. Not a second request: it escalates
        after kill_after, or on a signal ECHO_WINDOW after the first."""
        return (self.nested and self.kill.phase == "term" and self.kill.reason == Reason.INTERRUPTED
                and time.monotonic() < self.kill.kill_at - self.kill.kill_after + ECHO_WINDOW)

    def _time_out(self, _now: float) -> None:
        text = f"timed out after {self.limits.timeout:g}s: killed the command and all it started"
        self.kill.begin(Reason.TIMEOUT, self.limits.kill_signal, text)

    def _sample(self, now: float) -> None:
        if (verdict := self.tree.sample(now)) is not None:
            self.kill.begin(verdict.why, signal.SIGKILL, verdict.text)

    def _count(self, now: float) -> None:
        if (verdict := self.tree.count(now)) is not None:
            self.kill.begin(verdict.why, signal.SIGKILL, verdict.text)

    def _give_up(self, _now: float) -> None:
        self.pump.give_up()

    def _end_detached(self, now: float) -> None:
        """The command has exited: what it detached (a daemon) does not hold the run."""
        self.next_detached = now + self.limits.check_interval
        if self.detached.phase or not (pids := self._detached_now()):
            return
        named = ", ".join(f"pid {p} {_short(p)}" for p in pids[:3])
        more = f" and {len(pids) - 3} more" if len(pids) > 3 else ""
        self.detached.begin(Reason.DETACHED, self.limits.kill_signal,
                            f"ended what the command detached, {DETACHED_GRACE:g}s after it exited "
                            f"({named}{more}: a daemon, in a session of its own)")

    def _detached_now(self) -> list[int]:
        """The tree's processes in a session of their own without a terminal (setsid: a daemon)."""
        infos = ((p, proctree.info(p)) for p in self.tree.pids())
        return [p for p, i in infos
                if i is not None and i.state != "Z" and i.session != self.session and not i.tty]

    def _signal_tree(self, sig: int) -> str:
        n = self.tree.signal(self.pid, sig, group_told=self.group_told)
        return f"the process group and {n} processes"

    def _signal_detached(self, sig: int) -> str:
        pids = self._detached_now()
        proctree.send(pids, sig)
        return f"{len(pids)} detached processes"

    def close(self) -> None:
        self.job.release()
        if self.pidfd >= 0:
            os.close(self.pidfd)


def _short(pid: int) -> str:
    """A process for a message: its program and first arguments (control characters replaced)."""
    from seq_hooks import display  # only when a daemon is ended: it imports shlex (0.9M instr.)

    argv = proctree.process(pid).argv() or ["?"]
    return display.fit(display.command([os.path.basename(argv[0]), *argv[1:]]), 50)


def _start(
    argv: list[str], env: Mapping[str, str], direct: bool, job: Job
) -> tuple[int, dict[int, int]]:
    """Spawns the command: (its pid, our ends of its stdout/stderr pipes -> 1/2; none when
    `direct`)."""
    if direct:
        pid = spawn(argv, env=env, job=job.tty is not None)
        job.started(pid)
        return pid, {}
    try:
        out_r, out_w = os.pipe()
    except OSError as e:  # out of file descriptors: a sentence, not an internal error
        raise FatalError(f"{argv[0]}: cannot start: {e.strerror}", NOT_EXECUTABLE) from None
    try:
        err_r, err_w = os.pipe()
    except OSError as e:
        for fd in (out_r, out_w):
            os.close(fd)
        raise FatalError(f"{argv[0]}: cannot start: {e.strerror}", NOT_EXECUTABLE) from None
    try:
        pid = spawn(argv, env=env, stdout=out_w, stderr=err_w, job=job.tty is not None)
        job.started(pid)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    return pid, {out_r: 1, err_r: 2}


def _run_group(token: str) -> RunGroup | None:
    # only with a process limit: off the path of a plain run
    from seq_hooks.process.rungroup import RunGroup

    return RunGroup.make(token)


def supervise(
    argv: list[str],
    *,
    env: Mapping[str, str],
    token: str,
    limits: Limits,
    capture: bool = False,
    direct: bool = False,
    log_fd: int | None = None,
    on_procs: Callable[[list[tuple[int, int]]], None] | None = None,
    on_memory: Callable[[int, Sample], None] | None = None,
) -> Outcome:
    """Runs argv to the end of its whole tree. Raises FatalError (126/127) when it cannot start.

    Output is read through pipes: echoed to our stdout/stderr (or kept, bounded, with `capture`) and
    written to `log_fd` (bounded: head and tail). With `direct` the command writes to our own
    stdout/stderr (an interactive command that needs the terminal: an editor, a pager); its output
    then is not in the log. `on_procs` gets (pid, start time) of each process the first time the
    tree is seen with it; `on_memory` (level, sample) when the tree passes 50% and 75% of its memory
    limit.
    """
    log = Log(log_fd, time.monotonic())
    subreaper = become_subreaper()
    inbox = Inbox()
    job = Job.wanted(inbox)
    try:
        pid, sources = _start(argv, env, direct, job)
    except BaseException:
        inbox.close()
        raise
    started = proctree.info(pid)
    if on_procs is not None and started is not None:
        on_procs([(pid, started.start)])
    group = _run_group(token) if limits.max_procs else None
    if group is not None and not group.add(pid):
        group.remove()
        group = None
    tree = TreeWatch(
        token,
        subreaper,
        memory_limit_mb=limits.memory_limit_mb,
        max_procs=limits.max_procs,
        check_interval=limits.check_interval,
        note=log.note,
        on_procs=on_procs,
        on_memory=on_memory,
        group=group,
    )
    pump = Pump(sources, log, capture)
    run = _Run(pid, job, pump, tree, limits, inbox)
    try:
        while not run.over(now := time.monotonic()):
            run.wait(now)
            run.reap()
            run.on_signals()
            run.act(time.monotonic())
    finally:
        run.close()
        inbox.close()
        if (summary := tree.summary()) is not None:
            log.note(summary)
        (out, out_cut), (err, err_cut) = pump.close()
        if group is not None:
            group.remove()
    code, reason = exit_code(run.kill.reason, run.status, run.interrupted_by)
    message = run.kill.message or run.detached.message
    return Outcome(code, reason, message, time.monotonic() - log.start, tree.peak_total,
                   tree.peaks_sorted(), out, err, (out_cut, err_cut), tree.peak_system)
