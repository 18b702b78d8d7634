"""A daemon's record in the state dir: `daemons/<key>.json`, with its flock `<key>.lock` and its
files.

The record says which process it is (pid, start time, run token: a reused pid is not ours), for
which worktree, interpreter and options (the key), what it could not see change (the stat of each
such file when it started), and when it was last used. Every file of a daemon starts with its key:
`<key>.status` (dmypy's status file), `<key>.status.seen` and the others of FILES_BESIDE_STATUS,
`<key>.log`. The flock is held while a
unit talks to the daemon or while it is started or stopped: two commits in one worktree never talk
to one daemon at once.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

from seq_hooks.daemons import DIR
from seq_hooks.process import proctree
from seq_hooks.project import ensure_private_dir, open_private
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.sizes import MB

if TYPE_CHECKING:
    from collections.abc import Iterator

KINDS = ("mypy",)
# beside dmypy's status file: what it saw (`seen`), the files it checks first (`warm`), that it is
# ready (`ready`), and each one's temporary version
FILES_BESIDE_STATUS = ("seen", "seen.tmp", "warm", "ready", "ready.tmp")


class Record(NamedTuple):
    key: str  # 16 hex digits: the worktree, the interpreter, the tool and its options
    kind: str  # mypy
    pid: int
    start: int  # the process's start time (proctree.ProcInfo.start): a reused pid is someone else
    token: str  # its run token (SEQ_HOOKS_RUN): its tree is found by it
    worktree: str  # the directory it runs in
    argv: list[str]
    # what it cannot see change: path -> [mtime_ns, size, inode] when it started
    seen: dict[str, list[int] | None]
    started: float  # epoch seconds
    last_used: float
    idle_s: float  # stopped after this long unused
    peak_mb: float = 0.0  # the most it was seen to hold after a unit
    failed: str = ""  # why it could not start (pid 0): plain mypy until something in `seen` changes
    order_errors: int = 0  # `Cannot determine type` errors in its last answer (mypyd.order_errors)
    ready: bool = False  # it has checked its first files and listens (mypyd.ready)
    framed: bool = False  # its mypy frames messages as dmypy_check.py does

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


def directory(state_dir: str) -> str:
    return os.path.join(state_dir, DIR)


def path(state_dir: str, key: str, suffix: str) -> str:
    """One of a daemon's files: `.json` (its record), `.lock`, `.status`, `.log`."""
    return os.path.join(directory(state_dir), key + suffix)


def read(state_dir: str, key: str) -> Record | None:
    """The record, or None when there is none or it is not one (a damaged record is a daemon to
    stop)."""
    try:
        with open(path(state_dir, key, ".json"), encoding="utf-8") as f:
            data = json.load(f)
        return Record(**data)
    except (OSError, ValueError, TypeError):
        return None


def write(state_dir: str, rec: Record) -> None:
    """Writes the record whole (a reader never sees half of it)."""
    ensure_private_dir(directory(state_dir))
    target = path(state_dir, rec.key, ".json")
    tmp = f"{target}.{os.getpid()}.tmp"
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, json.dumps(rec.as_dict()).encode())
    finally:
        os.close(fd)
    os.replace(tmp, target)


def forget(state_dir: str, key: str) -> None:
    """Removes a stopped daemon's files (its lock file stays: another process may be waiting on
    it)."""
    for suffix in (".json", ".status", *(f".status.{end}" for end in FILES_BESIDE_STATUS)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path(state_dir, key, suffix))


def keys(state_dir: str) -> list[str]:
    try:
        names = os.listdir(directory(state_dir))
    except OSError:
        return []
    return sorted(n[:-5] for n in names if n.endswith(".json"))


def all_records(state_dir: str) -> list[Record]:
    return [r for r in (read(state_dir, k) for k in keys(state_dir)) if r is not None]


def alive(rec: Record) -> bool:
    """The recorded process still runs and is the one we started (same start time), not a reused
    pid."""
    info = proctree.info(rec.pid)
    return info is not None and info.state != "Z" and info.start == rec.start


def listening(state_dir: str, rec: Record) -> Record | None:
    """The record of a daemon that has become ready since it was started (it listens: it wrote
    `.ready` once its status file named it, and `.seen`), with what it said it saw; None while it
    is not ready. Reads only: `status` and the benchmarks ask it too."""
    if rec.ready:
        return rec
    status = path(state_dir, rec.key, ".status")
    try:
        with open(f"{status}.ready", encoding="utf-8") as f:
            said = json.load(f)
        with open(f"{status}.seen", encoding="utf-8") as f:
            seen = json.load(f)
        framed, errors = bool(said["framed"]), int(said["order_errors"])
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return None
    return rec._replace(ready=True, framed=framed, seen={**rec.seen, **seen},
                        order_errors=max(rec.order_errors, errors))


def took_its_options(state_dir: str, rec: Record) -> bool:
    """Whether the daemon got past its options (it wrote what it saw, `.seen`): one that ended
    before had them refused, and is remembered as failed (mypyd.not_starting), not forgotten."""
    return rec.ready or os.path.exists(path(state_dir, rec.key, ".status.seen"))


def stopped(rec: Record) -> bool:
    info = proctree.info(rec.pid)
    return info is not None and info.state in ("T", "t")


def rss_mb(rec: Record) -> float:
    """The daemon's memory now (RSS of it and what it started), 0 when it is gone."""
    if not alive(rec):
        return 0.0
    info = proctree.info(rec.pid)
    own = info.rss if info is not None else 0
    return (own + proctree.tree(rec.pid).rss) / MB


@contextlib.contextmanager
def held(state_dir: str, key: str, *, wait: bool) -> Iterator[bool]:
    """The daemon's flock: yields True when we hold it, False when another holds it and `wait` is
    False."""
    ensure_private_dir(directory(state_dir))
    fd = open_private(path(state_dir, key, ".lock"), os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def idle_since(rec: Record) -> float:
    return time.time() - rec.last_used
