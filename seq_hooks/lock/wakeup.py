"""The release FIFO, `.release` in a queue's directory: how a releaser wakes the head of the queue,
and how the head listens (docs/design.md, "Capacity").

Every releaser writes a byte to it; the head of a lock with slots or a budget sleeps in select() on
it. No wake-up depends on that one path:
- the head opens it for reading and writing: with a writer of its own, its read end never reports a
  hang-up (once a releaser had closed its end, select() returned at once, for good, and the head
  spun until admitted);
- the head listens again when the path was removed or replaced (a person's or an agent's `rm` of
  "stale" files); what is in its place but is not a FIFO it can open (a file, a directory, a
  symlink, one it may not read) is replaced: the queue directory is ours
  (project.ensure_private_dir);
- a releaser that finds no FIFO writes to the head's own descriptor of it, found in /proc/<pid>/fd
  (Linux);
- the head also looks again on a clock (admission.RELEASE_RECHECK), whatever it heard.
"""
from __future__ import annotations

import os
import stat

from seq_hooks.lock import tickets

_OPEN = os.O_NOFOLLOW | os.O_CLOEXEC


def fifo_path(qdir: str) -> str:
    return os.path.join(qdir, tickets.RELEASE)


def notify(qdir: str) -> None:
    """Tells the head of the queue that a holder released; nothing happens when nobody waits. A
    releaser calls it only where a waiter holds a gate (queue.Held.release)."""
    try:
        fd = os.open(fifo_path(qdir), os.O_WRONLY | os.O_NONBLOCK | _OPEN)
    # no FIFO there (never made, removed, something else in its place) or nobody listens (ENXIO)
    except OSError:
        _wake_the_head(qdir)
        return
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b".")
        else:  # a file in its place: never written into
            _wake_the_head(qdir)
    except OSError:  # EAGAIN: the pipe is full, so the head has been told already
        pass
    finally:
        os.close(fd)


def _wake_the_head(qdir: str) -> None:
    """The head (the oldest waiter that holds a gate) may listen on a FIFO removed or replaced under
    it: writes to its own descriptor of that FIFO, the one /proc/<pid>/fd names as ours (with "
    (deleted)" once it was removed)."""
    gates = tickets.gate_tokens(qdir)
    if not gates:
        return
    head = next(
        (t for t in tickets.read_queue(qdir) if t.alive and t.granted is None and t.token in gates),
        None,
    )
    if head is None:
        return
    fifo = os.path.join(os.path.realpath(qdir), tickets.RELEASE)
    fd_dir = f"/proc/{head.pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return  # not Linux, or not ours to look at: the head's clock wakes it
    for n in fds:
        try:
            if os.readlink(f"{fd_dir}/{n}") in (fifo, f"{fifo} (deleted)"):
                _poke(f"{fd_dir}/{n}")
        except OSError:
            continue


def _poke(fd_path: str) -> None:
    fd = os.open(fd_path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b".")
    finally:
        os.close(fd)


def _open(path: str) -> int | None:
    """The FIFO at `path`, made if missing, open for reading and writing; None when what is there is
    not one."""
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        # a FIFO opened so never blocks (Linux, macOS)
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | _OPEN)
    except OSError:  # a symlink (O_NOFOLLOW), a directory, one we may not open
        return None
    if stat.S_ISFIFO(os.fstat(fd).st_mode):
        return fd
    os.close(fd)
    return None


def _same(path: str, fd: int) -> bool:
    """Whether `path` is still the file `fd` has open."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


class Listener:
    """The head's end of the release FIFO: `fd` to select() on, None while no FIFO can be had (the
    head's clock and its pidfds still wake it; `problem` says why, for status and doctor)."""

    def __init__(self, qdir: str) -> None:
        self.path = fifo_path(qdir)
        self.fd: int | None = None
        self.check()

    def check(self) -> None:
        """Listens (again) when the FIFO is not the one we have open: made, or what is in its place
        replaced."""
        if self.fd is not None and _same(self.path, self.fd):
            return
        self.close()
        self.fd = _open(self.path)
        if self.fd is None and tickets.remove(self.path):
            self.fd = _open(self.path)

    def drain(self) -> None:
        try:
            while self.fd is not None and os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def problem(qdir: str) -> str:
    """What is in the place of the release FIFO that is not a FIFO we can use, in a few words (""
    when it is one, or when there is none: it is made when someone first waits)."""
    path = fifo_path(qdir)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ""
    except OSError as e:
        return f"cannot be looked at ({e.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISFIFO(st.st_mode):
        return "is not a FIFO"
    if not os.access(path, os.R_OK | os.W_OK):
        return f"may not be opened (mode {stat.S_IMODE(st.st_mode):04o})"
    return ""

