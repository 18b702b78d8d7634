"""The project lock: a strict FIFO ticket queue on flock that survives crashes (FINDINGS.md, "Locks").

A queue is a directory. Each caller takes the next number under a short flock on `.seq`, creates its ticket
file `<number>.ticket` already flocked (made under a temporary name and renamed, so nobody ever sees it
unlocked), and blocks in the kernel on the flock of the next-lower ticket. When that flock is granted its owner
has released or died: a ticket file left behind belongs to a dead process and is removed (and when it had been
granted, its run's leftover processes are ended first). The lowest ticket holds the lock. The directory
listing is the queue. Nested calls (a verified SEQ_HOOKS_HOLDER marker) queue in `nested/<token>/` under the
holder's queue, so they never wait for their own ancestor and siblings still go one at a time.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from seq_hooks import proctree
from seq_hooks.errors import MAX_WAIT, FatalError, UsageError
from seq_hooks.project import ensure_private_dir

HOLDER_ENV = "SEQ_HOOKS_HOLDER"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_SUFFIX = ".ticket"


class Marker(NamedTuple):
    lock_id: str  # queue path under locks/: "default", "default/nested/<token>"
    pid: int
    token: str

    def __str__(self) -> str:
        return f"{self.lock_id}:{self.pid}:{self.token}"


class TicketInfo(NamedTuple):
    number: int
    path: str
    pid: int
    token: str
    argv: list[str]
    cwd: str
    since: float  # epoch seconds when it joined the queue
    granted: float | None  # epoch seconds when it got the lock
    holds: list[str]  # tokens of the locks its caller already held (for cycle detection)
    alive: bool


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name == "nested":
        raise UsageError(f"--lock: invalid lock name {name!r} (letters, digits, '.', '_', '-'; at most 64)")
    return name


def locks_root(state_dir: str) -> str:
    return os.path.join(state_dir, "locks")


def queue_dir(state_dir: str, lock_id: str) -> str:
    return os.path.join(locks_root(state_dir), *lock_id.split("/"))


def parse_markers(value: str) -> list[Marker]:
    out = []
    for part in value.split(","):
        lock_id, _, rest = part.strip().partition(":")
        pid, _, token = rest.partition(":")
        if lock_id and pid.isdigit() and token:
            out.append(Marker(lock_id, int(pid), token))
    return out


def read_ticket(path: str, alive: bool | None = None) -> TicketInfo | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if alive is None:
            alive = _locked_by_someone(fd)
        data = os.read(fd, 1 << 20)
    finally:
        os.close(fd)
    lines = data.split(b"\n")
    try:
        head = json.loads(lines[0])
        granted = None
        if len(lines) > 1 and lines[1]:
            granted = float(json.loads(lines[1])["granted"])
        number = int(os.path.basename(path)[: -len(_SUFFIX)])
        return TicketInfo(number, path, int(head["pid"]), str(head["token"]), list(head["argv"]),
                          str(head["cwd"]), float(head["since"]), granted, list(head.get("holds", [])), alive)
    except (ValueError, KeyError, TypeError):
        return None


def _locked_by_someone(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def is_free(path: str) -> bool:
    """True when the ticket at `path` exists and nobody holds its flock: its owner is dead (a test flock,
    released at once)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return not _locked_by_someone(fd)
    finally:
        os.close(fd)


def _ticket_numbers(qdir: str) -> list[int]:
    try:
        names = os.listdir(qdir)
    except FileNotFoundError:
        return []
    return sorted(int(n[: -len(_SUFFIX)]) for n in names if n.endswith(_SUFFIX) and n[: -len(_SUFFIX)].isdigit())


def _path(qdir: str, number: int) -> str:
    return os.path.join(qdir, f"{number:012d}{_SUFFIX}")


def read_queue(qdir: str) -> list[TicketInfo]:
    """The queue in order, read without taking it: the first live granted ticket is the holder."""
    out = []
    for n in _ticket_numbers(qdir):
        t = read_ticket(_path(qdir, n))
        if t is not None:
            out.append(t)
    return out


def all_queues(state_dir: str) -> list[tuple[str, str]]:
    """(lock id, queue dir) for every queue of the state dir, nested ones included."""
    root = locks_root(state_dir)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if dirpath != root and os.path.basename(dirpath) != "nested" and (".seq" in filenames or filenames):
            out.append((os.path.relpath(dirpath, root).replace(os.sep, "/"), dirpath))
    return out


def verified_markers(state_dir: str, env: Mapping[str, str]) -> list[Marker]:
    """The markers of SEQ_HOOKS_HOLDER that are true: the holder is alive, is our ancestor, and holds it now.

    A leaked, stale or forged marker is dropped, so it never lets a caller bypass the queue.
    """
    raw = env.get(HOLDER_ENV, "")
    out = []
    me = os.getpid()
    for m in parse_markers(raw) if raw else []:
        if not all(_NAME.fullmatch(part) for part in m.lock_id.split("/")):
            continue
        if not (proctree.alive(m.pid) and (m.pid == me or proctree.is_ancestor(m.pid, me))):
            continue
        qdir = queue_dir(state_dir, m.lock_id)
        holder = next((t for t in read_queue(qdir) if t.alive), None)
        if holder and holder.token == m.token and holder.pid == m.pid and holder.granted is not None:
            out.append(m)
    return out


def resolve(state_dir: str, name: str, markers: list[Marker]) -> tuple[str, Marker | None]:
    """The queue a call for lock `name` joins: the lock itself, or the child queue of our innermost holder."""
    mine = [m for m in markers if m.lock_id.split("/")[0] == name]
    if not mine:
        return name, None
    parent = max(mine, key=lambda m: m.lock_id.count("/"))
    return f"{parent.lock_id}/nested/{parent.token}", parent


class WaitInfo(NamedTuple):
    lock_id: str
    position: int  # 1 = next
    holder: TicketInfo | None
    waited: float


class Held:
    """A granted ticket: the lock is ours until `release` (or until this process dies)."""

    def __init__(self, state_dir: str, lock_id: str, qdir: str, number: int, fd: int, token: str,
                 enqueued: float) -> None:
        self.state_dir = state_dir
        self.lock_id = lock_id
        self.qdir = qdir
        self.number = number
        self.fd = fd
        self.token = token
        self.enqueued = enqueued
        self.granted = time.time()

    def marker(self) -> Marker:
        return Marker(self.lock_id, os.getpid(), self.token)

    def release(self) -> None:
        if self.fd < 0:
            return
        nested = os.path.join(self.qdir, "nested", self.token)
        try:
            for name in os.listdir(nested):
                if name == ".seq":
                    os.unlink(os.path.join(nested, name))
            os.rmdir(nested)
        except OSError:
            pass
        try:
            os.unlink(_path(self.qdir, self.number))
        except FileNotFoundError:
            pass
        os.close(self.fd)  # the successor's flock is granted now
        self.fd = -1


class _Wake(Exception):
    """Raised from SIGALRM to interrupt a blocking flock for periodic work."""


def _enqueue(qdir: str, token: str, argv: list[str], cwd: str, holds: list[str]) -> tuple[int, int, float]:
    ensure_private_dir(qdir)
    seq = os.open(os.path.join(qdir, ".seq"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(seq, fcntl.LOCK_EX)
        raw = os.pread(seq, 32, 0).strip()
        number = int(raw) + 1 if raw.isdigit() else 1
        numbers = _ticket_numbers(qdir)
        if numbers and numbers[-1] >= number:
            number = numbers[-1] + 1
        os.pwrite(seq, f"{number}\n".encode(), 0)
        since = time.time()
        tmp = os.path.join(qdir, f".new-{os.getpid()}-{token}")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            head = {"pid": os.getpid(), "token": token, "argv": argv, "cwd": cwd, "since": since, "holds": holds}
            os.write(fd, (json.dumps(head) + "\n").encode())
            os.rename(tmp, _path(qdir, number))
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
    finally:
        os.close(seq)
    return number, fd, since


def _block(fd: int, seconds: float | None) -> bool:
    """flock(fd, LOCK_EX), interrupted after `seconds` by SIGALRM; True when the lock is ours."""
    if seconds is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    try:
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Wake:
        pass
    try:  # the alarm may have fired just after the lock was granted
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def find_cycle(state_dir: str, holds: list[str], holder_token: str) -> list[TicketInfo] | None:
    """Whether waiting for `holder_token` while holding `holds` closes a wait-for cycle across the queues.

    Edges come from the queue files: a waiting ticket that holds token h waits for its queue's holder.
    Returns the chain of waiting tickets that leads back to us, or None.
    """
    if not holds:
        return None
    waits: dict[str, list[tuple[TicketInfo, str]]] = {}
    for _lock_id, qdir in all_queues(state_dir):
        queue = [t for t in read_queue(qdir) if t.alive]
        if not queue:
            continue
        holder = queue[0].token
        for t in queue[1:]:
            for h in t.holds:
                waits.setdefault(h, []).append((t, holder))
    seen: set[str] = set()
    stack: list[tuple[str, list[TicketInfo]]] = [(holder_token, [])]
    while stack:
        tok, chain = stack.pop()
        if tok in holds:
            return chain
        if tok in seen:
            continue
        seen.add(tok)
        for t, nxt in waits.get(tok, []):
            stack.append((nxt, [*chain, t]))
    return None


def acquire(
    state_dir: str,
    lock_id: str,
    *,
    token: str,
    argv: list[str],
    cwd: str,
    holds: list[str],
    max_wait: float | None = None,
    on_wait: Callable[[WaitInfo], None] | None = None,
    takeover_grace: float = 5.0,
) -> Held:
    """Joins the queue `lock_id` and returns when the lock is ours.

    Raises FatalError(75) when `max_wait` expires or when waiting would close a cycle with another lock's
    holder, and FatalError(128+N) (or KeyboardInterrupt) when SIGTERM/SIGHUP (SIGINT) arrives while waiting;
    our ticket is gone by then and the others keep their order.
    """
    qdir = queue_dir(state_dir, lock_id)
    start = time.monotonic()
    number, fd, since = _enqueue(qdir, token, argv, cwd, holds)
    handlers: dict[int, Any] = {}

    def on_alarm(_s: int, _f: object) -> None:
        raise _Wake

    def on_stop(signum: int, _f: object) -> None:
        name = signal.Signals(signum).name
        raise FatalError(f"received {name} while waiting for lock {lock_id!r}: left the queue", 128 + signum)

    try:
        try:
            handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, on_alarm)
            for s in (signal.SIGTERM, signal.SIGHUP):
                handlers[s] = signal.signal(s, on_stop)
            can_alarm = True
        except ValueError:  # not the main thread
            can_alarm = False
        next_note = start + 0.5
        next_cycle_check = start
        cycle_seen: float | None = None
        while True:
            lower = [n for n in _ticket_numbers(qdir) if n < number]
            if not lower:
                break
            pred = _path(qdir, lower[-1])
            try:
                pfd = os.open(pred, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                while True:
                    now = time.monotonic()
                    if max_wait is not None and now - start >= max_wait:
                        raise FatalError(_max_wait_message(qdir, lock_id, max_wait), MAX_WAIT)
                    if holds and now >= next_cycle_check:
                        cycle_seen = _check_cycle(state_dir, qdir, lock_id, holds, (since, token), cycle_seen, now)
                        next_cycle_check = now + 0.5
                    if on_wait is not None and now >= next_note:
                        on_wait(_wait_info(qdir, lock_id, number, now - start))
                        next_note = now + 30.0
                    wakes = [next_note - now]
                    if max_wait is not None:
                        wakes.append(start + max_wait - now)
                    if holds:
                        wakes.append(next_cycle_check - now)
                    if not can_alarm:
                        got = take_within(pfd, min(wakes))
                    else:
                        got = _block(pfd, min(wakes) if (on_wait or max_wait is not None or holds) else None)
                    if got:
                        break
                # pred's owner released or died; a file still there belongs to a dead process
                info = read_ticket(pred, alive=False)
                if info is not None:
                    if info.granted is not None:
                        proctree.end(proctree.pids_with_token(info.token), takeover_grace)
                    try:
                        os.unlink(pred)
                    except FileNotFoundError:
                        pass
            finally:
                os.close(pfd)
        os.write(fd, (json.dumps({"granted": time.time()}) + "\n").encode())
        return Held(state_dir, lock_id, qdir, number, fd, token, since)
    except BaseException:
        try:
            os.unlink(_path(qdir, number))
        except FileNotFoundError:
            pass
        os.close(fd)
        raise
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def take_within(fd: int, seconds: float) -> bool:
    """flock(fd, LOCK_EX) tried every 5 ms for at most `seconds`: for where SIGALRM cannot interrupt a blocking
    flock (not the main thread) and for brief locks such as `.seq`."""
    deadline = time.monotonic() + max(seconds, 0.001)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)


def _wait_info(qdir: str, lock_id: str, number: int, waited: float) -> WaitInfo:
    queue = [t for t in read_queue(qdir) if t.alive]
    ahead = [t for t in queue if t.number < number]
    return WaitInfo(lock_id, len(ahead), queue[0] if ahead else None, waited)


def describe(t: TicketInfo | None) -> str:
    if t is None:
        return "nobody"
    since = t.granted or t.since
    cmd = " ".join(t.argv)
    if len(cmd) > 80:
        cmd = cmd[:77] + "..."
    return f"pid {t.pid} ({cmd}), running {time.time() - since:.0f}s"


def _max_wait_message(qdir: str, lock_id: str, max_wait: float) -> str:
    queue = [t for t in read_queue(qdir) if t.alive]
    return f"gave up after waiting {max_wait:g}s for lock {lock_id!r}: held by {describe(queue[0] if queue else None)}"


CYCLE_GRACE = 2.0  # seconds a cycle may last before any waiter in it gives up, not only the youngest


def _check_cycle(state_dir: str, qdir: str, lock_id: str, holds: list[str], me: tuple[float, str],
                 seen: float | None, now: float) -> float | None:
    """Raises FatalError(75) when our wait closes a cycle and we joined it last (or it outlived CYCLE_GRACE);
    returns when the cycle was first seen, None when there is none."""
    queue = [t for t in read_queue(qdir) if t.alive]
    if not queue or queue[0].granted is None:
        return None
    chain = find_cycle(state_dir, holds, queue[0].token)
    if chain is None:
        return None
    seen = now if seen is None else seen
    # Waiters that join at the same moment all see the cycle: only the youngest (since, token) gives up, so
    # exactly one side fails; the grace covers a youngest that cannot act (stopped, or an older seq-hooks).
    if any(me < (t.since, t.token) for t in chain) and now - seen < CYCLE_GRACE:
        return seen
    via = "; ".join(f"pid {t.pid} ({' '.join(t.argv)[:60]}) waits for it" for t in chain)
    raise FatalError(
        f"lock cycle: waiting for {lock_id!r}, held by {describe(queue[0])}, while {via} and on a lock "
        "this process already holds; giving up to break the deadlock",
        MAX_WAIT,
    )
