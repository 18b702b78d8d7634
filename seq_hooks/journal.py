"""The journal: one JSON line per unit in <state>/journal.jsonl, appended under flock.

It keeps itself bounded: past MAX_BYTES (about 20,000 runs) the newest half is kept, written to a
new file that replaces the old one under the same flock. A writer that locked the old file meanwhile
sees that the path now names another file and opens it again, so no line is lost.

A line left torn by a writer that died mid-write is ended before the next record, so it costs only
itself. Names that are not UTF-8 (a file `caf\\xe9.txt` in argv, a working directory) arrive as
surrogate escapes: such a record is written with JSON \\u escapes, which read back to the same str
(os.fsencode gives the bytes).

A line is a `Record`: `encode` is its one writer and `decode` its one reader. What decode cannot use
is skipped, and counted: a torn line, a field of the wrong type, NaN or infinity, a negative amount,
a time out of range, nesting deeper than a record has.
"""
from __future__ import annotations

import fcntl
import os
import zlib

from seq_hooks import jsontext
from seq_hooks.errors import FatalError
from seq_hooks.project import open_private
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NAME = "journal.jsonl"
MAX_BYTES = 8 * 1024 * 1024
LATEST = 253402300799.0  # 9999-12-31: a time past it cannot be shown
_INF = float("inf")


def unit_key(argv: list[str]) -> str:
    """The one key under which a unit's history is kept: its command line with the tool's own path
    reduced to its name (worktrees with their own virtualenv share history), as 16 hex digits."""
    words = [os.path.basename(argv[0]), *argv[1:]] if argv else []
    raw = jsontext.dumps(words, ensure_ascii=False).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}"


class Record(NamedTuple):
    """One unit's run: a line of the journal, these keys in this order."""

    # the queue it went through ("default", "git", "default/nested/<token>"); None: --no-lock
    lock: str | None = None
    pid: int = 0  # the runner's
    token: str = ""  # the run token its processes carried
    argv: list[str] = []  # noqa: RUF012 (never mutated: a record is read or replaced whole)
    cwd: str = ""
    enqueued: float = 0.0  # epoch seconds; 0: not known
    started: float = 0.0
    ended: float = 0.0
    waited_s: float = 0.0
    duration_s: float = 0.0
    exit: int | None = None  # the exit status seq-hooks gave for it
    reason: str = ""  # how it ended: a word of errors.Reason
    message: str = ""  # a sentence when seq-hooks ended the command
    peak_rss_mb: float = 0.0
    attempts: int = 1
    log: str | None = None  # None: no log was kept
    key: str = ""  # unit_key(argv): the history its expected peak is learned from
    # what admission assumed (a lock with slots or a budget); 0: nothing assumed
    expected_mb: int = 0
    daemon: str = ""  # the daemon it talked to, when it did


_BAD = object()  # what a field's reader returns for a value no record can hold


def _text(v: object) -> object:
    return v if type(v) is str else _BAD


def _text_or_none(v: object) -> object:
    return v if v is None or type(v) is str else _BAD


def _whole(v: object) -> object:
    return v if type(v) is int else _BAD


def _whole_or_none(v: object) -> object:
    return v if v is None or type(v) is int else _BAD


def _size(v: object) -> object:
    """Whole MB, not negative; None (written for 0 by earlier versions) is 0."""
    return 0 if v is None else v if type(v) is int and v >= 0 else _BAD


def _words(v: object) -> object:
    return v if type(v) is list and all(type(w) is str for w in v) else _BAD


def _time(v: object) -> object:
    return v if (type(v) is int or type(v) is float) and 0 <= v <= LATEST else _BAD


def _amount(v: object) -> object:
    """A duration or a size: finite and not negative (NaN fails both comparisons)."""
    return v if (type(v) is int or type(v) is float) and 0 <= v < _INF else _BAD


_READERS: dict[str, Callable[[object], object]] = {
    "lock": _text_or_none,
    "pid": _whole,
    "token": _text,
    "argv": _words,
    "cwd": _text,
    "enqueued": _time,
    "started": _time,
    "ended": _time,
    "waited_s": _amount,
    "duration_s": _amount,
    "exit": _whole_or_none,
    "reason": _text,
    "message": _text,
    "peak_rss_mb": _amount,
    "attempts": _whole,
    "log": _text_or_none,
    "key": _text,
    "expected_mb": _size,
    "daemon": _text,
}


class Read(NamedTuple):
    records: list[Record]  # oldest first
    skipped: int  # lines that were not a usable record


def _open_locked(path: str) -> int:
    """The journal opened for appending and flocked; reopened if a trim replaced it while we
    waited."""
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
    """Where the newest half of `data` (whole lines) starts. When the second half holds no line end
    but the last, the last line alone is kept: a trim never drops the record just written."""
    size = len(data)
    cut = data.find(b"\n", size // 2, max(size - 1, 0))
    if cut >= 0:
        return cut + 1
    return data.rfind(b"\n", 0, max(size - 1, 0)) + 1


def _trim(fd: int, path: str) -> None:
    """Keeps the newest half of the journal: a new file, renamed over the old one (readers see one
    or the other)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0)
    tmp = f"{path}.{os.getpid()}.tmp"
    out = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        os.write(out, data[keep_from(data) :])
    finally:
        os.close(out)
    os.rename(tmp, path)


def _dumps(doc: dict[str, object]) -> bytes:
    """One line; \\u escapes only where a str holds a surrogate escape (a name that was not
    UTF-8)."""
    text = jsontext.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    try:
        return (text + "\n").encode()
    except UnicodeEncodeError:
        return (jsontext.dumps(doc, separators=(",", ":")) + "\n").encode()


def encode(record: Record) -> bytes:
    """The record's line: a JSON object of its fields, in order."""
    return _dumps(dict(zip(Record._fields, record, strict=True)))


def _refuse(constant: str) -> float:
    # NaN and Infinity are not JSON: refused like any other unparsable text
    raise ValueError(constant)


def decode(line: bytes) -> Record | None:
    """The record a line holds, or None when it holds none the readers can use (see the module's
    docstring). Keys a record does not have are ignored, and a missing one takes its default: lines
    written by another version of seq-hooks still read."""
    try:
        doc = jsontext.loads(line, parse_constant=_refuse)
    # RecursionError: nesting deeper than the interpreter's stack
    except (ValueError, RecursionError):
        return None
    if type(doc) is not dict or "argv" not in doc:
        return None
    values = []
    for name, default in Record._field_defaults.items():
        value = _READERS[name](doc.get(name, default))
        if value is _BAD:
            return None
        values.append(value)
    return Record._make(values)


def key_needle(key: str) -> bytes:
    """Bytes that every line of a record with this key contains, as encode writes them: a cheap
    filter before decode for a reader that looks for one unit's records."""
    return _dumps({"key": key})[1:-2]


def append(state_dir: str, record: Record) -> None:
    line = encode(record)
    path = os.path.join(state_dir, NAME)
    fd = _open_locked(path)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # a writer died mid-line: end its torn line, or it swallows this record
            line = b"\n" + line
        os.write(fd, line)
        if size + len(line) > MAX_BYTES:
            _trim(fd, path)
    finally:
        os.close(fd)  # closing drops the flock


def parse(data: bytes) -> Read:
    out: list[Record] = []
    skipped = 0
    for raw in data.splitlines():
        if not raw.strip():
            continue
        record = decode(raw)
        if record is None:
            skipped += 1
        else:
            out.append(record)
    return Read(out, skipped)


def read_all(state_dir: str) -> Read:
    """Every usable record, oldest first, and how many lines were skipped (torn, foreign, out of
    range)."""
    path = os.path.join(state_dir, NAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return Read([], 0)
    with os.fdopen(fd, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        data = f.read()
    return parse(data)


def read(state_dir: str) -> list[Record]:
    """Every usable record, oldest first."""
    return read_all(state_dir).records


def skipped_note(prog: str, skipped: int) -> str:
    """What a reader says on stderr when it skipped lines."""
    return (
        f"{prog}: skipped {skipped} line{'s' if skipped != 1 else ''} of the journal that could "
        "not be read "
        "(torn, not JSON, or a value out of range)\n"
    )


def stamp(state_dir: str) -> tuple[int, int] | None:
    """(inode, size) of the journal, None when there is none: it changes whenever a record is added
    (a trim replaces the file), so a reader knows when to read again without reading."""
    try:
        st = os.stat(os.path.join(state_dir, NAME), follow_symlinks=False)
    except OSError:
        return None
    return st.st_ino, st.st_size


def _tail(state_dir: str, max_bytes: int) -> list[bytes]:
    """The raw lines of the last `max_bytes` of the journal, oldest first, without the first (maybe
    cut) line when the journal is longer."""
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
    except OSError:  # a directory in its place, an I/O error: no history, and the run goes on
        return []
    finally:
        os.close(fd)
    lines = data.split(b"\n")
    return lines[1:] if start else lines


def recent(state_dir: str, key: str, max_bytes: int) -> Iterator[Record]:
    """The records with `key` in the last `max_bytes` of the journal, newest first: for a reader
    that wants a unit's few recent runs without decoding every line."""
    needle = key_needle(key)
    for raw in reversed(_tail(state_dir, max_bytes)):
        if needle in raw and (record := decode(raw)) is not None and record.key == key:
            yield record
