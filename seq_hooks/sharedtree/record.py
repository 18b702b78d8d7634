"""The record of a commit that has the working tree stashed: a JSON file in the state dir, flocked
by its commit.

The commit holds an exclusive flock on its record from before it touches the tree until it has put
everything back; the kernel drops the flock when the commit dies, however it dies. So a record whose
flock can be taken belongs to a dead commit, and its stash is put back by the next seq-hooks command
(sharedtree.recover). The record is written under a temporary name, flocked, then renamed into
place: no reader ever sees it unflocked while its commit lives. Looking for records is one directory
listing (the package's `records`: every command does it).
"""
from __future__ import annotations

import fcntl
import json
import os

from seq_hooks import sharedtree
from seq_hooks.errors import USAGE, FatalError
from seq_hooks.project import ensure_private_dir
from seq_hooks.records import NamedTuple

DIR = sharedtree.DIR


class Held(NamedTuple):
    """A record we hold (a live commit's own, or a dead one's claimed for recovery)."""

    path: str
    fd: int
    data: dict[str, object]

    def release(self) -> None:
        """Removes the record (its stash is settled), then drops the flock."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)

    def abandon(self) -> None:
        """Drops the flock and leaves the record: the next seq-hooks command settles it."""
        os.close(self.fd)


def directory(state_dir: str) -> str:
    return os.path.join(state_dir, DIR)


def folder(state_dir: str) -> str:
    """The records' directory, made (private) when missing; FatalError (exit 2) when it cannot
    be."""
    try:
        return ensure_private_dir(directory(state_dir))
    except FatalError as e:
        raise FatalError(
            f"{e.message}; the commit stops before touching the working tree", USAGE
        ) from None


def create(state_dir: str, name: str, data: dict[str, object]) -> Held:
    """Writes and flocks the record of a commit about to stash; FatalError (exit 2) when it
    cannot."""
    try:
        folder = ensure_private_dir(directory(state_dir))
        path = os.path.join(folder, name + sharedtree.SUFFIX)
        tmp = os.path.join(folder, f".{name}.new")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(json.dumps(data).encode())
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            os.rename(tmp, path)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
    except (OSError, FatalError) as e:
        why = e.message if isinstance(e, FatalError) else e.strerror or str(e)
        raise FatalError(
            f"cannot write the stash record in {directory(state_dir)}: {why}; the commit stops "
            f"before touching the working tree",
            USAGE,
        ) from None
    return Held(path, fd, data)


def read(path: str) -> dict[str, object] | None:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def live(path: str) -> bool:
    """Whether the commit that wrote this record still holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def claim(path: str) -> Held | None:
    """A dead commit's record, flocked for us to settle; None when its commit lives, another command
    has it, or it is gone (settled meanwhile)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_nlink == 0:
            raise BlockingIOError  # settled and removed while we opened it
        data = read(path)
    except BlockingIOError:
        os.close(fd)
        return None
    if data is None:
        data = {}
    return Held(path, fd, data)
