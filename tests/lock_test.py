from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from seq_hooks import journal
from testing.queue import queue, start, start_holder
from testing.util import (
    alive,
    assert_no_overlap,
    fixture,
    reap,
    run,
    seq_hooks,
    tickets,
    wait_for_file,
    wait_until,
)


def test_twenty_concurrent_runs_never_overlap(isolated: Path) -> None:
    stamps = isolated / "stamps"
    procs = [start(seq_hooks("run", "--", *fixture("stamp.py", stamps, f"u{i}", 0.01))) for i in range(20)]
    try:
        assert [p.wait(60) for p in procs] == [0] * 20
    finally:
        for p in procs:
            reap(p)
    assert_no_overlap(stamps, 20)
    records = journal.read(str(isolated / ".git" / "seq-hooks"))
    assert len(records) == 20
    for r in records:  # complete and parseable after concurrent appends
        assert r["exit"] == 0 and r["lock"] == "default"
        assert r["enqueued"] <= r["started"] <= r["ended"]
        assert r["argv"][1].endswith("stamp.py")
    assert not tickets(queue(isolated))  # everyone left the queue


def test_waiters_are_served_in_arrival_order(isolated: Path) -> None:
    holder, gate = start_holder(isolated)
    waiters = []
    try:
        for i in range(5):
            waiters.append(start(seq_hooks("run", "--", "sh", "-c", f"echo w{i} >> {isolated / 'order'}")))
            wait_until(lambda n=i: len(tickets(queue(isolated))) == n + 2, what=f"waiter {i} queued")
        gate.touch()
        assert holder.wait(30) == 0
        assert [w.wait(30) for w in waiters] == [0] * 5
    finally:
        for p in (holder, *waiters):
            reap(p)
    assert (isolated / "order").read_text().split() == ["holder", "w0", "w1", "w2", "w3", "w4"]


@pytest.mark.parametrize("portable", [False, True])
def test_killed_holder_command_is_ended_before_the_next_unit_starts(isolated: Path, portable: bool) -> None:
    env = {**os.environ, "SEQ_HOOKS_PORTABLE": "1"} if portable else None  # psutil finds the run token too
    pidfile = isolated / "orphan.pid"
    holder = start(seq_hooks("run", "--", *fixture("ignore_term.py", pidfile, 60)))
    orphan = int(wait_for_file(pidfile))
    holder.send_signal(signal.SIGKILL)  # the runner dies; its command keeps running, the lock is released
    holder.wait(10)
    assert alive(orphan)
    check = f"import sys; sys.exit(1 if open('/proc/{orphan}/stat').read().rsplit(')',1)[1].split()[0] != 'Z' else 0)"
    # the next unit finds the dead holder's ticket, ends its leftovers by run token, then runs
    p = run(seq_hooks("run", "--", "sh", "-c", f"! test -e /proc/{orphan} || python3 -c \"{check}\""), env=env)
    assert p.returncode == 0, p.stderr
    assert not alive(orphan)


def test_max_wait_exits_75_naming_thestart_holder(isolated: Path) -> None:
    holder, gate = start_holder(isolated)
    try:
        start_t = time.monotonic()
        p = run(seq_hooks("run", "--max-wait", "1", "--", "true"))
        assert p.returncode == 75
        assert 0.9 < time.monotonic() - start_t < 5
        assert "held by pid" in p.stderr and "gate.py" in p.stderr
        env = {**os.environ, "SEQ_HOOKS_MAX_WAIT": "0.3"}
        assert run(seq_hooks("run", "--", "true"), env=env).returncode == 75
    finally:
        gate.touch()
        reap(holder)


def test_waiters_interrupted_leave_the_queue_and_others_keep_order(isolated: Path) -> None:
    holder, gate = start_holder(isolated)
    order = isolated / "order"
    procs = []
    try:
        for i in range(3):
            procs.append(start(seq_hooks("run", "--", "sh", "-c", f"echo w{i} >> {order}")))
            wait_until(lambda n=i: len(tickets(queue(isolated))) == n + 2, what=f"waiter {i} queued")
        procs[1].send_signal(signal.SIGINT)
        assert procs[1].wait(10) == 130
        procs[2].send_signal(signal.SIGTERM)
        assert procs[2].wait(10) == 143
        procs.append(start(seq_hooks("run", "--", "sh", "-c", f"echo w3 >> {order}")))
        wait_until(lambda: len(tickets(queue(isolated))) == 3, what="last waiter queued")
        gate.touch()
        assert holder.wait(30) == 0
        assert procs[0].wait(30) == 0 and procs[3].wait(30) == 0
    finally:
        for p in (holder, *procs):
            reap(p)
    assert order.read_text().split() == ["holder", "w0", "w3"]


def test_waiting_is_visible_on_stderr(isolated: Path) -> None:
    holder, gate = start_holder(isolated)
    try:
        waiter = start(seq_hooks("run", "--", "true"))
        assert waiter.stderr is not None
        line = waiter.stderr.readline()
        assert "waiting for lock 'default' (next" in line and "held by pid" in line
        gate.touch()
        assert waiter.wait(30) == 0
    finally:
        gate.touch()
        for p in (holder, waiter):
            reap(p)


def test_pipeline_deadline_caps_nested_runs(isolated: Path) -> None:
    env = {**os.environ, "SEQ_HOOKS_PIPELINE_TIMEOUT": "1"}
    inner = " ".join(seq_hooks("run", "--json", "--", "sleep", "30"))
    late = " ".join(seq_hooks("run", "--", "true"))
    script = f"{inner} > {isolated / 'inner.json'}; sleep 1; {late}"
    p = run(seq_hooks("run", "--timeout", "0", "--", "sh", "-c", script), env=env, timeout=30)
    inner_result = json.loads((isolated / "inner.json").read_text())
    assert inner_result["exit_code"] == 124 and inner_result["duration_s"] < 2
    assert p.returncode == 124
    assert "pipeline deadline" in p.stderr


def test_leaked_deadline_without_a_holder_is_ignored(isolated: Path) -> None:
    env = {**os.environ, "SEQ_HOOKS_DEADLINE": str(time.time() - 100)}
    assert run(seq_hooks("run", "--", "true"), env=env).returncode == 0


def test_named_locks_are_separate_queues(isolated: Path) -> None:
    holder, gate = start_holder(isolated, lock_name="mine")
    try:
        assert run(seq_hooks("run", "--max-wait", "2", "--", "true")).returncode == 0
        assert run(seq_hooks("run", "--lock", "mine", "--max-wait", "0.2", "--", "true")).returncode == 75
        bad = run(seq_hooks("run", "--lock", "../x", "--", "true"))
        assert bad.returncode == 2 and "invalid lock name" in bad.stderr
    finally:
        gate.touch()
        reap(holder)


def test_python_api_runs_through_the_queue(isolated: Path) -> None:
    import seq_hooks

    result = seq_hooks.run(["sh", "-c", "echo api; exit 3"], timeout=10)
    assert result.exit_code == 3 and result.stdout == "api\n" and result.lock == "default"
    assert seq_hooks.run(["sleep", "5"], timeout=0.2).reason == "timeout"
    records = journal.read(str(isolated / ".git" / "seq-hooks"))
    assert [r["exit"] for r in records] == [3, 124]


def test_machine_scope_puts_projects_on_one_queue(isolated: Path) -> None:
    from testing.util import git_repo

    other = git_repo(isolated.parent / "other")
    for repo in (isolated, other):
        (repo / "pyproject.toml").write_text('[tool.seq-hooks]\nscope = "machine"\n')
    env = {**os.environ, "XDG_STATE_HOME": str(isolated.parent / "state")}
    gate, pidfile = isolated / "gate", isolated / "holder.pid"
    holder = subprocess.Popen(seq_hooks("run", "--", *fixture("gate.py", pidfile, gate, isolated / "order", "h")),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_file(pidfile)
        p = run(seq_hooks("run", "--max-wait", "0.3", "--", "true"), cwd=other, env=env)
        assert p.returncode == 75  # the other project waits for this one's holder
        assert (isolated.parent / "state" / "seq-hooks" / "machine" / "locks" / "default").is_dir()
        assert not (other / ".git" / "seq-hooks").exists()
    finally:
        gate.touch()
        reap(holder)
