from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from seq_hooks import journal
from seq_hooks.commands import history
from testing.util import fixture, reap, run, seq_hooks, tickets, wait_for_file, wait_until

STATE = Path(".git") / "seq-hooks"


@pytest.fixture
def runs(isolated: Path, one_at_a_time: None) -> list[subprocess.CompletedProcess[str]]:
    """A unit that waited behind a holder, then one of each way a unit ends."""
    gate = isolated / "gate"
    holder = subprocess.Popen(
        seq_hooks(
            "run",
            "--quiet",
            "--",
            *fixture("gate.py", isolated / "h.pid", gate, isolated / "order", "holder"),
        )
    )
    waiter = None
    try:
        wait_for_file(isolated / "h.pid")
        waiter = subprocess.Popen(seq_hooks("run", "--quiet", "--", "echo", "waited"))
        wait_until(
            lambda: len(tickets(isolated / STATE / "locks" / "default")) == 2,
            what="the waiter's ticket",
        )
        wait_until(lambda: _waiting_for(isolated) >= 0.3, what="the waiter to have waited")
        gate.touch()
        assert holder.wait(30) == 0 and waiter.wait(30) == 0
    finally:
        gate.touch()
        reap(holder)
        if waiter is not None:
            reap(waiter)
    return [
        run(seq_hooks("run", "--", "sh", "-c", "exit 3")),
        run(seq_hooks("run", "--timeout", "0.3", "--kill-after", "1", "--", "sleep", "10")),
        run(
            seq_hooks("run", "--memory-limit", "60", "--", *fixture("eat_memory.py", 400, 1000, 5))
        ),
        run(seq_hooks("run", "--", "sh", "-c", "kill -USR1 $$")),
        run(seq_hooks("run", "--", "no-such-command-xyz")),
        run(seq_hooks("run", "--no-lock", "--", "echo", "last")),
    ]


def _waiting_for(repo: Path) -> float:
    doc = json.loads(run(seq_hooks("status", "--json"), cwd=repo).stdout)
    waiting = doc["locks"][0]["waiting"] if doc["locks"] else []
    return waiting[0]["waited_s"] if waiting else 0.0


def _rows(text: str) -> list[tuple[str, str, str, str, str]]:
    """(lock, waited, exit, reason, command) of each line: when is two words, peak two, the command
    the rest."""
    out = []
    for line in text.splitlines()[1:]:
        w = line.split()
        out.append((w[2], w[3], w[5], w[6], " ".join(w[9:])))
    return out


def test_history_lists_runs_with_exits_and_reasons(
    runs: list[subprocess.CompletedProcess[str]],
) -> None:
    assert [r.returncode for r in runs] == [3, 124, 137, 128 + signal.SIGUSR1, 127, 0]
    out = run(seq_hooks("history"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].split() == [
        "when",
        "lock",
        "waited",
        "ran",
        "exit",
        "reason",
        "peak",
        "command",
    ]
    rows = _rows(out.stdout)
    assert [(lock, code, reason) for lock, _w, code, reason, _c in rows] == [
        ("default", "0", "exit"),
        ("default", "0", "exit"),
        ("default", "3", "exit"),
        ("default", "124", "timeout"),
        ("default", "137", "memory"),
        ("default", str(128 + signal.SIGUSR1), "signal"),
        ("default", "127", "not-found"),
        ("-", "0", "exit"),
    ]
    commands = [c for *_, c in rows]
    assert commands[0].endswith("order holder") and "eat_memory.py 400 1000 5" in commands[4]
    assert commands[1:4] == ["echo waited", "sh -c 'exit 3'", "sleep 10"]
    assert commands[5:] == ["sh -c 'kill -USR1 $$'", "no-such-command-xyz", "echo last"]
    waited = rows[1][1]
    assert float(waited.rstrip("s")) >= 0.3  # the unit that queued behind the holder
    assert float(out.stdout.splitlines()[5].split()[7]) > 40  # the memory hog's peak, in MB


def test_failed_and_count(runs: list[subprocess.CompletedProcess[str]]) -> None:
    failed = run(seq_hooks("history", "--failed"))
    assert [code for _l, _w, code, _r, _c in _rows(failed.stdout)] == [
        "3",
        "124",
        "137",
        "138",
        "127",
    ]
    last = run(seq_hooks("history", "-n", "2"))
    assert [c for *_, c in _rows(last.stdout)] == ["no-such-command-xyz", "echo last"]
    both = run(seq_hooks("history", "--failed", "-n", "1"))
    assert [c for *_, c in _rows(both.stdout)] == ["no-such-command-xyz"]
    everything = run(seq_hooks("history", "-n", "0"))
    assert len(_rows(everything.stdout)) == 8


def test_json_holds_the_journal_records(
    isolated: Path, runs: list[subprocess.CompletedProcess[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert history.main(["--json", "--failed", "-n", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == 1
    assert doc["runs"] == [r._asdict() for r in journal.read(str(isolated / STATE))[-3:-1]]
    assert [r["reason"] for r in doc["runs"]] == ["signal", "not-found"]
    assert {
        "lock",
        "argv",
        "started",
        "waited_s",
        "duration_s",
        "exit",
        "reason",
        "peak_rss_mb",
    } <= set(doc["runs"][0])


def test_many_more_runs_than_the_default_twenty(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(isolated / STATE)
    (isolated / STATE).mkdir(mode=0o700)
    for i in range(30):
        journal.append(
            state,
            journal.Record(
                lock="default",
                argv=["unit", str(i)],
                enqueued=1.0,
                started=2.0,
                ended=3.0,
                waited_s=1.0,
                duration_s=1.0,
                exit=i % 2,
                reason="exit",
                peak_rss_mb=1.5,
            ),
        )
    assert history.main([]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [c for *_, c in rows] == [f"unit {i}" for i in range(10, 30)]


def test_empty_journal(capsys: pytest.CaptureFixture[str]) -> None:
    assert history.main([]) == 0
    assert capsys.readouterr().out == "no runs in the journal yet\n"
    assert history.main(["--failed"]) == 0
    assert capsys.readouterr().out == "no failed runs in the journal\n"
    assert run(seq_hooks("history", "-n", "x")).returncode == 2


def test_unreadable_records_are_skipped_and_counted(isolated: Path) -> None:
    """NaN or a time out of range in one record used to end history with exit 125 (issue 10, item
    15)."""
    state = isolated / STATE
    state.mkdir(mode=0o700)
    good = journal.Record(
        lock="default",
        argv=["good"],
        enqueued=1.0,
        started=2.0,
        ended=3.0,
        exit=0,
        reason="exit",
        duration_s=1.0,
        waited_s=1.0,
        peak_rss_mb=1.0,
    )
    journal.append(str(state), good)
    with open(state / journal.NAME, "ab") as f:
        f.write(b'{"lock":"default","argv":["nan"],"started":NaN,"exit":0}\n')
        f.write(b'{"lock":"default","argv":["far"],"started":1e300,"exit":0}\n')
        f.write(b'{"lock":"default","argv":["torn"')
    journal.append(str(state), good._replace(argv=["after"]))
    p = run(seq_hooks("history"))
    assert p.returncode == 0, p.stderr
    assert [c for *_, c in _rows(p.stdout)] == ["good", "after"]
    assert p.stderr == (
        "seq-hooks history: skipped 3 lines of the journal that could not be read (torn, not JSON, "
        "or a value out of range)\n"
    )
    p = run(seq_hooks("history", "--json"))
    assert p.returncode == 0 and [r["argv"] for r in json.loads(p.stdout)["runs"]] == [
        ["good"],
        ["after"],
    ]
