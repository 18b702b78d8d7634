"""Planting queue state for tests: a dead ticket, a process carrying a run token, a finished run's
record."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from seq_hooks import journal
from seq_hooks.lock import tickets
from testing.util import fixture, seq_hooks, wait_for_file

STATE = Path(".git") / "seq-hooks"


def plant_ticket(qdir: Path, number: int, argv: list[str], token: str, granted: bool) -> Path:
    """A ticket as tickets.make writes it, whose owner is dead: nobody holds its flock."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    qdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    head = tickets.encode_head(dead.pid, token, argv, str(qdir), time.time() - 9, [])
    path = Path(tickets.path(str(qdir), number))
    path.write_bytes(head + (tickets.encode_granted(time.time() - 8) if granted else b""))
    path.chmod(0o600)
    return path


def start_with_token(repo: Path, name: str, token: str) -> subprocess.Popen[bytes]:
    """A process carrying SEQ_HOOKS_RUN=<token>, as one left behind by a run would."""
    proc = subprocess.Popen(
        fixture("pidfile.py", repo / f"{name}.pid", 60), env={**os.environ, "SEQ_HOOKS_RUN": token}
    )
    wait_for_file(repo / f"{name}.pid")
    return proc


def finished_run(repo: Path, token: str) -> None:
    """The journal record of a run that has ended."""
    (repo / STATE).mkdir(mode=0o700, exist_ok=True)
    journal.append(
        str(repo / STATE),
        journal.Record(
            lock="default",
            pid=1,
            token=token,
            argv=["old"],
            enqueued=1.0,
            started=2.0,
            ended=3.0,
            exit=0,
            reason="exit",
            peak_rss_mb=1,
        ),
    )


def queue(repo: Path, name: str = "default") -> Path:
    return repo / STATE / "locks" / name


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def start_holder(repo: Path, name: str = "holder", lock_name: str = "default",
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], Path]:
    """A `seq-hooks run` holding the lock until the returned gate file is touched (it appends `name`
    to repo/order when it starts). Returns once its command runs."""
    gate = repo / f"gate-{name}"
    pidfile = repo / f"{name}.pid"
    proc = start(
        seq_hooks(
            "run",
            "--lock",
            lock_name,
            "--",
            *fixture("gate.py", pidfile, gate, repo / "order", name),
        ),
        env,
    )
    wait_for_file(pidfile)
    return proc, gate
