"""The journal: one JSON line per unit in <state>/journal.jsonl, appended under flock."""
from __future__ import annotations

import fcntl
import json
import os
from typing import Any

from seq_hooks.project import open_private

NAME = "journal.jsonl"


def append(state_dir: str, record: dict[str, Any]) -> None:
    line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    fd = open_private(os.path.join(state_dir, NAME), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)  # closing drops the flock


def read(state_dir: str) -> list[dict[str, Any]]:
    """Every complete record, oldest first; a torn or foreign line is skipped."""
    path = os.path.join(state_dir, NAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return []
    with os.fdopen(fd, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        data = f.read()
    out = []
    for raw in data.splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out
