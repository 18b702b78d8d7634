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
    end_orphan,
    fixture,
    reap,
    run,
    seq_hooks,
    tickets,
    wait_for_file,
    wait_until,
)

# the plain lock (lock.py): one unit at a time (slots = 1); admission_test.py tests slots
pytestmark = pytest.mark.usefixtures("one_at_a_time")


def test_twenty_concurrent_runs_never_overlap(isolated: Path) -> None:
    stamps = isolated / "stamps"
    procs = [
        start(seq_hooks("run", "--", *fixture("stamp.py", stamps, f"u{i}", 0.01)))
        for i in range(20)
    ]
    try:
        assert [p.wait(60) for p in procs] == [0] * 20
    finally:
        for p in procs:
            reap(p)
    assert_no_overlap(stamps, 20)
    records = journal.read(str(isolated / ".git" / "seq-hooks"))
    assert len(records) == 20
    for r in records:  # complete and parseable after concurrent appends
        assert r.exit == 0 and r.lock == "default"
        assert r.enqueued <= r.started <= r.ended
        assert r.argv[1].endswith("stamp.py")
    assert not tickets(queue(isolated))  # everyone left the queue


def test_waiters_are_served_in_arrival_order(isolated: Path) -> None:
    holder, gate = start_holder(isolated)
    waiters = []
    try:
        for i in range(5):
            waiters.append(
                start(seq_hooks("run", "--", "sh", "-c", f"echo w{i} >> {isolated / 'order'}"))
            )
            wait_until(
                lambda n=i: len(tickets(queue(isolated))) == n + 2, what=f"waiter {i} queued"
            )
        gate.touch()
        assert holder.wait(30) == 0
        assert [w.wait(30) for w in waiters] == [0] * 5
    finally:
        for p in (holder, *waiters):
            reap(p)
    assert (isolated / "order").read_text().split() == ["holder", "w0", "w1", "w2", "w3", "w4"]


@pytest.mark.parametrize("portable", [False, True])
def test_killed_holder_command_is_ended_before_the_next_unit_starts(
    isolated: Path, portable: bool
) -> None:
    # psutil finds the run token too
    env = {**os.environ, "SEQ_HOOKS_PORTABLE": "1"} if portable else None
    pidfile = isolated / "orphan.pid"
    holder = start(seq_hooks("run", "--", *fixture("ignore_term.py", pidfile, 60)))
    orphan = int(wait_for_file(pidfile))
    # the runner dies; its command keeps running, the lock is released
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    assert alive(orphan)
    # the next unit finds the dead holder's ticket, ends its leftovers by run token, then runs
    p = run(seq_hooks("run", "--", *fixture("gone.py", orphan)), env=env)
    assert p.returncode == 0, p.stderr
    assert not alive(orphan)


def test_max_wait_exits_75_naming_thestart_holder(isolated: Path) -> None:
    holder, gate = start_holder(isolated)
    try:
        start_t = time.monotonic()
        p = run(seq_hooks("run", "--max-wait", "1", "--", "true"))
        assert p.returncode == 75
        assert 0.9 < time.monotonic() - start_t < 5
        # its command line follows, cut to 80 characters
        assert f"held by pid {holder.pid} (" in p.stderr
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
            wait_until(
                lambda n=i: len(tickets(queue(isolated))) == n + 2, what=f"waiter {i} queued"
            )
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
        assert (
            run(seq_hooks("run", "--lock", "mine", "--max-wait", "0.2", "--", "true")).returncode
            == 75
        )
        for name in ("../x", ""):  # an empty name is an error, not the default lock
            bad = run(seq_hooks("run", "--lock", name, "--", "touch", "ran"))
            assert bad.returncode == 2 and "invalid lock name" in bad.stderr
            assert not (isolated / "ran").exists()
    finally:
        gate.touch()
        reap(holder)


def test_python_api_runs_through_the_queue(isolated: Path) -> None:
    import seq_hooks

    result = seq_hooks.run(["sh", "-c", "echo api; exit 3"], timeout=10)
    assert result.exit_code == 3 and result.stdout == "api\n" and result.lock == "default"
    assert seq_hooks.run(["sleep", "5"], timeout=0.2).reason == "timeout"
    records = journal.read(str(isolated / ".git" / "seq-hooks"))
    assert [r.exit for r in records] == [3, 124]


def test_machine_scope_puts_projects_on_one_queue(isolated: Path) -> None:
    from testing.util import git_repo

    other = git_repo(isolated.parent / "other")
    for repo in (isolated, other):
        (repo / "pyproject.toml").write_text('[tool.seq-hooks]\nscope = "machine"\n')
    env = {**os.environ, "XDG_STATE_HOME": str(isolated.parent / "state")}
    gate, pidfile = isolated / "gate", isolated / "holder.pid"
    holder = subprocess.Popen(
        seq_hooks("run", "--", *fixture("gate.py", pidfile, gate, isolated / "order", "h")),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_file(pidfile)
        p = run(seq_hooks("run", "--max-wait", "0.3", "--", "true"), cwd=other, env=env)
        assert p.returncode == 75  # the other project waits for this one's holder
        assert (isolated.parent / "state" / "seq-hooks" / "machine" / "locks" / "default").is_dir()
        assert not (other / ".git" / "seq-hooks").exists()
    finally:
        gate.touch()
        reap(holder)


_UNPARSABLE = {
    "unpadded": ("1.ticket", b"garbage"),
    "torn": ("000000000001.ticket", b'{"pid": 12, "token": "ab'),
    "binary": ("000000000001.ticket", b"\x00\xff\xfe garbage"),
    "over-1MiB": (
        "000000000001.ticket",
        json.dumps(
            {
                "pid": 12,
                "token": "t",
                "argv": ["x" * (1 << 20)],
                "cwd": "/",
                "since": 1.0,
                "granted": 2.0,
                "holds": [],
            }
        ).encode()
        + b"\n",
    ),
    "a FIFO": ("000000000001.ticket", None),
    "a directory": ("000000000001.ticket", b""),
}


@pytest.mark.parametrize("kind", sorted(_UNPARSABLE))
def test_a_dead_ticket_that_cannot_be_parsed_never_blocks_the_queue(
    isolated: Path, kind: str
) -> None:
    """Issue 10 item 1: whatever a dead owner's ticket holds, the next caller takes it over at once
    (before, it spun at 100% CPU until --max-wait), and status does not call the lock free
    meanwhile."""
    name, content = _UNPARSABLE[kind]
    q = queue(isolated)
    q.mkdir(parents=True, mode=0o700)
    if kind == "a FIFO":
        os.mkfifo(q / name)
    elif kind == "a directory":
        (q / name).mkdir()
    else:
        assert content is not None
        (q / name).write_bytes(content)
    status = run(seq_hooks("status"), timeout=20)
    assert status.returncode == 0 and ": free" not in status.stdout and "stale" in status.stdout, (
        status.stdout
    )
    t0 = time.monotonic()
    p = run(seq_hooks("run", "--max-wait", "10", "--", "true"), timeout=30)
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t0 < 8
    assert not os.path.lexists(q / name)


def _big_argv(kind: str) -> list[str]:
    if kind == "ascii":
        return [f"{i:06d}-" + "x" * 100 for i in range(11_000)]  # ~1.2 MB
    # ~820 KB of argv, ~2 MB as JSON
    return [f"测试用的很长的中文文件名称{i:05d}.py" for i in range(20_000)]


@pytest.mark.parametrize("kind", ["ascii", "cjk"])
def test_a_holder_with_a_huge_command_line_is_seen_and_verified_by_its_nested_runs(
    isolated: Path, kind: str
) -> None:
    """Issue 10 item 2: the ticket stays readable whatever the command line: status shows the
    holder, and a nested run inside it verifies its holder instead of queueing behind its own
    parent."""
    ready, gate = isolated / "ready", isolated / "gate"
    nested = " ".join(seq_hooks("run", "--max-wait", "5", "--", "echo", "nested-ok"))
    script = f"touch {ready}; while [ ! -e {gate} ]; do sleep 0.01; done; {nested}"
    holder = start(seq_hooks("run", "--", "sh", "-c", script, "sh", *_big_argv(kind)))
    try:
        wait_until(ready.exists, what="holder ready")
        doc = json.loads(run(seq_hooks("status", "--json")).stdout)
        mine = doc["locks"][0]["holder"]
        assert mine is not None and mine["pid"] == holder.pid
        assert mine["argv"][:3] == ["sh", "-c", script] and "more characters" in mine["argv"][-1]
        ticket = tickets(queue(isolated))[0]
        assert ticket.stat().st_size < 65536
        gate.touch()
        out, err = holder.communicate(timeout=30)
        assert holder.returncode == 0, err
        assert out == "nested-ok\n"
    finally:
        gate.touch()
        reap(holder)


def test_a_killed_holder_with_a_huge_command_line_is_taken_over(isolated: Path) -> None:
    pidfile = isolated / "left.pid"
    script = f"echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; exec sleep 60"
    holder = start(seq_hooks("run", "--", "sh", "-c", script, "sh", *_big_argv("cjk")))
    left = int(wait_for_file(pidfile))
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    try:
        p = run(
            seq_hooks(
                "run",
                "--max-wait",
                "20",
                "--",
                "sh",
                "-c",
                f'! test -e /proc/{left}/cmdline || test -z "$(cat /proc/{left}/cmdline)"',
            ),
            timeout=40,
        )
        assert p.returncode == 0, p.stderr
        assert not alive(left)
    finally:
        if alive(left):
            end_orphan(left)


_TITLE, _CLEAR = "\x1b]0;pwned\x07", "\x1b[2J\x1b[H"


def test_another_process_command_line_cannot_drive_the_waiters_terminal(isolated: Path) -> None:
    """Issue 10 item 13: the waiting note and the --max-wait message print the holder's argv
    cleaned."""
    pidfile, gate = isolated / "h.pid", isolated / "gate"
    holder = start(
        seq_hooks(
            "run",
            "--",
            "env",
            f"X={_TITLE}{_CLEAR}",
            *fixture("gate.py", pidfile, gate, isolated / "order", "h"),
        )
    )
    try:
        wait_for_file(pidfile)
        p = run(seq_hooks("run", "--max-wait", "1", "--", "true"))
        assert p.returncode == 75
        assert "waiting for lock" in p.stderr and "gave up after waiting" in p.stderr
        assert "pwned" in p.stderr
        assert not set(p.stderr) & {"\x1b", "\x07"}, repr(p.stderr)
    finally:
        gate.touch()
        reap(holder)


def _states(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_a_stopped_waiter_and_holder_are_shown_stopped(isolated: Path) -> None:
    """Issue 10 item 12: a stopped waiter (Ctrl-Z) freezes the queue when its turn comes; status and
    the next waiter's note say which pid is stopped."""
    holder, gate = start_holder(isolated)
    w1 = start(seq_hooks("run", "--", "true"))
    w2: subprocess.Popen[str] | None = None
    try:
        wait_until(lambda: len(tickets(queue(isolated))) == 2, what="waiter queued")
        w1.send_signal(signal.SIGSTOP)
        wait_until(lambda: _states(w1.pid) == "T", what="waiter stopped")
        text = run(seq_hooks("status")).stdout
        line = next(x for x in text.splitlines() if f"pid {w1.pid}" in x)
        assert "waiting" in line and f"stopped pid {w1.pid}" in line
        assert "stopped pid" not in next(x for x in text.splitlines() if "holding" in x)
        doc = json.loads(run(seq_hooks("status", "--json")).stdout)
        assert [w["stopped"] for w in doc["locks"][0]["waiting"]] == [True]
        os.kill(holder.pid, signal.SIGSTOP)  # the holder's runner, as Ctrl-Z would stop it
        wait_until(lambda: _states(holder.pid) == "T", what="holder stopped")
        doc = json.loads(run(seq_hooks("status", "--json")).stdout)
        assert doc["locks"][0]["holder"]["stopped"] is True
        w2 = start(seq_hooks("run", "--", "true"))
        assert w2.stderr is not None
        note = w2.stderr.readline()
        assert (
            f"pid {holder.pid} ahead is stopped" in note
            and f"pid {w1.pid} ahead is stopped" in note
        )
    finally:
        for p in (holder, w1):
            os.kill(p.pid, signal.SIGCONT)
        gate.touch()
        for p in (holder, w1, *([w2] if w2 else [])):
            reap(p)
