"""Nesting: the SEQ_HOOKS_HOLDER markers a holder gives its command, and the queue a nested call
joins.

A marker `<lock id>:<pid>:<token>` says "pid holds lock id with this run token". A call that
inherits markers checks each one (`verified`) and queues under its innermost holder of the same
lock, in `<lock id>/nested/<token>`: it never waits for its own ancestor, and its siblings still go
one at a time.
"""
from __future__ import annotations

import os

from seq_hooks import envnames
from seq_hooks.config import LOCK_NAME_RULE
from seq_hooks.config import valid_lock_name as valid_name
from seq_hooks.errors import UsageError
from seq_hooks.lock import tickets
from seq_hooks.process import proctree
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping



class Marker(NamedTuple):
    lock_id: str  # queue path under locks/: "default", "default/nested/<token>"
    pid: int
    token: str

    def __str__(self) -> str:
        return f"{self.lock_id}:{self.pid}:{self.token}"


def check_name(name: str) -> str:
    # the queues' layout: only where a lock is taken (off `run --no-lock`'s path
    from seq_hooks.lock import tickets

    if not valid_name(name) or name == tickets.NESTED:
        raise UsageError(f"--lock: invalid lock name {name!r} ({LOCK_NAME_RULE})")
    return name


def parse(value: str) -> list[Marker]:
    out = []
    for part in value.split(","):
        lock_id, _, rest = part.strip().partition(":")
        pid, _, token = rest.partition(":")
        if lock_id and pid.isdigit() and pid.isascii() and token:
            out.append(Marker(lock_id, int(pid), token))
    return out


def _true(state_dir: str, m: Marker, me: int) -> bool:
    if not all(valid_name(part) for part in m.lock_id.split("/")):
        return False
    if not (proctree.alive(m.pid) and (m.pid == me or proctree.is_ancestor(m.pid, me))):
        return False
    queue = tickets.read_queue(tickets.queue_dir(state_dir, m.lock_id))
    # one of the lock's holders (a lock with slots has several): a live ticket of that pid and
    # token, granted
    return any(
        t.alive and t.token == m.token and t.pid == m.pid and t.granted is not None for t in queue
    )


def verified(state_dir: str, env: Mapping[str, str]) -> list[Marker]:
    """The markers of SEQ_HOOKS_HOLDER that are true: the holder is alive, is our ancestor, and
    holds it now.

    A leaked, stale or forged marker is dropped, so it never lets a caller bypass the queue.
    """
    raw = env.get(envnames.HOLDER, "")
    me = os.getpid()
    return [m for m in parse(raw) if _true(state_dir, m, me)] if raw else []


def resolve(name: str, markers: list[Marker]) -> tuple[str, Marker | None]:
    """The queue a call for lock `name` joins: the lock itself, or the child queue of our innermost
    holder."""
    mine = [m for m in markers if m.lock_id.split("/")[0] == name]
    if not mine:
        return name, None
    parent = max(mine, key=lambda m: m.lock_id.count("/"))
    return f"{parent.lock_id}/{tickets.NESTED}/{parent.token}", parent


def value(markers: list[Marker]) -> str:
    """The SEQ_HOOKS_HOLDER value that passes `markers` on."""
    return ",".join(str(m) for m in markers)
