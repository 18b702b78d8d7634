"""`seq-hooks watch --pid P [--memory-limit MB] [--timeout S] [--max-procs N]`: supervise a process
that is already running (the guides' `memory_monitor.sh --pid P --limit MB`): its whole tree is
sampled as a run's is, and killed (TERM, then KILL after kill_after) when it passes a limit.

The process was not started by seq-hooks, so its exit status cannot be known: watch exits 0 when it
ends by itself, 137 when the memory or process limit killed its tree, 124 when the timeout did, 2
for a pid that is not the user's, is gone, or is this command itself. Interrupted (Ctrl-C), watch
leaves the process alone.
"""
from __future__ import annotations

import os
import select
import sys
import time

from seq_hooks import context, runner, sizes
from seq_hooks.errors import KILLED, OK, TIMEOUT, Reason, UsageError
from seq_hooks.options import Option, parse
from seq_hooks.process import proctree
from seq_hooks.process.treewatch import TreeWatch, Verdict

OPTIONS = (
    Option(("--pid",), "pid", "int", "the process to watch, with every process it starts", "P"),
    Option(
        ("--memory-limit",),
        "memory_limit",
        "int",
        "kill the tree past MB of memory (default: memory_limit_mb, 2048; 0 = none)",
        "MB",
    ),
    Option(
        ("--timeout",),
        "timeout",
        "float",
        "kill the tree after S seconds of watching (default: none)",
        "S",
    ),
    Option(
        ("--max-procs",), "max_procs", "int", "kill the tree past N live processes (0 = none)", "N"
    ),
    Option(
        ("--kill-after",),
        "kill_after",
        "float",
        "grace between SIGTERM and SIGKILL (default: kill_after)",
        "S",
    ),
    Option(("-q", "--quiet"), "quiet", help="no notes, only the verdict"),
)
USAGE_LINE = "--pid P [--memory-limit MB] [--timeout S] [--max-procs N] [--kill-after S]"
SUMMARY = (
    "Supervise a process that is already running, and every process it starts: the memory limit, "
    "the\n"
    "timeout and the process limit of a run, enforced on its whole tree (TERM, then KILL). Exits 0 "
    "when it\n"
    "ends by itself, 137 when a limit killed it, 124 when the timeout did."
)
PROG = "seq-hooks watch"


def _say(text: str) -> None:
    sys.stderr.write(f"{PROG}: {text}\n")
    sys.stderr.flush()


def watchable(pid: int) -> None:
    """Refuses (exit 2) a pid that cannot be ours to watch: none, gone, this command, or another
    user's."""
    if pid <= 1:
        raise UsageError(f"--pid {pid}: not a process to watch")
    if pid == os.getpid():
        raise UsageError(f"--pid {pid}: that is this seq-hooks watch itself")
    uid = proctree.owner(pid)
    if uid is None or not proctree.alive(pid):
        raise UsageError(f"--pid {pid}: no such process")
    if uid != os.geteuid():
        raise UsageError(
            f"--pid {pid}: runs as uid {uid}, not as you (uid {os.geteuid()}): seq-hooks watch "
            "only "
            "watches and kills your own processes"
        )


def main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog=PROG, usage=USAGE_LINE, summary=SUMMARY)
    pid = parsed.integer("pid")
    if pid is None:
        raise UsageError(f"--pid is required ({PROG} {USAGE_LINE})")
    watchable(pid)
    settings = context.load().settings
    timeout = parsed.number("timeout")
    limits = runner.limits(
        settings,
        timeout=timeout or 0.0,
        kill_after=parsed.number("kill_after"),
        memory_limit_mb=parsed.integer("memory_limit"),
        max_procs=parsed.integer("max_procs"),
    )
    quiet = parsed.flag("quiet")
    tree = TreeWatch(
        "",
        True,
        memory_limit_mb=limits.memory_limit_mb,
        max_procs=limits.max_procs,
        check_interval=limits.check_interval,
        note=(lambda _t: None) if quiet else _say,
        root=pid,
    )
    if not quiet:
        _say(
            f"watching pid {pid} ({proctree.cmdline(pid) or '?'}): memory "
            f"{f'{limits.memory_limit_mb} MB' if limits.memory_limit_mb else 'no limit'}, timeout "
            f"{f'{limits.timeout:g}s' if limits.timeout else 'none'}, processes "
            f"{limits.max_procs or 'no limit'}"
        )
    return _watch(pid, tree, limits.timeout, limits.kill_after, quiet)


def _watch(pid: int, tree: TreeWatch, timeout: float, kill_after: float, quiet: bool) -> int:
    """Samples the tree until the process ends (0) or a limit is passed (its tree ended: 137 or
    124)."""
    start = time.monotonic()
    ends = start + timeout if timeout else None
    with _Exit(pid) as gone:
        while proctree.alive(pid):
            now = time.monotonic()
            verdict = tree.sample(now)
            if verdict is None and ends is not None and now >= ends:
                verdict = Verdict(
                    Reason.TIMEOUT, f"timeout {timeout:g}s: killed the command and all it started"
                )
            if verdict is not None:
                return _kill(pid, tree, verdict, kill_after)
            gone.wait(min(tree.next_sample, ends or tree.next_sample) - now)
    if not quiet:
        used, total = tree.peak_system
        system = f" (system: {used}/{total} MB used)" if total else ""
        _say(
            f"pid {pid} ended by itself after {time.monotonic() - start:.2f}s (processes it "
            "started and left "
            "behind are no longer watched); its tree's peak was "
            f"{sizes.megabytes(tree.peak_total / sizes.MB)}"
            f"{system}"
        )
    return OK


def _kill(pid: int, tree: TreeWatch, verdict: Verdict, kill_after: float) -> int:
    pids = tree.pids()
    _say(
        f"pid {pid}: {verdict.text} ({len(pids)} process{'es' if len(pids) != 1 else ''}; SIGTERM, "
        "SIGKILL "
        f"{kill_after:g}s later)"
    )
    left = proctree.end(pids, kill_after)
    _say(
        f"pid {pid}: its tree has ended"
        if not left
        else f"still alive after SIGKILL: {', '.join(map(str, left))}"
    )
    return TIMEOUT if verdict.why == Reason.TIMEOUT else KILLED


class _Exit:
    """Wakes the wait when the process ends: a pidfd where the kernel has one, else a bounded
    sleep."""

    def __init__(self, pid: int) -> None:
        self.fd = -1
        if hasattr(os, "pidfd_open") and proctree.use_proc():
            try:
                self.fd = os.pidfd_open(pid)
            except OSError:
                self.fd = -1

    def __enter__(self) -> _Exit:
        return self

    def __exit__(self, *_: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)

    def wait(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        if self.fd >= 0:
            select.select([self.fd], [], [], seconds)
        else:
            time.sleep(seconds)


