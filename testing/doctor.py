"""Helpers for the tests of `seq-hooks doctor` and its checks."""
from __future__ import annotations

import os
import subprocess

from testing.util import run, seq_hooks


def doctor_run(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(seq_hooks("doctor"), env={**os.environ, **(env or {})})


def lines(out: str, topic: str) -> list[str]:
    """The report's lines of one topic."""
    return [line for line in out.splitlines() if f" {topic} " in line]
