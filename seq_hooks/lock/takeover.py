"""Taking over from a dead ticket owner: what its run left behind is ended before the queue moves
on.

A waiter whose flock on the ticket ahead is granted while the file is still there knows its owner
died (a live owner removes its ticket before releasing). If that owner had been granted the lock,
its command may still run. Its processes are found three ways, because any one of them can miss: the
`.procs` record the supervisor kept (pid and start time: found even after `env -i` or sudo cleared
the run token) with their descendants now, the processes still carrying its run token, and the same
for every run in its nested queue (a nested holder's tree is part of its outer run, whatever its
runner is doing); with `--max-procs`, also what is in the run's cgroup. They are ended (TERM, grace,
KILL), then the cgroups and the ticket are removed, whatever it holds (docs/design.md, "Locks").
"""
from __future__ import annotations

import os

from seq_hooks.lock import tickets
from seq_hooks.process import proctree, rungroup


def same(pid: int, start: int) -> bool:
    """Whether `pid` is still the process recorded with this start time (not ended, not a reused
    pid)."""
    i = proctree.info(pid)
    return i is not None and i.start == start and i.state != "Z"


def recorded(ticket: str) -> list[tuple[int, int]]:
    """The recorded processes of a ticket's run that are still the same processes, and those that
    hold the record as the holder handed it to its command: (pid, start time). A reader of the file
    (`tail -f`, an editor), opened outside the run, is no part of it."""
    out = {(pid, start) for pid, start in tickets.read_procs(ticket) if same(pid, start)}
    record = os.path.realpath(tickets.procs_path(ticket))
    if os.path.exists(record):
        number = tickets.handed_fd(ticket)
        for p in proctree.processes(skip=set(proctree.ancestors())):
            heir = any(inherited(fd, flags, number) for fd, flags in p.handles(record))
            if heir and (i := p.info()) is not None and i.state != "Z":
                out.add((p.pid, i.start))
    return sorted(out)


def inherited(fd: int, flags: int | None, number: int | None) -> bool:
    """Whether an fd open on a holder's record is the one it handed its command: at the number the
    record names (when it does), opened for appending only, open across exec (not close-on-exec)."""
    if number is not None and fd != number:
        return False
    return flags is None or (flags & os.O_ACCMODE == os.O_WRONLY and bool(flags & os.O_APPEND)
                             and not flags & os.O_CLOEXEC)


def _recorded(ticket: str) -> set[int]:
    return {pid for pid, _start in recorded(ticket)}


def _nested_runs(qdir: str, token: str) -> list[tickets.TicketInfo]:
    """Every ticket in the holder's nested queues, at any depth."""
    out = []
    for dirpath, _dirnames, _files in os.walk(tickets.nested_dir(qdir, token)):
        for _number, path in tickets.listing(dirpath):
            t = tickets.read(path)
            if t is not None:
                out.append(t)
    return out


def _runs(ticket: str, info: tickets.TicketInfo | None) -> list[tuple[str, str]]:
    """(ticket, run token) of a dead owner and, when it had been granted the lock (only then did it
    run anything), of every run in its nested queues; the token is "" where it is unknown."""
    if info is None or not info.readable or info.granted is None:
        return [(ticket, "")]
    nested = _nested_runs(os.path.dirname(ticket), info.token)
    return [(ticket, info.token), *((t.path, t.token if t.readable else "") for t in nested)]


def leftovers(ticket: str, info: tickets.TicketInfo | None) -> list[int]:
    """The live processes of a dead owner's run (never ourselves or our ancestors): recorded,
    carrying its tokens, or in its cgroups (`--max-procs`)."""
    runs = _runs(ticket, info)
    pids: set[int] = set()
    for path, token in runs:
        pids |= _recorded(path)
        if token:
            pids.update(proctree.pids_with_token(token))
    for group in rungroup.of_runs([token for _path, token in runs]):
        pids.update(group.pids())
    for pid in list(pids):
        pids.update(proctree.descendants(pid))
    return sorted(pids - {os.getpid(), *proctree.ancestors()})


def take_over(ticket: str, grace: float) -> bool:
    """Our flock on `ticket` was granted, so its owner is dead: ends what its run left, removes its
    cgroups (its runner, SIGKILLed, could not) and its ticket.

    False when the file cannot be removed (the caller then passes over it: its owner is dead all the
    same)."""
    info = tickets.read(ticket, alive=False)
    proctree.end(leftovers(ticket, info), grace)
    for group in rungroup.of_runs([token for _path, token in _runs(ticket, info)]):
        group.remove(patience=rungroup.REAPED)
    if info is not None and info.readable:
        tickets.clear_nested(os.path.dirname(ticket), info.token)
    tickets.remove(tickets.procs_path(ticket))
    return tickets.remove(ticket)
