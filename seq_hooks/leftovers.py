"""What dead runs of this project left behind: stale queue tickets and processes still carrying a
dead run's token.

Used by `doctor` (to report) and `clean` (to remove and end). Processes are found by their
SEQ_HOOKS_RUN token only, never by name, and only tokens this project's state dir knows count; the
machine may run other projects' seq-hooks, whose live runs' tickets are in their own state dirs. A
token is of a dead run of ours when a stale ticket carries it (its runner died queued or holding) or
the journal has its record (the run ended: the supervisor should have left nothing). A token known
only from its log file name has no ticket (a `--no-lock` run) and no record (not ended, or its
runner was killed): its processes count as leftovers only when none of them hangs under a live
process outside the run, i.e. its runner is gone and they were handed to init.
"""
from __future__ import annotations

import fcntl
import os

from seq_hooks import envnames, journal, logfile
from seq_hooks.lock import takeover, tickets
from seq_hooks.lock.tickets import TicketInfo
from seq_hooks.process import proctree, rungroup
from seq_hooks.records import NamedTuple

# seconds to wait for a queue's `.seq` (held for microseconds by each caller that enqueues)
SEQ_WAIT = 5.0


class Proc(NamedTuple):
    pid: int
    ppid: int
    token: str


class StaleTicket(NamedTuple):
    lock_id: str
    path: str
    # None when the file cannot be parsed (torn or foreign), or a half-made one
    ticket: TicketInfo | None


class Leftover(NamedTuple):
    token: str
    pids: list[int]
    why: str
    # (pid, start time) of processes known by their record, not a token
    starts: tuple[tuple[int, int], ...] = ()


class Untouched(NamedTuple):
    """Processes of a run we cannot prove dead: shown, never ended."""

    token: str
    pids: list[int]
    parent: int


def scan() -> list[Proc]:
    """Every live process carrying a run token (ourselves and our ancestors never count: not ours to
    end)."""
    out: list[Proc] = []
    for p in proctree.processes(skip=set(proctree.ancestors())):
        token = p.env(envnames.RUN)
        i = p.info() if token else None
        if token and i is not None and i.state != "Z":
            out.append(Proc(i.pid, i.ppid, token))
    return out


def still_carries(pid: int, token: str) -> bool:
    """Re-read just before signalling: the pid may have ended and been reused since the scan."""
    return proctree.process(pid).env(envnames.RUN) == token and proctree.alive(pid)


def _files(qdir: str) -> list[str]:
    """The queue's tickets and half-made tickets."""
    return [p for _n, p in tickets.listing(qdir)] + tickets.half_made(qdir)


def _parsed(info: TicketInfo | None) -> TicketInfo | None:
    return info if info is not None and info.readable else None


def stale_tickets(state_dir: str) -> list[StaleTicket]:
    """Tickets whose flock nobody holds: their owner is dead. Read only (a test flock, released at
    once)."""
    out = []
    for lock_id, qdir in tickets.all_queues(state_dir):
        for _number, path in tickets.listing(qdir):
            if tickets.is_free(path):
                out.append(StaleTicket(lock_id, path, _parsed(tickets.read(path, alive=False))))
    return out


def classify(
    procs: list[Proc],
    live: set[str],
    stale: dict[str, str],
    ended: set[str],
    logged: set[str],
) -> tuple[list[Leftover], list[Untouched]]:
    by_token: dict[str, list[Proc]] = {}
    for p in procs:
        by_token.setdefault(p.token, []).append(p)
    leftovers: list[Leftover] = []
    untouched: list[Untouched] = []
    for token, group in sorted(by_token.items()):
        pids = sorted(p.pid for p in group)
        if token in live:
            continue
        if token in stale:
            leftovers.append(Leftover(token, pids, f"its runner died ({stale[token]} is stale)"))
        elif token in ended:
            leftovers.append(Leftover(token, pids, "its run has ended (it is in the journal)"))
        elif token in logged:
            # a live run's first process hangs under its runner, which does not carry the token
            # itself
            members = set(pids)
            outside = [
                p.ppid
                for p in group
                if p.ppid not in members and p.ppid > 1 and proctree.alive(p.ppid)
            ]
            if outside:
                untouched.append(Untouched(token, pids, outside[0]))
            else:
                leftovers.append(
                    Leftover(
                        token,
                        pids,
                        "its runner is gone (it has a log but no ticket and no "
                        "journal record; its processes were handed to init)",
                    )
                )
        # any other token is another project's (or a hand-made environment): never ours to judge
    return leftovers, untouched


def logged_tokens(log_dir: str | None) -> set[str]:
    return {p.token for n in logfile.logs(log_dir) if (p := logfile.parse(n))} if log_dir else set()


def find(
    state_dir: str, log_dir: str | None = None
) -> tuple[list[StaleTicket], list[Leftover], list[Untouched]]:
    stale = stale_tickets(state_dir)
    procs = scan()
    leftovers: list[Leftover] = []
    untouched: list[Untouched] = []
    if procs:
        stale_tokens = {
            s.ticket.token: f"ticket {s.lock_id}/{s.ticket.number}" for s in stale if s.ticket
        }
        ended = {r.token for r in journal.read(state_dir)}
        leftovers, untouched = classify(procs, tickets.live_tokens(state_dir), stale_tokens, ended,
                                        logged_tokens(log_dir))
    return stale, leftovers + recorded(stale, leftovers), untouched


def recorded(stale: list[StaleTicket], found: list[Leftover]) -> list[Leftover]:
    """Processes a dead holder's supervisor recorded (`<ticket>.procs`) that its run token no longer
    finds: they cleared their environment (`env -i`, sudo)."""
    known = {p for lo in found for p in lo.pids} | {os.getpid(), *proctree.ancestors()}
    out = []
    for s in stale:
        pairs = tuple(p for p in takeover.recorded(s.path) if p[0] not in known)
        if pairs:
            where = f"ticket {s.lock_id}/{os.path.basename(s.path)}"
            out.append(
                Leftover(
                    s.ticket.token if s.ticket else "",
                    sorted(p for p, _ in pairs),
                    f"its runner died ({where} is stale; recorded by its supervisor)",
                    pairs,
                )
            )
    return out


class LeftGroup(NamedTuple):
    """An empty cgroup a dead run (`--max-procs`) left: its SIGKILLed runner could not remove it,
    and one left inside a user's own group makes that group's rmdir fail (EBUSY)."""

    token: str
    path: str
    why: str


def groups(state_dir: str, stale: list[StaleTicket], log_dir: str | None = None) -> list[LeftGroup]:
    """The empty cgroups of runs that are over: their token is a dead run's of this state dir (a
    stale ticket, the journal, a log), or they have been empty for rungroup.STALE; never a live
    ticket's. A group with processes in it stays: those are leftover processes, ended first."""
    found = rungroup.everywhere()
    if not found:
        return []
    live = tickets.live_tokens(state_dir)
    ended = {r.token for r in journal.read(state_dir)}
    dead = {s.ticket.token for s in stale if s.ticket} | ended | logged_tokens(log_dir)
    out = []
    for f in found:
        if f.token in live or not f.empty:
            continue
        if f.token in dead:
            out.append(LeftGroup(f.token, f.path, "its run is over"))
        elif f.age > rungroup.STALE:
            out.append(LeftGroup(f.token, f.path, f"empty for {f.age:.0f}s"))
    return out


def end(leftover: Leftover, grace: float) -> tuple[list[int], list[int]]:
    """Ends a leftover's processes that are still what they were found as (its token, or its
    recorded start time): (ended, survivors)."""
    starts = dict(leftover.starts)
    pids = [
        p
        for p in leftover.pids
        if (p in starts and takeover.same(p, starts[p]))
        or (p not in starts and still_carries(p, leftover.token))
    ]
    survivors = proctree.end(pids, grace)
    return [p for p in pids if p not in survivors], survivors


def remove_stale(qdir: str, lock_id: str) -> list[StaleTicket]:
    """Removes the queue's dead tickets (and dead half-made ones), holding the queue's `.seq` flock.

    `.seq` is what a caller holds while it numbers, creates and renames its ticket (tickets.make),
    so under it no ticket is half made by a live process; each ticket is then taken with a
    non-blocking exclusive flock, which only succeeds when its owner is dead, and kept until the
    file is gone.
    """
    try:
        seq = tickets.open_seq(qdir)
    except OSError:
        return []
    removed = []
    try:
        if not tickets.take_within(seq, SEQ_WAIT):
            return []
        for path in _files(qdir):
            try:
                fd = os.open(path, tickets.OPEN_FLAGS)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live owner holds it
                made = tickets.number_of(os.path.basename(path)) is not None
                info = _parsed(tickets.read(path, alive=False)) if made else None
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                tickets.remove(tickets.procs_path(path))  # its run's process record goes with it
                removed.append(StaleTicket(lock_id, path, info))
            finally:
                os.close(fd)
    finally:
        os.close(seq)
    return removed


def empty_nested(state_dir: str, live: set[str], gone: frozenset[str] = frozenset()) -> list[str]:
    """Nested queue dirs, deepest first, that hold no ticket (besides those in `gone`, about to be
    removed) and whose holder's run is not live: a live holder's next nested call may queue
    there."""
    root = tickets.locks_root(state_dir)
    out: list[str] = []
    for dirpath, _dirnames, _filenames in os.walk(root, topdown=False):
        if (
            os.path.basename(os.path.dirname(dirpath)) != tickets.NESTED
            or os.path.basename(dirpath) in live
        ):
            continue
        if any(p not in gone for p in _files(dirpath)):
            continue
        inner = os.path.join(dirpath, tickets.NESTED)
        try:
            children = os.listdir(inner)
        except OSError:
            children = []
        if all(os.path.join(inner, c) in out for c in children):
            out.append(dirpath)
    return out


def remove_nested(dirpath: str) -> bool:
    """Removes an empty nested queue dir (its `.seq` counter, stray `.procs` records and an empty
    `nested/`); False when it is in use."""
    try:
        for name in os.listdir(dirpath):
            full = os.path.join(dirpath, name)
            if name == tickets.SEQ or name.endswith(tickets.PROCS_SUFFIX):
                os.unlink(full)
            elif name == tickets.NESTED:
                os.rmdir(full)
        os.rmdir(dirpath)
        return True
    except OSError:
        return False
