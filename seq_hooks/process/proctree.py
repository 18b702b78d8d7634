"""Process trees: who descends from whom, how much memory they hold, who carries a run token.

Reads /proc directly on Linux (50x cheaper than psutil per sample: docs/design.md, Processes) and
falls back to psutil elsewhere, or when SEQ_HOOKS_PORTABLE=1 forces the fallback so that it is
tested on Linux too. `processes()` is the one walk over every process of the machine; `ancestors()`
the one walk up the parents.
"""
from __future__ import annotations

import os
import select
import signal
import time

from seq_hooks import envnames
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def use_proc() -> bool:
    return os.environ.get(envnames.PORTABLE) != "1" and os.path.exists("/proc/self/stat")


class ProcInfo(NamedTuple):
    pid: int
    ppid: int
    rss: int  # bytes
    name: str
    state: str  # one letter, as in /proc/PID/stat ("Z" zombie, "T" stopped)
    # start time (clock ticks since boot; psutil: hundredths of a second since the epoch)
    start: int = 0
    pgrp: int = 0  # its process group
    session: int = 0  # its session (a daemon that called setsid has one of its own)
    tty: int = 0  # its controlling terminal's device number, 0 for none


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _parse_stat(pid: int, raw: bytes) -> ProcInfo:
    # the name is in parentheses and may itself hold spaces and parentheses
    lpar, rpar = raw.index(b"("), raw.rindex(b")")
    fields = raw[rpar + 2 :].split()
    name = raw[lpar + 1 : rpar].decode(errors="replace")
    ppid, pgrp, session, tty = (int(f) for f in fields[1:5])
    return ProcInfo(pid, ppid, int(fields[21]) * PAGE, name, fields[0].decode(), int(fields[19]),
                    pgrp, session, tty)


def info(pid: int) -> ProcInfo | None:
    """One process's parent, resident memory, name, state and start time; None when it is gone."""
    if use_proc():
        raw = _read(f"/proc/{pid}/stat")
        return None if raw is None else _parse_stat(pid, raw)
    import psutil  # psutil (~40 ms): only where there is no /proc

    try:
        p = psutil.Process(pid)
        with p.oneshot():
            state = "Z" if p.status() == psutil.STATUS_ZOMBIE else "R"
            return ProcInfo(pid, p.ppid(), p.memory_info().rss, p.name(), state,
                            int(p.create_time() * 100), os.getpgid(pid), os.getsid(pid),
                            1 if p.terminal() else 0)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return None


def pss(pid: int) -> int | None:
    """Proportional set size in bytes (shared pages divided among their sharers, as the kernel
    charges them), from /proc/PID/smaps_rollup: 0 for a process that is ending (its memory is being
    freed), None where it cannot be read (another user's process, an old kernel, no /proc)."""
    if not use_proc():
        return None
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return 0 if os.path.exists(f"/proc/{os.getpid()}/smaps_rollup") else None
    except OSError:
        return None
    for line in raw.splitlines():
        if line.startswith(b"Pss:"):
            return int(line.split()[1]) * 1024
    return 0  # an exiting process's rollup is empty


def children(pid: int) -> list[int]:
    if use_proc():
        out: list[int] = []
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return out
        for tid in tasks:
            raw = _read(f"/proc/{pid}/task/{tid}/children")
            if raw:
                out.extend(int(x) for x in raw.split())
        return out
    import psutil  # psutil (~40 ms): only where there is no /proc

    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def descendants(pid: int, skip: Callable[[int], bool] | None = None) -> list[int]:
    """Every live descendant of `pid`, parents before children; without those `skip` is true of, and
    theirs."""
    out: list[int] = []
    todo = children(pid)
    while todo:
        p = todo.pop()
        if skip is not None and skip(p):
            continue
        out.append(p)
        todo.extend(children(p))
    return out


def stopped(pid: int) -> bool:
    """Stopped by a signal (Ctrl-Z, SIGSTOP) or a tracer: it does not move until it gets SIGCONT."""
    i = info(pid) if pid > 0 else None
    return i is not None and i.state in ("T", "t")


class Tree(NamedTuple):
    """A process's live descendants (zombies left out), summed up."""

    rss: int  # bytes
    procs: int
    running: int  # in state R: on a CPU or ready for one
    stopped: int  # in state T or t


def tree(pid: int) -> Tree:
    rss = procs = running = stopped = 0
    for p in descendants(pid):
        i = info(p)
        if i is not None and i.state != "Z":
            rss += i.rss
            procs += 1
            running += i.state == "R"
            stopped += i.state in ("T", "t")
    return Tree(rss, procs, running, stopped)


def ancestors(pid: int | None = None, limit: int = 4096) -> list[int]:
    """The parents of `pid` (default: us), nearest first, up to and including init (pid 1)."""
    out: list[int] = []
    pid = os.getpid() if pid is None else pid
    while len(out) < limit:
        i = info(pid)
        if i is None or i.ppid <= 0:
            break
        pid = i.ppid
        out.append(pid)
    return out


def is_ancestor(ancestor: int, pid: int) -> bool:
    return ancestor == 1 or ancestor in ancestors(pid)


class Process:
    """One process met by `processes()`: each accessor reads what it needs when asked (/proc, else
    psutil) and returns None (or empty) when the process is gone or not ours to inspect."""

    def __init__(self, pid: int, handle: object = None) -> None:
        self.pid = pid
        # the psutil.Process on the portable path (False: it was already gone)
        self._handle = handle

    def _psutil(self, what: str) -> object:
        import psutil  # psutil (~40 ms): only where there is no /proc

        if self._handle is False:
            return None
        try:
            return getattr(self._handle, what)()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None

    def env(self, name: str) -> str | None:
        if self._handle is not None:
            found = self._psutil("environ")
            return found.get(name) if isinstance(found, dict) else None
        raw = _read(f"/proc/{self.pid}/environ")
        prefix = name.encode() + b"="
        if raw is None or prefix not in raw:
            return None
        for item in raw.split(b"\0"):
            if item.startswith(prefix):
                return item[len(prefix) :].decode(errors="surrogateescape")
        return None

    def name(self) -> str | None:
        if self._handle is not None:
            found = self._psutil("name")
            return found if isinstance(found, str) else None
        raw = _read(f"/proc/{self.pid}/comm")
        return None if raw is None else raw.rstrip(b"\n").decode(errors="replace")

    def argv(self) -> list[str] | None:
        if self._handle is not None:
            found = self._psutil("cmdline")
            return found if isinstance(found, list) else None
        raw = _read(f"/proc/{self.pid}/cmdline")
        if not raw:
            return None  # gone, or a kernel thread
        return [
            a.decode(errors="replace")
            for a in (raw[:-1] if raw.endswith(b"\0") else raw).split(b"\0")
        ]

    def cwd(self) -> str | None:
        if self._handle is not None:
            found = self._psutil("cwd")
            return found if isinstance(found, str) else None
        try:
            return os.readlink(f"/proc/{self.pid}/cwd")
        except OSError:
            return None

    def open_files(self) -> list[str]:
        """The paths this process has open (where we may look)."""
        if self._handle is not None:
            found = self._psutil("open_files")
            return [f.path for f in found] if isinstance(found, list) else []
        base = f"/proc/{self.pid}/fd"
        try:
            fds = os.listdir(base)
        except OSError:
            return []
        out = []
        for fd in fds:
            try:
                out.append(os.readlink(f"{base}/{fd}"))
            except OSError:
                continue
        return out

    def handles(self, path: str) -> list[tuple[int, int | None]]:
        """(fd number, open flags) of each of this process's fds open on `path`; the flags are None
        where they cannot be read (psutil off Linux)."""
        if self._handle is not None:
            found = self._psutil("open_files")
            listed = found if isinstance(found, list) else []
            return [(f.fd, getattr(f, "flags", None)) for f in listed if f.path == path]
        base = f"/proc/{self.pid}/fd"
        try:
            fds = os.listdir(base)
        except OSError:
            return []
        out: list[tuple[int, int | None]] = []
        for fd in fds:
            try:
                if os.readlink(f"{base}/{fd}") == path:
                    out.append((int(fd), _fd_flags(self.pid, fd)))
            except OSError:
                continue
        return out

    def info(self) -> ProcInfo | None:
        return info(self.pid)


def _fd_flags(pid: int, fd: str) -> int | None:
    """An fd's open flags, from /proc/PID/fdinfo (octal; with O_CLOEXEC for a close-on-exec fd)."""
    for line in (_read(f"/proc/{pid}/fdinfo/{fd}") or b"").splitlines():
        if line.startswith(b"flags:"):
            return int(line.split()[1], 8)
    return None


def processes(skip: set[int] | frozenset[int] = frozenset()) -> Iterator[Process]:
    """Every process of the machine but those in `skip` (and us): the one scan of /proc (psutil
    elsewhere)."""
    skip = {*skip, os.getpid()}
    if use_proc():
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in skip:
                yield Process(int(entry))
        return
    import psutil  # psutil (~40 ms): only where there is no /proc

    for p in psutil.process_iter():
        if p.pid not in skip:
            yield Process(p.pid, p)


def is_daemon(pid: int) -> bool:
    """A resident daemon seq-hooks started (atomic-mypy's): the supervisors neither wait for it nor
    count it."""
    return bool(process(pid).env(envnames.DAEMON))


def pids_with_token(token: str) -> list[int]:
    """Processes whose environment carries SEQ_HOOKS_RUN=<token>: a run's leftovers, wherever they
    reparented."""
    return [p.pid for p in processes() if p.env(envnames.RUN) == token]


def process(pid: int) -> Process:
    """One process by pid, read the way `processes()` reads them."""
    if use_proc():
        return Process(pid)
    import psutil  # psutil (~40 ms): only where there is no /proc

    try:
        return Process(pid, psutil.Process(pid))
    except psutil.NoSuchProcess:
        return Process(pid, False)  # gone: every accessor finds nothing


def cmdline(pid: int) -> str:
    argv = process(pid).argv()
    return " ".join(argv) if argv else ""


def owner(pid: int) -> int | None:
    """The uid a process runs as (its effective uid, as /proc shows it); None when it is gone."""
    if use_proc():
        try:
            return os.stat(f"/proc/{pid}").st_uid
        except OSError:
            return None
    import psutil  # psutil (~40 ms): only where there is no /proc

    try:
        return int(psutil.Process(pid).uids().effective)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def alive(pid: int) -> bool:
    """True for a running process (a zombie does not count: it is dead and waits to be reaped)."""
    i = info(pid)
    return i is not None and i.state != "Z"


def _deliver(kill: Callable[[int, int], None], target: int, sig: int) -> None:
    """`sig`, then SIGCONT (as timeout(1) does): a stopped process would never act on TERM, and
    continued after the signal is pending it acts on it before it runs anything else. Vanished
    processes are fine."""
    try:
        kill(target, sig)
        if sig != signal.SIGKILL:
            kill(target, signal.SIGCONT)
    except (ProcessLookupError, PermissionError):
        pass


def send(pids: list[int], sig: int) -> None:
    """Signals each pid, children before parents."""
    for pid in reversed(pids):
        _deliver(os.kill, pid, sig)


def send_group(pgid: int, sig: int) -> None:
    _deliver(os.killpg, pgid, sig)


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Waits up to `timeout` for processes that are not our children to end; returns those still
    alive.

    Uses pidfds where the kernel has them (readable when the process ends: no polling); elsewhere
    checks every 10 ms, bounded by `timeout`.
    """
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    if hasattr(os, "pidfd_open") and use_proc():
        fds: dict[int, int] = {}
        for pid in left:
            try:
                fds[os.pidfd_open(pid)] = pid
            except OSError:
                pass
        try:
            poller = select.poll()
            for fd in fds:
                poller.register(fd, select.POLLIN)
            pending = set(fds)
            while pending and (remaining := deadline - time.monotonic()) > 0:
                for fd, _ in poller.poll(remaining * 1000):
                    pending.discard(fd)
                    poller.unregister(fd)
        finally:
            for fd in fds:
                os.close(fd)
    while (left := [p for p in left if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return left


def end(pids: list[int], grace: float) -> list[int]:
    """Ends processes that are not our children: TERM (after CONT), `grace` seconds, then KILL.

    Returns the pids that outlived SIGKILL by a second (unkillable, or not ours to signal).
    """
    if not pids:
        return []
    send(pids, signal.SIGTERM)
    left = wait_gone(pids, grace)
    if not left:
        return []
    send(left, signal.SIGKILL)
    return wait_gone(left, 1.0)
