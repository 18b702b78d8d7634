from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from seq_hooks.commands import status
from seq_hooks.lock.tickets import encode_memory
from testing.queue import plant_ticket
from testing.util import (
    Tmux,
    alive,
    fixture,
    needs,
    reap,
    run,
    seq_hooks,
    tickets,
    wait_for_file,
    wait_until,
)

# status of the plain lock (slots = 1): one holder, then the waiters in order; slots:
# admission_test.py
pytestmark = pytest.mark.usefixtures("one_at_a_time")


class Queue(NamedTuple):
    holder: subprocess.Popen[bytes]
    waiters: list[subprocess.Popen[bytes]]
    gate: Path


def queue_dir(repo: Path, name: str = "default") -> Path:
    return repo / ".git" / "seq-hooks" / "locks" / name


@contextlib.contextmanager
def live_queue(repo: Path, waiters: int = 2, holder_cmd: list[str] | None = None,
               ready: Path | None = None) -> Iterator[Queue]:
    """A holder (released by touching the gate; `ready` is its handshake file) and `waiters`
    waiters, queued in that order."""
    gate, order = repo / "gate", repo / "order"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        cmd = holder_cmd or fixture("gate.py", repo / "holder.pid", gate, order, "holder")
        procs.append(subprocess.Popen(seq_hooks("run", "--quiet", "--", *cmd)))
        wait_for_file(ready or repo / "holder.pid")
        for i in range(1, waiters + 1):
            w = fixture("gate.py", repo / f"w{i}.pid", gate, order, f"waiter{i}")
            procs.append(subprocess.Popen(seq_hooks("run", "--quiet", "--", *w)))
            wait_until(
                lambda n=i + 1: len(tickets(queue_dir(repo))) == n, what=f"ticket of waiter {i}"
            )
        yield Queue(procs[0], procs[1:], gate)
        gate.touch()
        assert [p.wait(30) for p in procs] == [0] * len(procs)
    finally:
        gate.touch()
        for p in procs:
            reap(p)


def test_status_shows_holder_then_waiters_in_order(isolated: Path) -> None:
    with live_queue(isolated) as q:
        out = run(seq_hooks("status"))
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout  # no colour when not on a terminal
    lines = out.stdout.splitlines()
    assert lines[0] == "lock default"
    holder, first, second = lines[1:4]
    assert holder.split()[:3] == ["holding", "pid", str(q.holder.pid)]
    assert (
        "tree" in holder
        and "1 proc " in holder
        and "gate.py" in holder
        and holder.endswith("holder")
    )
    assert first.split()[:4] == ["waiting", "1", "pid", str(q.waiters[0].pid)] and first.endswith(
        "waiter1"
    )
    assert second.split()[:4] == ["waiting", "2", "pid", str(q.waiters[1].pid)] and second.endswith(
        "waiter2"
    )


def test_status_json_is_ordered_and_answers_fast(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with live_queue(isolated) as q:
        start = time.monotonic()
        assert status.main(["--json"]) == 0
        took = time.monotonic() - start
        doc = json.loads(capsys.readouterr().out)
    assert took < 0.5, f"status took {took:.3f}s"
    assert doc["version"] == 1
    assert doc["state_dir"] == str(isolated / ".git" / "seq-hooks")
    [lock] = doc["locks"]
    assert lock["lock"] == "default" and lock["parent"] is None and lock["stale"] == []
    holder = lock["holder"]
    assert holder["pid"] == q.holder.pid
    assert holder["argv"][-1] == "holder" and holder["cwd"] == str(isolated)
    # the gate.py python under the runner
    assert holder["tree_procs"] == 1 and holder["tree_rss_mb"] > 1
    assert holder["elapsed_s"] >= 0 and holder["granted"] >= holder["enqueued"]
    assert [(w["position"], w["pid"], w["argv"][-1]) for w in lock["waiting"]] == [
        (1, q.waiters[0].pid, "waiter1"), (2, q.waiters[1].pid, "waiter2")]
    assert lock["waiting"][0]["waited_s"] > lock["waiting"][1]["waited_s"]


def test_nested_queue_is_shown_under_its_parent(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = isolated / "gate"
    inner = [
        shlex.join(
            seq_hooks(
                "run",
                "--quiet",
                "--",
                *fixture("gate.py", isolated / f"n{i}.pid", gate, isolated / "order", f"inner{i}"),
            )
        )
        for i in (1, 2)
    ]
    script = (
        f"{inner[0]} & until [ -s {isolated / 'n1.pid'} ]; do sleep 0.01; done; {inner[1]} & wait"
    )
    with live_queue(
        isolated, waiters=1, holder_cmd=["sh", "-c", script], ready=isolated / "n1.pid"
    ) as q:
        wait_until(
            lambda: len(list(queue_dir(isolated).glob("nested/*/*.ticket"))) == 2,
            what="nested tickets",
        )
        assert status.main(["--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert status.main([]) == 0
        text = capsys.readouterr().out
    top, nested = doc["locks"]
    assert top["lock"] == "default" and top["holder"]["pid"] == q.holder.pid
    assert [w["pid"] for w in top["waiting"]] == [q.waiters[0].pid]
    assert nested["parent"] == "default" and nested["lock"].startswith("default/nested/")
    assert nested["holder"]["argv"][-1] == "inner1"
    assert [w["argv"][-1] for w in nested["waiting"]] == ["inner2"]
    assert top["holder"]["tree_procs"] >= 4  # sh, the two nested runners, the inner holder
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("nested "))
    assert f"under pid {q.holder.pid}" in lines[at]
    assert lines[at + 1].startswith("    holding") and lines[at + 1].endswith("inner1")
    assert lines[at + 2].startswith("    waiting 1") and lines[at + 2].endswith("inner2")


def test_a_dead_ticket_is_shown_as_stale(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with live_queue(isolated, waiters=1) as q:
        stale = plant_ticket(
            queue_dir(isolated), 99, ["python", "dead-one"], os.urandom(8).hex(), granted=False
        )
        assert status.main(["--json"]) == 0
        [lock] = json.loads(capsys.readouterr().out)["locks"]
        assert status.main([]) == 0
        text = capsys.readouterr().out
        stale.unlink()
    assert lock["holder"]["pid"] == q.holder.pid
    assert [w["pid"] for w in lock["waiting"]] == [q.waiters[0].pid]
    assert [(s["ticket"], s["argv"]) for s in lock["stale"]] == [(99, ["python", "dead-one"])]
    assert "stale" in text and "ticket 99" in text and "dead-one" in text


def test_free_lock_and_no_lock_yet(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert status.main([]) == 0
    assert "no lock has been used" in capsys.readouterr().out
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    assert status.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "lock default: free" and lines[1].startswith("machine: ") and len(lines) == 2
    assert status.main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["locks"][0]["holder"] is None


def test_json_and_watch_do_not_go_together() -> None:
    p = run(seq_hooks("status", "--json", "--watch"))
    assert p.returncode == 2 and "do not go together" in p.stderr


def test_a_command_cannot_drive_the_terminal_through_status(isolated: Path) -> None:
    evil = "\x1b]0;pwned\x07\x1b[2J"
    with live_queue(
        isolated,
        waiters=0,
        holder_cmd=[
            *fixture(
                "gate.py", isolated / "holder.pid", isolated / "gate", isolated / "order", evil
            )
        ],
    ):
        out = run(seq_hooks("status")).stdout
    assert "\x1b" not in out and "\x07" not in out
    assert "?]0;pwned??[2J" in out


# --watch in a real terminal
# -------------------------------------------------------------------------------

needs_tmux = needs("tmux")


def _tmux(isolated: Path, env: str, width: int) -> Tmux:
    cmd = (
        f"cd {shlex.quote(str(isolated))} && {env} {shlex.join(seq_hooks('status', '--watch'))}; "
        "echo rc=$?; sleep 30"
    )
    return Tmux(isolated.parent, cmd, width=width)


def _query(tmux: Tmux, fmt: str) -> str:
    return subprocess.run(
        [*tmux.base, "display-message", "-p", fmt],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout.strip()


def _capture(tmux: Tmux, *flags: str) -> str:
    return subprocess.run(
        [*tmux.base, "capture-pane", "-p", *flags],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout


def _close(tmux: Tmux) -> None:
    server = int(_query(tmux, "#{pid}"))
    tmux.close()
    wait_until(lambda: not alive(server), timeout=10, what="the tmux server to end")


@needs_tmux
def test_watch_shows_the_queue_and_ends_cleanly_on_ctrl_c(isolated: Path) -> None:
    with live_queue(isolated) as q:
        tmux = _tmux(isolated, "", 120)
        try:
            screen = tmux.wait_for(f"pid {q.waiters[1].pid}")
            lines = [line for line in screen.splitlines() if line.strip()]
            assert lines[0].startswith("seq-hooks status")
            assert lines[1] == "lock default"
            assert lines[2].split()[:3] == ["holding", "pid", str(q.holder.pid)]
            assert lines[3].split()[:4] == ["waiting", "1", "pid", str(q.waiters[0].pid)]
            assert lines[4].split()[:4] == ["waiting", "2", "pid", str(q.waiters[1].pid)]
            assert _query(tmux, "#{alternate_on} #{cursor_flag}") == "1 0"
            assert "\x1b[32m" in _capture(tmux, "-e")  # colour on a terminal
            first = lines[0]
            # it refreshes
            wait_until(lambda: tmux.screen().splitlines()[0] != first, timeout=5, what="a redraw")
            tmux.send("C-c")
            screen = tmux.wait_for("rc=")
            assert "rc=0" in screen and "Traceback" not in screen and "interrupted" not in screen
            assert _query(tmux, "#{alternate_on} #{cursor_flag}") == "0 1"  # terminal restored
        finally:
            _close(tmux)


@needs_tmux
def test_watch_fits_a_narrow_terminal_and_respects_no_color(isolated: Path) -> None:
    with live_queue(isolated) as q:
        tmux = _tmux(isolated, "NO_COLOR=1", 40)
        try:
            tmux.wait_for(f"pid {q.waiters[1].pid}")
            joined = _capture(tmux, "-J")  # a line longer than the pane would come back joined
            assert all(len(line) <= 40 for line in joined.splitlines()), joined
            assert "…" in joined
            assert "\x1b[3" not in _capture(tmux, "-e")
            tmux.send("C-c")
            assert "rc=0" in tmux.wait_for("rc=")
        finally:
            _close(tmux)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 0), (signal.SIGTERM, 143)])
def test_watch_without_a_terminal_prints_plain_frames(isolated: Path, sig: int, code: int) -> None:
    proc = subprocess.Popen(
        seq_hooks("status", "--watch"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("seq-hooks status")
        assert proc.stdout.readline() == "no lock has been used in this project yet\n"
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=10)
        assert proc.returncode == code and "\x1b" not in rest and err == ""
    finally:
        reap(proc)


def test_status_shows_the_machine_and_the_running_units_processes(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = fixture("gate.py", isolated / "holder.pid", isolated / "gate", isolated / "o", "h")
    script = f"{shlex.join(gate)} & wait"
    with live_queue(isolated, waiters=1, holder_cmd=["sh", "-c", script]):
        assert status.main(["--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert status.main([]) == 0
        text = capsys.readouterr().out
    m = doc["machine"]
    # sh and gate.py; the waiter runs nothing yet
    assert m["running_units"] == 1 and m["running_procs"] == 2
    assert m["available_mb"] > 0 and len(m["load"]) == 3
    last = text.splitlines()[-1]
    assert last.startswith("machine: ") and "available, load " in last
    assert last.endswith("1 running unit, 2 processes")


@needs_tmux
def test_watch_keys_end_the_running_unit_by_its_token_after_a_confirmation(isolated: Path) -> None:
    """k, then n: nothing happens; k, then y: the unit's tree gets TERM, then KILL after kill_after
    (its command ignores TERM); a process with the same command line outside the unit lives on; q
    quits."""
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nkill_after = 1\n")
    pidfile, decoy_pid = isolated / "unit.pid", isolated / "decoy.pid"
    unit = subprocess.Popen(
        seq_hooks("run", "--quiet", "--", *fixture("ignore_term.py", pidfile, 120)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    decoy = subprocess.Popen(fixture("ignore_term.py", decoy_pid, 120))
    tmux = None
    try:
        child = int(wait_for_file(pidfile))
        wait_for_file(decoy_pid)
        tmux = _tmux(isolated, "", 160)
        tmux.wait_for(f"holding    pid {unit.pid}")
        tmux.send("k")
        screen = tmux.wait_for("y/N")
        assert f"end unit pid {unit.pid} (" in screen and "TERM, then KILL" in screen
        tmux.send("n")
        tmux.wait_for("cancelled")
        assert alive(child) and unit.poll() is None
        tmux.send("k")
        tmux.wait_for("y/N")
        started = time.monotonic()
        tmux.send("y")
        screen = tmux.wait_for(": ended", timeout=30)
        assert f"sent TERM to 1 process of unit pid {unit.pid} (KILL after 1s)" in screen
        # its command ended by SIGKILL, as a timeout would have ended it
        assert unit.wait(30) == 137
        assert time.monotonic() - started >= 1  # KILL came only after the grace
        assert not alive(child) and alive(decoy.pid)  # found by its token, never by its name
        tmux.wait_for(": free")
        tmux.send("q")
        screen = tmux.wait_for("rc=")
        assert "rc=0" in screen and "Traceback" not in screen
    finally:
        if tmux is not None:
            _close(tmux)
        reap(unit)
        reap(decoy)


def test_a_holder_past_half_of_its_memory_limit_is_shown(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runner appends the level its tree passed to its ticket (Held.note_memory); status shows
    it."""
    with live_queue(isolated, waiters=0) as q:
        [ticket] = tickets(queue_dir(isolated))
        for level in (50, 75):
            with open(ticket, "ab") as f:  # what the holder's note_memory writes
                f.write(encode_memory(level, 300))
            assert status.main([]) == 0
            holder = capsys.readouterr().out.splitlines()[1]
            assert f"passed {level}% of 300.0 MB" in holder and holder.endswith("holder")
        assert status.main(["--json"]) == 0
        h = json.loads(capsys.readouterr().out)["locks"][0]["holder"]
        assert (h["pid"], h["memory_level"], h["limit_mb"]) == (q.holder.pid, 75, 300)


def test_a_real_unit_past_half_its_memory_limit_is_flagged(isolated: Path) -> None:
    pidfile = isolated / "eater.pid"
    unit = subprocess.Popen(seq_hooks("run", "--quiet", "--memory-limit", "200", "--",
                                      *fixture("eat_memory.py", 130, 500, 60, pidfile)),
                            stdout=subprocess.DEVNULL)
    try:
        wait_for_file(pidfile)

        def level() -> int:
            doc = json.loads(run(seq_hooks("status", "--json")).stdout)
            holder = doc["locks"][0]["holder"] if doc["locks"] else None
            return int(holder["memory_level"]) if holder else 0

        wait_until(lambda: level() == 50, what="the holder's 50% note")
        line = next(x for x in run(seq_hooks("status")).stdout.splitlines() if "holding" in x)
        assert "passed 50% of 200.0 MB" in line and "75%" not in line
        unit.send_signal(signal.SIGTERM)  # the runner ends its command's tree on its way out
        assert unit.wait(30) == 143
    finally:
        reap(unit)


def test_status_shows_the_pipeline_deadline_and_the_time_left(isolated: Path) -> None:
    """A unit nested in a pipeline (a hook's unit inside a git hook) is killed at the pipeline
    deadline when that comes before its own timeout: status and --json say when, by what, and how
    long is left."""
    gate, pidfile = isolated / "gate", isolated / "inner.pid"
    inner = shlex.join(
        seq_hooks(
            "run", "--quiet", "--", *fixture("gate.py", pidfile, gate, isolated / "order", "inner")
        )
    )
    env = {**os.environ, "SEQ_HOOKS_PIPELINE_TIMEOUT": "40"}
    outer = subprocess.Popen(
        seq_hooks("run", "--quiet", "--pipeline", "--", "sh", "-c", inner), env=env
    )
    try:
        wait_for_file(pidfile)
        doc = json.loads(run(seq_hooks("status", "--json")).stdout)
        by_lock = {q["lock"]: q["holder"] for q in doc["locks"] if q["holder"]}
        top, nested = by_lock.pop("default"), next(iter(by_lock.values()))
        # the outer run's own timeout is the pipeline's (--pipeline): 40 s, and it set the deadline
        # for its calls
        assert top["deadline_of"] == "pipeline" and 30 < top["deadline_left_s"] <= 40
        assert nested["deadline_of"] == "pipeline" and 30 < nested["deadline_left_s"] <= 40
        assert abs(nested["pipeline_deadline"] - top["pipeline_deadline"]) < 0.01
        assert abs(nested["deadline"] - nested["pipeline_deadline"]) < 0.01
        assert 30 < nested["pipeline_left_s"] <= 40
        lines = [x for x in run(seq_hooks("status")).stdout.splitlines() if "holding" in x]
        assert len(lines) == 2 and all(
            re.search(r"ends in 3\d\.\ds \(pipeline deadline ", x) for x in lines
        ), lines
        gate.touch()
        assert outer.wait(30) == 0
    finally:
        gate.touch()
        reap(outer)


def test_status_shows_a_units_own_timeout(isolated: Path) -> None:
    gate, pidfile = isolated / "gate", isolated / "holder.pid"
    holder = subprocess.Popen(
        seq_hooks(
            "run",
            "--quiet",
            "--timeout",
            "100",
            "--",
            *fixture("gate.py", pidfile, gate, isolated / "order", "holder"),
        )
    )
    try:
        wait_for_file(pidfile)
        h = json.loads(run(seq_hooks("status", "--json")).stdout)["locks"][0]["holder"]
        assert h["deadline_of"] == "timeout" and 90 < h["deadline_left_s"] <= 100
        # the deadline its calls would run within (pipeline_timeout)
        assert 7100 < h["pipeline_left_s"] <= 7200
        line = next(x for x in run(seq_hooks("status")).stdout.splitlines() if "holding" in x)
        assert re.search(r"ends in 1m[34]\ds \(its timeout\)", line), line
        gate.touch()
        assert holder.wait(30) == 0
    finally:
        gate.touch()
        reap(holder)
