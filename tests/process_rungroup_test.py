"""rungroup: a cgroup of the run's own counts the tree in one read (where the machine lets us make
one)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from seq_hooks.process import machine, proctree, rungroup
from seq_hooks.process.rungroup import RunGroup
from testing.queue import finished_run
from testing.util import alive, end_orphan, fixture, reap, run, seq_hooks, wait_for_file, wait_until


def _group() -> RunGroup:
    group = RunGroup.make(f"test-{os.getpid()}-{os.urandom(3).hex()}")
    if group is None:
        pytest.skip("this machine lets us make no cgroup (not root, no delegated cgroup)")
    return group


def test_a_process_and_its_children_are_counted(isolated: Path) -> None:
    group = _group()
    proc = subprocess.Popen(
        ["sh", "-c", "read x; sleep 30 & sleep 30 & wait"],
        stdin=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
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
        proc = subprocess.Popen(
            ["sh", "-c", "read x; for i in 1 2 3 4 5; do sleep 30 & done; wait"],
            stdin=subprocess.PIPE,
            stderr=f,
            text=True,
            start_new_session=True,
        )
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
    """A runner killed with SIGKILL cannot remove its group: the next one removes it once it is
    empty and old."""
    from seq_hooks.process import rungroup

    probe = _group()
    parent = os.path.dirname(probe.path)
    probe.remove()
    tag = f"{os.getpid()}-{os.urandom(3).hex()}"
    stale, fresh, busy = (
        os.path.join(parent, f"{rungroup.PREFIX}{kind}-{tag}")
        for kind in ("stale", "fresh", "busy")
    )
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


def _groups_of(token: str) -> list[str]:
    """The run's groups, wherever they are in the hierarchy."""
    _version, dirs = machine.cgroup_dirs("pids")
    name = f"{rungroup.PREFIX}{token}"
    return [os.path.join(d, name) for d, subdirs, _ in os.walk(dirs[-1]) if name in subdirs]


def _killed_runner(isolated: Path, where: str, *args: str) -> tuple[int, str]:
    """A `seq-hooks run --max-procs` started inside the cgroup `where` and SIGKILLed while its
    command runs: (the command's pid, the run's token). Its group stays, the command in it."""
    pidfile = isolated / "cmd.pid"
    runner = seq_hooks("run", "--max-procs", "50", *args, "--", *fixture("pidfile.py", pidfile, 60))
    enter = f'echo $$ > {where}/cgroup.procs && exec "$@"'
    proc = subprocess.Popen(["sh", "-c", enter, "sh", *runner])
    try:
        command = int(wait_for_file(pidfile))
        token = proctree.process(command).env("SEQ_HOOKS_RUN") or ""
        assert _groups_of(token), "the run made no group"
        proc.send_signal(signal.SIGKILL)
    finally:
        reap(proc)
    return command, token


def test_a_killed_holders_group_goes_with_the_take_over(isolated: Path) -> None:
    """Issue 20 item 10: a runner SIGKILLed under --max-procs cannot remove its cgroup; left inside
    a user's own group, it made that group's rmdir fail (EBUSY). The next caller's take-over (from
    another cgroup) ends the command and removes the dead run's group by its token."""
    probe = _group()
    users = os.path.join(os.path.dirname(probe.path), f"users-{os.getpid()}-{os.urandom(3).hex()}")
    probe.remove()
    os.mkdir(users)
    command = 0
    try:
        command, token = _killed_runner(isolated, users)
        p = run(seq_hooks("run", "--max-wait", "30", "--", "true"), timeout=60)
        assert p.returncode == 0, p.stderr
        assert not alive(command)
        assert not _groups_of(token)
        os.rmdir(users)  # no EBUSY
    finally:
        if command and alive(command):
            end_orphan(command)
        if os.path.isdir(users):
            RunGroup(users).remove()


def test_clean_removes_a_dead_runs_group_and_doctor_lists_it(isolated: Path) -> None:
    """A `--no-lock` run has no ticket for a take-over: `doctor` lists its group, `clean` ends its
    command (by its token) and removes the group."""
    probe = _group()
    parent = os.path.dirname(probe.path)
    probe.remove()
    command, token = _killed_runner(isolated, parent, "--no-lock")
    try:
        wait_until(lambda: getattr(proctree.info(command), "ppid", 0) == 1,
                   what="the command to be handed to init")
        p = run(seq_hooks("clean"))
        assert p.returncode == 0, p.stdout + p.stderr
        assert not alive(command)
        assert f"removed cgroup {parent}/{rungroup.PREFIX}{token}" in p.stdout
        assert not _groups_of(token)
    finally:
        if alive(command):
            end_orphan(command)
        for path in _groups_of(token):
            RunGroup(path).remove()


def test_doctor_lists_an_empty_group_a_dead_run_left(isolated: Path) -> None:
    probe = _group()
    token = os.urandom(8).hex()
    path = os.path.join(os.path.dirname(probe.path), f"{rungroup.PREFIX}{token}")
    probe.remove()
    os.mkdir(path)
    try:
        finished_run(isolated, token)  # its run is over: the journal says so
        p = run(seq_hooks("doctor"))
        assert "leftover cgroup" in p.stdout and path in p.stdout, p.stdout
        assert f"removed cgroup {path}" in run(seq_hooks("clean")).stdout
        assert not os.path.exists(path)
    finally:
        RunGroup(path).remove()
