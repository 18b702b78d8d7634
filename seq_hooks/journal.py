"""The journal: one JSON line per unit in <state>/journal.jsonl, appended under flock.

It keeps itself bounded: past MAX_BYTES (about 20,000 runs) the newest half is kept, written to a new file that
replaces the old one under the same flock. A writer that locked the old file meanwhile sees that the path now
names another file and opens it again, so no line is lost.

A line left torn by a writer that died mid-write is ended before the next record, so it costs only itself. Names
that are not UTF-8 (a file `caf\\xe9.txt` in argv, a working directory) arrive as surrogate escapes: such a record
is written with JSON \\u escapes, which read back to the same str (os.fsencode gives the bytes). Readers skip
what they cannot use (a torn line, NaN, a time out of range) and count it.
"""
from __future__ import annotations

import fcntl
import json
import os
import zlib

from seq_hooks.errors import FatalError
from seq_hooks.project import open_private
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import Any

NAME = "journal.jsonl"
MAX_BYTES = 8 * 1024 * 1024
TIMES = ("enqueued", "started", "ended")
LATEST = 253402300799.0  # 9999-12-31: a time past it cannot be shown
_INF = float("inf")


def unit_key(argv: list[str]) -> str:
    """The one key under which a unit's history is kept: its command line with the tool's own path reduced to its
    name (worktrees with their own virtualenv share history), as 16 hex digits."""
    words = [os.path.basename(argv[0]), *argv[1:]] if argv else []
    raw = json.dumps(words, ensure_ascii=False).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}"


class Read(NamedTuple):
    records: list[dict[str, Any]]  # oldest first
    skipped: int  # lines that were not a usable record


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


def keep_from(data: bytes) -> int:
    """Where the newest half of `data` (whole lines) starts. When the second half holds no line end but the
    last, the last line alone is kept: a trim never drops the record just written."""
    size = len(data)
    cut = data.find(b"\n", size // 2, max(size - 1, 0))
    if cut >= 0:
        return cut + 1
    return data.rfind(b"\n", 0, max(size - 1, 0)) + 1


def _trim(fd: int, path: str) -> None:
    """Keeps the newest half of the journal: a new file, renamed over the old one (readers see one or the other)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    tmp = f"{path}.{os.getpid()}.tmp"
    out = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(out, data[keep_from(data) :])
    finally:
        os.close(out)
    os.rename(tmp, path)


def encode(record: dict[str, Any]) -> bytes:
    """One line; \\u escapes only where a str holds a surrogate escape (a name that was not UTF-8)."""
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    try:
        return (text + "\n").encode()
    except UnicodeEncodeError:
        return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def append(state_dir: str, record: dict[str, Any]) -> None:
    line = encode(record)
    path = os.path.join(state_dir, NAME)
    fd = _open_locked(path)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a writer died mid-line: end its torn line, or it swallows this record
        os.write(fd, line)
        if size + len(line) > MAX_BYTES:
            _trim(fd, path)
    finally:
        os.close(fd)  # closing drops the flock


def _refuse(constant: str) -> float:
    raise ValueError(constant)


def usable(record: object) -> bool:
    """A record the readers can show: an object whose numbers are finite and whose times are in range."""
    if not isinstance(record, dict):
        return False
    if any(isinstance(v, float) and not -_INF < v < _INF for v in record.values()):  # NaN fails both
        return False  # 1e400 reads as inf
    for key in TIMES:
        v = record.get(key)
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= LATEST):
            return False
    return True


def parse(data: bytes) -> Read:
    out: list[dict[str, Any]] = []
    skipped = 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            # NaN and Infinity are not JSON: refused like any other unparsable text
            record = json.loads(raw, parse_constant=_refuse)
        except (ValueError, RecursionError):
            record = None
        if usable(record):
            out.append(record)
        else:
            skipped += 1
    return Read(out, skipped)


def read_all(state_dir: str) -> Read:
    """Every usable record, oldest first, and how many lines were skipped (torn, foreign, out of range)."""
    path = os.path.join(state_dir, NAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return Read([], 0)
    with os.fdopen(fd, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        data = f.read()
    return parse(data)


def read(state_dir: str) -> list[dict[str, Any]]:
    """Every usable record, oldest first."""
    return read_all(state_dir).records


def skipped_note(prog: str, skipped: int) -> str:
    """What a reader says on stderr when it skipped lines."""
    return (f"{prog}: skipped {skipped} line{'s' if skipped != 1 else ''} of the journal that could not be read "
            "(torn, not JSON, or a time out of range)\n")


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
