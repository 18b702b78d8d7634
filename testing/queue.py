"""Planting queue state for tests: a dead ticket, a process carrying a run token, a finished run's record."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from seq_hooks import journal
from testing.util import fixture, wait_for_file

STATE = Path(".git") / "seq-hooks"


def plant_ticket(qdir: Path, number: int, argv: list[str], token: str, granted: bool) -> Path:
    """A ticket written the way lock._enqueue writes it, whose owner is dead: nobody holds its flock."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    qdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    head = {"pid": dead.pid, "token": token, "argv": argv, "cwd": str(qdir), "since": time.time() - 9, "holds": []}
    lines = json.dumps(head) + "\n" + (json.dumps({"granted": time.time() - 8}) + "\n" if granted else "")
    path = qdir / f"{number:012d}.ticket"
    path.write_text(lines)
    path.chmod(0o600)
    return path


def start_with_token(repo: Path, name: str, token: str) -> subprocess.Popen[bytes]:
    """A process carrying SEQ_HOOKS_RUN=<token>, as one left behind by a run would."""
    proc = subprocess.Popen(fixture("pidfile.py", repo / f"{name}.pid", 60), env={**os.environ, "SEQ_HOOKS_RUN": token})
    wait_for_file(repo / f"{name}.pid")
    return proc


def finished_run(repo: Path, token: str) -> None:
    """The journal record of a run that has ended."""
    (repo / STATE).mkdir(mode=0o700, exist_ok=True)
    journal.append(str(repo / STATE), {"lock": "default", "pid": 1, "token": token, "argv": ["old"], "enqueued": 1.0,
                                       "started": 2.0, "ended": 3.0, "exit": 0, "reason": "exit", "peak_rss_mb": 1})


