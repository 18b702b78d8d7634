"""The supervisor: the exit-code rule (pure), and real commands under `seq-hooks run` for what it guarantees."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from seq_hooks.errors import KILLED, TIMEOUT
from seq_hooks.supervisor import exit_code
from testing.util import alive, fixture, run, seq_hooks


def _status(code: int = 0, sig: int = 0) -> int:
    """A wait status as waitpid(2) returns it."""
    return sig if sig else code << 8


@pytest.mark.parametrize(
    ("reason", "status", "interrupted_by", "expected"),
    [
        ("", _status(0), 0, (0, "exit")),
        ("", _status(3), 0, (3, "exit")),
        ("", _status(sig=signal.SIGUSR1), 0, (128 + signal.SIGUSR1, "signal")),
        ("", None, 0, (0, "exit")),
        ("timeout", _status(sig=signal.SIGTERM), 0, (TIMEOUT, "timeout")),
        ("memory", _status(sig=signal.SIGKILL), 0, (KILLED, "memory")),
        ("procs", _status(0), 0, (KILLED, "procs")),
        ("interrupted", _status(sig=signal.SIGINT), signal.SIGINT, (130, "interrupted")),
        ("interrupted", _status(0), signal.SIGHUP, (129, "interrupted")),
    ],
)
def test_exit_code_rule(reason: str, status: int | None, interrupted_by: int, expected: tuple[int, str]) -> None:
    assert exit_code(reason, status, interrupted_by) == expected


def _last_log() -> str:
    record = json.loads(run(seq_hooks("history", "--json", "-n", "1")).stdout)["runs"][0]
    return Path(record["log"]).read_text()


@pytest.mark.parametrize(("flag", "sig"), [("INT", signal.SIGINT), ("SIGUSR2", signal.SIGUSR2), ("1", 1)])
def test_kill_signal_is_the_one_the_command_gets(isolated: Path, flag: str, sig: int) -> None:
    pidfile = isolated / "child.pid"
    p = run(seq_hooks("run", "--timeout", "0.5", "--kill-signal", flag, "--", *fixture("record_signal.py", pidfile)))
    assert p.returncode == 124
    assert Path(f"{pidfile}.sig").read_text() == str(sig)
    assert f"timeout: {signal.Signals(sig).name} (and SIGCONT)" in _last_log()


def test_a_daemon_is_gone_when_run_returns_on_the_portable_path(isolated: Path) -> None:
    """Without /proc sampling and without a subreaper, the run token finds the setsid daemon: it is dead (not
    just signalled) by the time `run` returns."""
    pidfile = isolated / "daemon.pid"
    env = {**os.environ, "SEQ_HOOKS_PORTABLE": "1", "SEQ_HOOKS_NO_SUBREAPER": "1"}
    p = run(seq_hooks("run", "--timeout", "1", "--kill-after", "1", "--", "sh", "-c",
                      f"{' '.join(fixture('daemon.py', pidfile, 60))}; sleep 60"), env=env)
    assert p.returncode == 124
    assert not alive(int(pidfile.read_text()))


def test_a_daemon_is_waited_for_without_a_subreaper(isolated: Path) -> None:
    pidfile = isolated / "daemon.pid"
    env = {**os.environ, "SEQ_HOOKS_NO_SUBREAPER": "1"}
    start = time.monotonic()
    p = run(seq_hooks("run", "--", *fixture("daemon.py", pidfile, 1.0)), env=env)
    assert p.returncode == 0
    assert time.monotonic() - start >= 0.9  # its parent exited at once; the token scan found it and waited
    assert not alive(int(pidfile.read_text()))
