"""`seq-hooks watch --pid P`: a process the test started itself (not through seq-hooks), watched and
ended."""
from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from testing.util import alive, fixture, reap, run, seq_hooks, wait_for_file

SEQ = shlex.join(seq_hooks())


def start(cmd: list[str], user: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=user)


def test_a_tree_past_its_memory_limit_is_killed_137(isolated: Path) -> None:
    """The guides' memory_monitor.sh --pid P --limit MB: the memory is in P's child, the whole tree
    is ended."""
    pidfile = isolated / "eater.pid"
    eater = shlex.join(fixture("eat_memory.py", 400, 300, 60, pidfile))
    parent = start(["sh", "-c", f"{eater} & wait"])
    try:
        eater_pid = int(wait_for_file(pidfile))
        begun = time.monotonic()
        p = run(seq_hooks("watch", "--pid", parent.pid, "--memory-limit", "100"))
        assert p.returncode == 137, p.stderr
        assert time.monotonic() - begun < 20
        assert "memory limit 100 MB exceeded" in p.stderr and f"pid {parent.pid}" in p.stderr
        assert parent.wait(10) != 0 and not alive(eater_pid)
    finally:
        reap(parent)


def test_a_process_that_ends_by_itself_exits_0(isolated: Path) -> None:
    proc = start(["sleep", "0.5"])
    try:
        p = run(seq_hooks("watch", "--pid", proc.pid, "--memory-limit", "500"))
        assert p.returncode == 0, p.stderr
        assert f"pid {proc.pid} ended by itself after" in p.stderr
    finally:
        reap(proc)


def test_the_timeout_kills_the_tree_124(isolated: Path) -> None:
    pids = isolated / "sleepers"
    proc = start(
        [
            "sh",
            "-c",
            f"sleep 30 & a=$!; sleep 30 & echo $a $! > {pids}.tmp; mv {pids}.tmp {pids}; wait",
        ]
    )
    try:
        sleepers = [int(x) for x in wait_for_file(pids).split()]
        begun = time.monotonic()
        p = run(seq_hooks("watch", "--pid", proc.pid, "--timeout", "0.5", "--quiet"))
        assert p.returncode == 124, p.stderr
        assert time.monotonic() - begun < 15
        proc.wait(10)
        assert not any(alive(pid) for pid in sleepers)
        assert p.stderr.startswith(f"seq-hooks watch: pid {proc.pid}: timeout 0.5s: killed")
        assert "(3 processes; SIGTERM, SIGKILL 5s later)" in p.stderr
    finally:
        reap(proc)


def test_watching_the_shell_that_started_it_never_kills_itself(isolated: Path) -> None:
    """`memory_monitor.sh --pid $$ &` as the pipeline guide used it: the watcher is inside the tree
    it watches."""
    pidfile, out, watcher = isolated / "eater.pid", isolated / "watch.out", isolated / "watcher.pid"
    eater = shlex.join(fixture("eat_memory.py", 400, 300, 60, pidfile))
    script = (f"{SEQ} watch --pid $$ --memory-limit 100 > {out} 2>&1 & echo $! > {watcher}; "
              f"while [ ! -s {out} ]; do sleep 0.01; done; {eater}; wait")
    proc = start(["sh", "-c", script])
    try:
        assert proc.wait(30) != 0  # the shell was killed with its tree
        deadline = time.monotonic() + 20
        while alive(int(watcher.read_text())) and time.monotonic() < deadline:
            time.sleep(0.02)
        text = out.read_text()
        assert "memory limit 100 MB exceeded" in text, text
        # said after the kill: the watcher outlived it
        assert f"pid {proc.pid}: its tree has ended" in text
    finally:
        reap(proc)


@pytest.mark.parametrize(("pid", "needle"), [
    ("1", "--pid 1: not a process to watch"),
    ("0", "--pid 0: not a process to watch"),
    ("4194304", "--pid 4194304: no such process"),
    ("x", "--pid takes a whole number"),
])
def test_pids_that_cannot_be_watched_exit_2(isolated: Path, pid: str, needle: str) -> None:
    p = run(seq_hooks("watch", "--pid", pid))
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr


def test_no_pid_is_a_usage_error(isolated: Path) -> None:
    p = run(seq_hooks("watch", "--memory-limit", "10"))
    assert p.returncode == 2 and "--pid is required" in p.stderr


def test_itself_is_refused(isolated: Path) -> None:
    # exec: the shell's pid becomes the watcher's
    p = run(["sh", "-c", f"exec {SEQ} watch --pid $$"])
    assert p.returncode == 2 and "that is this seq-hooks watch itself" in p.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="starting another user's process needs root")
def test_another_users_process_is_refused(isolated: Path) -> None:
    proc = start(["sleep", "30"], user=65534)
    try:
        p = run(seq_hooks("watch", "--pid", proc.pid, "--memory-limit", "1"))
        assert p.returncode == 2 and "runs as uid 65534, not as you" in p.stderr
        assert proc.poll() is None  # not touched
    finally:
        proc.kill()
        reap(proc)
