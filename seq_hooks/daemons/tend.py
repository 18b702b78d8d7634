"""Tending the daemons: what any seq-hooks command can do to them cheaply, without a resident
watcher.

- `expire`: stops the daemons unused for longer than their `daemon_idle_s` (the daemon also stops
  itself then: dmypy's own --timeout; this is for one that could not, e.g. a stopped one) and
  forgets the dead ones.
- `make_room`: stops the least recently used daemons until `need_mb` more fits the budget and the
  machine.
- `stop_all`: `seq-hooks clean` and `uninstall-git-hook` leave nothing running.
- `resident_mb`, `budget_left`: what the live daemons hold now; a unit's lock budget is what they
  leave of it (runner), so a resident daemon is memory the queue knows about, not a slot.
"""
from __future__ import annotations

import contextlib
import json
import os
import time

from seq_hooks.daemons import record
from seq_hooks.daemons.record import Record
from seq_hooks.process import proctree
from seq_hooks.records import NamedTuple

GRACE_S = 2.0  # between SIGTERM and SIGKILL when a daemon is stopped


def stop(state_dir: str, rec: Record, grace: float = GRACE_S) -> bool:
    """Ends the daemon's whole tree (its own and what carries its run token) and forgets it; False
    when a process of it outlived SIGKILL."""
    left: list[int] = []
    if record.alive(rec):
        pids = [rec.pid, *proctree.descendants(rec.pid)]
        pids += [p for p in proctree.pids_with_token(rec.token) if p not in pids]
        left = proctree.end(pids, grace)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(rec.pid, os.WNOHANG)  # ours when this process started it: no zombie left behind
    _remove_socket(record.path(state_dir, rec.key, ".status"))
    record.forget(state_dir, rec.key)
    return not left


def _remove_socket(status_file: str) -> None:
    """The socket directory dmypy made under $TMPDIR (it removes it itself only when it stops
    cleanly)."""
    try:
        with open(status_file, encoding="utf-8") as f:
            name = json.load(f).get("connection_name")
    except (OSError, ValueError, AttributeError):
        return
    if isinstance(name, str) and os.path.basename(name) == "dmypy.sock":
        folder = os.path.dirname(name)
        with contextlib.suppress(OSError):
            if os.listdir(folder) == ["dmypy.sock"]:
                os.unlink(name)
                os.rmdir(folder)


def expire(state_dir: str, now: float | None = None) -> list[Record]:
    """Stops the idle daemons and forgets the dead ones; returns the records of those stopped or
    found dead."""
    now = time.time() if now is None else now
    gone: list[Record] = []
    for rec in record.all_records(state_dir):
        alive = record.alive(rec)
        if rec.failed or (alive and now - rec.last_used <= rec.idle_s):
            continue  # a failure is remembered until its configuration changes (mypyd)
        if not alive and not record.took_its_options(state_dir, rec):
            continue  # its options were refused: mypyd remembers that, once said
        with record.held(state_dir, rec.key, wait=False) as mine:
            if mine:  # a daemon in use is not idle
                stop(state_dir, rec)
                gone.append(rec)
    return gone


def resident_mb(state_dir: str) -> float:
    """The memory the live daemons hold now (MB)."""
    return sum(record.rss_mb(r) for r in record.all_records(state_dir))


def budget_left(budget_mb: int, state_dir: str) -> int:
    """What the live daemons leave of a lock's memory budget for its units (at least 1 MB: a unit
    alone still runs, and `make_room` stops daemons before a new one would not fit)."""
    return max(budget_mb - int(resident_mb(state_dir)), 1)


def make_room(
    state_dir: str,
    need_mb: float,
    budget_mb: int,
    available_mb: int | None,
    reserve_mb: int,
    keep: str = "",
) -> list[Record]:
    """Stops the least recently used daemons (never `keep`, nor one in use) until `need_mb` more
    fits: the daemons together within `budget_mb` (0: no budget), and the machine's available memory
    above `reserve_mb`."""
    stopped: list[Record] = []
    live = sorted((r for r in record.all_records(state_dir) if r.key != keep and record.alive(r)),
                  key=lambda r: r.last_used)
    held = {r.key: record.rss_mb(r) for r in live}
    freed = 0.0
    for rec in live:
        over_budget = budget_mb > 0 and sum(held.values()) - freed + need_mb > budget_mb
        short = available_mb is not None and available_mb + freed - need_mb < reserve_mb
        if not (over_budget or short):
            break
        with record.held(state_dir, rec.key, wait=False) as mine:
            if mine and stop(state_dir, rec):
                freed += held[rec.key]
                stopped.append(rec)
    return stopped


def stop_all(state_dir: str) -> tuple[list[Record], list[Record]]:
    """Stops every daemon, one in use too (its unit then runs plain mypy); (stopped, those a process
    of which outlived SIGKILL)."""
    stopped: list[Record] = []
    left: list[Record] = []
    for key in record.keys(state_dir):
        rec = record.read(state_dir, key)
        if rec is None:
            record.forget(state_dir, key)
            continue
        (stopped if stop(state_dir, rec) else left).append(rec)
    return stopped, left


class View(NamedTuple):
    """A live daemon as `status` shows it."""

    kind: str
    worktree: str
    pid: int
    memory_mb: float  # its tree's RSS now
    idle_s: float  # since its last unit
    started: float  # epoch seconds
    last_used: float
    ready: bool  # False while it warms up (its first check, at nice 19): units run plain mypy

    def as_dict(self) -> dict[str, object]:
        return {
            **self._asdict(),
            "memory_mb": round(self.memory_mb, 1),
            "idle_s": round(self.idle_s, 1),
        }


def views(state_dir: str, now: float | None = None) -> list[View]:
    """The live daemons, the most recently used first."""
    now = time.time() if now is None else now
    live = [r for r in record.all_records(state_dir) if not r.failed and record.alive(r)]
    return [
        View(
            r.kind,
            r.worktree,
            r.pid,
            record.rss_mb(r),
            max(now - r.last_used, 0.0),
            r.started,
            r.last_used,
            record.listening(state_dir, r) is not None,
        )
        for r in sorted(live, key=lambda r: -r.last_used)
    ]
