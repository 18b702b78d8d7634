"""rungroup: a cgroup of the run's own counts the tree in one read (where the machine lets us make one)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from seq_hooks.process.rungroup import RunGroup
from testing.util import reap


def _group() -> RunGroup:
    group = RunGroup.make(f"test-{os.getpid()}-{os.urandom(3).hex()}")
    if group is None:
        pytest.skip("this machine lets us make no cgroup (not root, no delegated cgroup)")
    return group


def test_a_process_and_its_children_are_counted(isolated: Path) -> None:
    group = _group()
    proc = subprocess.Popen(["sh", "-c", "read x; sleep 30 & sleep 30 & wait"], stdin=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert group.add(proc.pid)
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        from testing.util import wait_until

        wait_until(lambda: len(group.pids()) == 3, what="the shell and its two sleeps in the group")
        assert proc.pid in group.pids()
        nested = os.path.join(group.path, "seq-hooks-nested")
        os.mkdir(nested)
        with open(os.path.join(nested, "cgroup.procs"), "w") as f:
            f.write(str(group.pids()[-1]))
        assert len(group.pids()) == 3  # a nested run's group counts as part of ours
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        reap(proc)
    from testing.util import wait_until

    wait_until(lambda: not group.pids(), what="the group to empty")
    group.remove()
    assert not os.path.exists(group.path)


def test_adding_a_gone_process_fails_quietly() -> None:
    group = _group()
    try:
        assert not group.add(2**22 + 3)
        assert group.pids() == []
    finally:
        group.remove()


def test_the_backstop_stops_forks_past_what_it_allows(isolated: Path) -> None:
    from testing.util import wait_until

    group = _group()
    err = isolated / "err"
    with err.open("w") as f:
        proc = subprocess.Popen(["sh", "-c", "read x; for i in 1 2 3 4 5; do sleep 30 & done; wait"],
                                stdin=subprocess.PIPE, stderr=f, text=True, start_new_session=True)
    try:
        assert group.add(proc.pid)
        assert group.tasks() == 1
        group.allow(3)  # the shell and two sleeps
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
        wait_until(lambda: "fork" in err.read_text().lower(), what="the shell to fail to fork")
        assert len(group.pids()) <= 3 and (group.tasks() or 0) <= 3
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in group.pids():
            os.kill(pid, signal.SIGKILL)
        reap(proc)
    wait_until(lambda: not group.pids(), what="the group to empty")
    group.remove()


def test_empty_groups_of_dead_runners_are_swept(isolated: Path) -> None:
    """A runner killed with SIGKILL cannot remove its group: the next one removes it once it is empty and old."""
    from seq_hooks.process import rungroup

    probe = _group()
    parent = os.path.dirname(probe.path)
    probe.remove()
    tag = f"{os.getpid()}-{os.urandom(3).hex()}"
    stale, fresh, busy = (os.path.join(parent, f"{rungroup.PREFIX}{kind}-{tag}") for kind in ("stale", "fresh", "busy"))
    for path in (stale, fresh, busy):
        os.mkdir(path)
    old = time.time() - 2 * rungroup.STALE
    os.utime(stale, (old, old))
    os.utime(busy, (old, old))
    proc = subprocess.Popen(["sleep", "30"])
    try:
        assert RunGroup(busy).add(proc.pid)
        made = RunGroup.make(f"sweeper-{tag}")
        assert made is not None
        assert not os.path.exists(stale)
        assert os.path.exists(fresh) and os.path.exists(busy)  # too new to judge; a process in it
        made.remove()
    finally:
        reap(proc)
    for path in (fresh, busy):
        RunGroup(path).remove()
