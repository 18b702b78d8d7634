"""The journal: one JSON line per unit in <state>/journal.jsonl, appended under flock.

It keeps itself bounded: past MAX_BYTES (about 20,000 runs) the newest half is kept, written to a new file that
replaces the old one under the same flock. A writer that locked the old file meanwhile sees that the path now
names another file and opens it again, so no line is lost.
"""
from __future__ import annotations

import fcntl
import json
import os
from typing import Any

from seq_hooks.errors import FatalError
from seq_hooks.project import open_private

NAME = "journal.jsonl"


MAX_BYTES = 8 * 1024 * 1024


def _open_locked(path: str) -> int:
    """The journal opened for appending and flocked; reopened if a trim replaced it while we waited."""
    for _ in range(100):
        fd = open_private(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise FatalError(f"{path}: keeps being replaced while seq-hooks appends to it")


def _trim(fd: int, path: str) -> None:
    """Keeps the newest half of the journal: a new file, renamed over the old one (readers see one or the other)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    cut = data.find(b"\n", size // 2) + 1
    tmp = f"{path}.{os.getpid()}.tmp"
    out = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(out, data[cut:])
    finally:
        os.close(out)
    os.rename(tmp, path)


def append(state_dir: str, record: dict[str, Any]) -> None:
    line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    path = os.path.join(state_dir, NAME)
    fd = _open_locked(path)
    try:
        os.write(fd, line)
        if os.fstat(fd).st_size > MAX_BYTES:
            _trim(fd, path)
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


def tail(state_dir: str, max_bytes: int) -> list[bytes]:
    """The raw lines of the last `max_bytes` of the journal, oldest first, without the first (maybe cut) line
    when the journal is longer: for readers that look for a few recent records without parsing them all."""
    path = os.path.join(state_dir, NAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        size = os.fstat(fd).st_size
        start = max(size - max_bytes, 0)
        data = os.pread(fd, size - start, start)
    finally:
        os.close(fd)
    lines = data.split(b"\n")
    return lines[1:] if start else lines
