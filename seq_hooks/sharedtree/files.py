"""One file of the shared working tree: what is there now, and a write that never lands over
someone's save.

A state is compared by content (a digest of the bytes, or of a symlink's target), never by mtime
alone: another writer can save within the same clock tick. A write goes to a temporary file beside
the target, the target is read again and compared with what we expect to find, and only then is the
temporary file renamed over it (a new file is linked into place, which fails if someone created it
meanwhile): a reader never sees half a file, and a save made before our compare is never
overwritten. The window left is between that compare and the rename (microseconds;
docs/design.md, "A shared working tree").
"""
from __future__ import annotations

import errno
import hashlib
import os
import stat

from seq_hooks.records import NamedTuple

FILE, LINK, GONE = "file", "link", "gone"


class State(NamedTuple):
    """What a path holds: a file (and whether it is executable), a symlink, or nothing; and a digest
    of it."""

    kind: str  # FILE, LINK, GONE
    executable: bool
    digest: str  # sha256 of the bytes (a symlink: of its target); "" when GONE


class Content(NamedTuple):
    """What to write at a path: a state with its bytes."""

    kind: str
    executable: bool
    data: bytes

    def state(self) -> State:
        return State(self.kind, self.executable, digest(self.data) if self.kind != GONE else "")


GONE_CONTENT = Content(GONE, False, b"")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(path: bytes) -> Content:
    """What is at `path` now (a directory or a special file in the way reads as GONE: git would not
    track it)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return GONE_CONTENT
    if stat.S_ISLNK(st.st_mode):
        return Content(LINK, False, os.readlink(path))
    if not stat.S_ISREG(st.st_mode):
        return GONE_CONTENT
    with open(path, "rb") as f:
        return Content(FILE, bool(st.st_mode & 0o100), f.read())


def state(path: bytes) -> State:
    return read(path).state()


def replace(path: bytes, expect: State, new: Content) -> bool:
    """Puts `new` at `path` if `path` still holds `expect`; False (and nothing written) when it does
    not."""
    if state(path) != expect:
        return False
    if new.kind == GONE:
        return _remove(path, expect)
    tmp = _temporary(path, new)
    try:
        if state(path) != expect:
            return False
        if expect.kind == GONE:
            try:
                # fails when someone created the file meanwhile: theirs stays
                os.link(tmp, path, follow_symlinks=False)
            except FileExistsError:
                return False
            return True
        os.rename(tmp, path)
        tmp = b""
        return True
    finally:
        if tmp:
            _unlink(tmp)


def _temporary(path: bytes, new: Content) -> bytes:
    """`new` written beside `path` under a name of our own (mode from the file it replaces, umask
    otherwise)."""
    head, name = os.path.split(path)
    if head:
        os.makedirs(head, exist_ok=True)
    tmp = os.path.join(head, b".%s.seq-hooks-%d" % (name, os.getpid()))
    _unlink(tmp)
    if new.kind == LINK:
        os.symlink(new.data, tmp)
        return tmp
    try:
        old = os.lstat(path)
        perms = stat.S_IMODE(old.st_mode) if stat.S_ISREG(old.st_mode) else None
    except OSError:
        perms = None
    if perms is None:
        mask = os.umask(0)
        os.umask(mask)
        perms = 0o666 & ~mask
    if new.executable:
        perms |= (perms & 0o444) >> 2  # executable wherever readable, as git checks it out
    else:
        perms &= ~0o111
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(new.data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, perms)
    except BaseException:
        os.close(fd)
        _unlink(tmp)
        raise
    os.close(fd)
    return tmp


def _remove(path: bytes, expect: State) -> bool:
    if expect.kind == GONE:
        return True
    _unlink(path)
    return True


def _unlink(path: bytes) -> None:
    try:
        os.unlink(path)
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
