"""Writing a file the user named (`report --html FILE`): whole or not at all, without being aimed
elsewhere.

The text goes to a temporary file in the same directory, is fsynced and renamed over FILE, so FILE
is either the old one or the whole new one. A FILE that is a symlink of ours is written through (the
link stays); one owned by someone else is refused (a link planted in a shared directory such as /tmp
must not aim our write at a file). A FIFO or a device is written to as it is, as a shell's `>`
would, and so is our own standard output or error named as a file (`/dev/stdout` into a pipe, a
terminal or a file the shell opened for us: `/dev/stdout` is root's link to /proc/self/fd/1, whose
target reads `pipe:[N]`, and a file replaced by a rename would leave the shell's descriptor on the
old one).
"""
from __future__ import annotations

import os
import stat
import tempfile

from seq_hooks.errors import FAILED, FatalError

STDOUT, STDERR = 1, 2


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _target(path: str) -> str:
    """The file to replace: FILE, or where FILE's link points when the link is ours."""
    target = os.path.abspath(path)
    try:
        st = os.lstat(target)
    except OSError:
        return target
    if not stat.S_ISLNK(st.st_mode):
        return target
    if st.st_uid != os.geteuid():
        raise FatalError(
            f"cannot write {path}: it is a symlink owned by uid {st.st_uid}, not followed", FAILED
        )
    return os.path.realpath(target)


def _ours_to_write_through(path: str) -> bool:
    """Whether `path`, its links followed, is what a shell's `>` writes to in place: a FIFO, a
    terminal or another device (a block device not through someone else's link), a socket (refused
    by open), or the file our own stdout or stderr is."""
    try:
        st = os.stat(path)
        link = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISREG(st.st_mode):
        return any(_same(st, fd) for fd in (STDOUT, STDERR))
    if stat.S_ISBLK(st.st_mode):
        return not stat.S_ISLNK(link.st_mode) or link.st_uid == os.geteuid()
    return not stat.S_ISDIR(st.st_mode)


def _same(st: os.stat_result, fd: int) -> bool:
    try:
        mine = os.fstat(fd)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (st.st_dev, st.st_ino)


def names_stdout(path: str) -> bool:
    """Whether `path` is where our stdout goes (/dev/stdout, /dev/fd/1, the file or pipe it is): a
    note about the file written belongs on stderr then, not inside the file."""
    try:
        return _same(os.stat(path), STDOUT)
    except OSError:
        return False


def _write_through(path: str, data: bytes) -> None:
    """Writes to what `path` names in place, as a shell's `>` does (no rename: a FIFO, a device, our
    own stdout)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise FatalError(f"cannot write {path}: {e.strerror}", FAILED) from None
    try:
        _write_all(fd, data)
    except OSError as e:
        raise FatalError(f"cannot write {path}: {e.strerror}", FAILED) from None
    finally:
        os.close(fd)


def write(path: str, text: str) -> None:
    """Temp file in the same directory, fsync, rename: FILE is either the old one or the whole new
    one."""
    data = text.encode(errors="replace")
    if _ours_to_write_through(path):
        _write_through(path, data)
        return
    target = _target(path)
    directory = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp"
        )
    except OSError as e:
        raise FatalError(f"cannot write {path}: {e.strerror}", FAILED) from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException as e:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise FatalError(f"cannot write {path}: {e.strerror}", FAILED) from None
        raise
