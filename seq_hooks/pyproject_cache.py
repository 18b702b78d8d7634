"""The [tool.seq-hooks] table of a pyproject.toml, parsed once for each version of the file.

Parsing costs a run more than all of seq-hooks' own modules: the TOML parser imports typing,
datetime and string (docs/performance.md). So the table read from a file is kept in the project's
state dir, keyed by what tells one version of the file from another: its device, inode, size, mtime
and ctime. The kernel sets ctime at each change and nothing sets it back, so a changed file never
matches an old entry, except for a second change within the same tick of the file system's clock (up
to 2 s on some): a version is kept only once it has left its tick, as git does with a "racily clean"
index entry. The cache is only a shortcut: when it cannot be read or written, the file is parsed as
if there were none.
"""
from __future__ import annotations

import os
import stat
import time

from seq_hooks import jsontext
from seq_hooks.errors import FatalError
from seq_hooks.project import ensure_private_dir
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

NAME = "pyproject-cache.json"
# a version this old has left its clock tick (FAT's is 2 s, most are finer)
SETTLED_NS = 2_000_000_000
MOST_ENTRIES = 32  # one for each worktree sharing the state dir; the longest unwritten go first
_MOST_BYTES = 1 << 20


def table(
    path: str, st: os.stat_result, cache_dir: str, parse: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The table `parse` reads from `path` (whose fstat is `st`): from the cache when this version
    is there."""
    key = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    entries = _entries(os.path.join(cache_dir, NAME))
    entry = entries.get(path)
    if (
        isinstance(entry, list)
        and len(entry) == 2
        and entry[0] == key
        and isinstance(entry[1], dict)
    ):
        return entry[1]
    found = parse()
    if time.time_ns() - st.st_ctime_ns >= SETTLED_NS:
        entries.pop(path, None)
        entries[path] = [key, found]
        _store(cache_dir, dict(list(entries.items())[-MOST_ENTRIES:]))
    return found


def _entries(path: str) -> dict[str, Any]:
    """The cache's entries by pyproject path; {} when there is no cache, or it is not ours or not
    one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return {}
        data = os.read(fd, _MOST_BYTES)
        entries = jsontext.loads(data)
    except (OSError, ValueError, RecursionError):  # hostile or half-made state is no cache
        return {}
    finally:
        os.close(fd)
    return entries if isinstance(entries, dict) else {}


def _store(cache_dir: str, entries: dict[str, Any]) -> None:
    """Writes the cache whole (a temporary file renamed over it), or leaves it as it was."""
    try:
        data = jsontext.dumps(entries, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError):  # a date or time in the table: parsed each time
        return
    if len(data) > _MOST_BYTES:
        return
    tmp = os.path.join(cache_dir, f".{NAME}.{os.getpid()}")
    try:
        ensure_private_dir(cache_dir)
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(cache_dir, NAME))
    # a full disk, a read-only or refused state dir: no shortcut this time
    except (OSError, FatalError):
        try:
            os.unlink(tmp)
        except OSError:
            pass
