"""Writing a file the user named (`report --html FILE`): whole or not at all, without being aimed elsewhere.

The text goes to a temporary file in the same directory, is fsynced and renamed over FILE, so FILE is either the
old one or the whole new one. A FILE that is a symlink of ours is written through (the link stays); one owned by
someone else is refused (a link planted in a shared directory such as /tmp must not aim our write). A FIFO or a
device is written to as it is, as a shell's `>` would.
"""
from __future__ import annotations

import os
import stat
import tempfile

from seq_hooks.errors import FAILED, FatalError


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
        raise FatalError(f"cannot write {path}: it is a symlink owned by uid {st.st_uid}, not followed", FAILED)
    return os.path.realpath(target)


def _write_special(path: str, data: bytes) -> bool:
    """Writes to a FIFO or device as a shell's `>` would (no rename possible); False for anything else."""
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            return False
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise FatalError(f"cannot write {path}: {e.strerror}", FAILED) from None
    try:
        _write_all(fd, data)
    except OSError as e:
        raise FatalError(f"cannot write {path}: {e.strerror}", FAILED) from None
    finally:
        os.close(fd)
    return True


def write(path: str, text: str) -> None:
    """Temp file in the same directory, fsync, rename: FILE is either the old one or the whole new one."""
    target = _target(path)
    data = text.encode(errors="replace")
    if _write_special(target, data):
        return
    directory = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
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
