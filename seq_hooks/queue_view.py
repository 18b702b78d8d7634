"""A snapshot of every queue of a state dir, for `status`: read from the ticket files without taking
any lock.

Each ticket is probed with a non-blocking shared flock (tickets.read_queue), so reading never waits
and never changes anyone's place in a queue.
"""
from __future__ import annotations

import time

from seq_hooks.config import Settings
from seq_hooks.lock import admission, capacity, tickets, wakeup
from seq_hooks.lock.capacity import Capacity
from seq_hooks.lock.tickets import TicketInfo
from seq_hooks.process import proctree
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.sizes import MB

if TYPE_CHECKING:
    from typing import Any

_NESTED = f"/{tickets.NESTED}/"  # in a lock id: a nested queue under a holder


class Holder(NamedTuple):
    ticket: TicketInfo
    waited_s: float  # from joining the queue to being granted
    elapsed_s: float  # since granted
    tree_rss_mb: float  # resident memory of the command's tree now (what the memory limit counts)
    tree_procs: int
    # its runner, or every process of its command, is stopped (Ctrl-Z, SIGSTOP)
    stopped: bool = False
    # until its unit is killed (its timeout, or the pipeline deadline)
    deadline_left_s: float | None = None
    pipeline_left_s: float | None = None  # until the pipeline deadline it runs within


class Waiter(NamedTuple):
    position: int  # 1 = next
    ticket: TicketInfo
    waited_s: float
    # stopped while waiting: when its turn comes, the queue waits until it is continued
    stopped: bool = False


class QueueView(NamedTuple):
    lock_id: str  # "default", "default/nested/<holder token>"
    parent: str | None  # the lock id a nested queue hangs under
    depth: int
    holder: Holder | None
    waiting: list[Waiter]
    stale: list[TicketInfo]  # tickets whose owner is dead (nobody holds their flock)
    # every holder, oldest first (`holder` is the first); several with slots
    holders: tuple[Holder, ...] = ()
    # a lock with slots or a memory budget: how full it is, why its head waits
    room: Room | None = None


class Room(NamedTuple):
    """How full a lock with slots or a memory budget is (capacity.py), and why the oldest waiter
    waits."""

    slots: int
    budget_mb: int  # 0: no budget
    used_mb: int  # the holders' expected peaks together
    # "" (nobody waits, or it is about to start), else a capacity verdict word
    # (capacity.SLOTS_FULL...)
    why: str
    # while someone waits: what is wrong with the release FIFO (wakeup.problem), "" when nothing
    release: str = ""
    defaults: bool = False  # slots and budget are the defaults ("auto" both: capacity.at_defaults)


class Snapshot(NamedTuple):
    time: float
    state_dir: str
    queues: list[QueueView]  # parents before their nested queues


def parent_of(lock_id: str) -> str | None:
    return lock_id.rsplit(_NESTED, 1)[0] if _NESTED in lock_id else None


def _tree(pid: int) -> tuple[float, int, bool]:
    """(MB, processes, all stopped) of `pid`'s descendants: the supervised command's tree under its
    runner."""
    tree = proctree.tree(pid)
    return round(tree.rss / MB, 1), tree.procs, tree.procs > 0 and tree.stopped == tree.procs


def _holder(t: TicketInfo, now: float) -> Holder:
    granted = t.granted if t.granted is not None else now
    mb, procs, halted = _tree(t.pid)
    return Holder(
        t,
        max(granted - t.since, 0.0),
        max(now - granted, 0.0),
        mb,
        procs,
        halted or proctree.stopped(t.pid),
        _left(t.deadline, now),
        _left(t.pipeline_deadline, now),
    )


def _left(deadline: float | None, now: float) -> float | None:
    return None if deadline is None else max(deadline - now, 0.0)


def view(lock_id: str, tickets: list[TicketInfo], now: float, cap: Capacity | None = None,
         defaults: bool = False) -> QueueView:
    """A queue as it is: its holders (granted, alive), its waiters in order, its stale tickets; with
    `cap` (a lock with slots or a budget), how full it is and why its head waits (the admission
    rule, applied now), and whether that capacity is the defaults."""
    live = [t for t in tickets if t.alive]
    stale = [t for t in tickets if not t.alive]
    holders = tuple(_holder(t, now) for t in live if t.granted is not None)
    rest = [t for t in live if t.granted is None]
    waiting = [
        Waiter(i, t, max(now - t.since, 0.0), proctree.stopped(t.pid))
        for i, t in enumerate(rest, 1)
    ]
    room = None
    if cap is not None and not cap.exclusive:
        why = (
            admission.verdict(cap, rest[0].expected_mb, [h.ticket for h in holders]).why
            if rest
            else ""
        )
        room = Room(
            cap.slots,
            cap.budget_mb,
            sum(h.ticket.expected_mb for h in holders),
            why,
            defaults=defaults,
        )
    return QueueView(
        lock_id,
        parent_of(lock_id),
        lock_id.count(_NESTED),
        holders[0] if holders else None,
        waiting,
        stale,
        holders,
        room,
    )


def snapshot(state_dir: str, settings: Settings | None = None) -> Snapshot:
    """Every queue; with the project's `settings`, the room of each lock that has slots or a
    budget."""
    now = time.time()
    by_id: dict[str, QueueView] = {}
    for lock_id, qdir in tickets.all_queues(state_dir):
        cap = capacity.for_lock(settings, lock_id) if settings is not None else None
        defaults = settings is not None and capacity.at_defaults(settings, lock_id)
        q = view(lock_id, tickets.read_queue(qdir), now, cap, defaults)
        if q.room is not None and q.waiting and (problem := wakeup.problem(qdir)):
            q = q._replace(room=q.room._replace(release=f"{tickets.RELEASE} {problem}"))
        if q.parent is not None and q.holder is None and not q.waiting and not q.stale:
            continue  # an idle nested queue is an empty directory left for its holder's next call
        by_id[lock_id] = q
    ordered: list[QueueView] = []

    def add(lock_id: str) -> None:
        ordered.append(by_id[lock_id])
        for child in sorted(k for k in by_id if by_id[k].parent == lock_id):
            add(child)

    for lock_id in sorted(
        k for k in by_id if by_id[k].parent is None or by_id[k].parent not in by_id
    ):
        add(lock_id)
    return Snapshot(now, state_dir, ordered)


def _ticket(t: TicketInfo) -> dict[str, Any]:
    return {
        "pid": t.pid,
        "token": t.token,
        "argv": t.argv,
        "cwd": t.cwd,
        "enqueued": round(t.since, 3),
        "expected_mb": t.expected_mb or None,
        "expected_from": t.expected_from or None,
        "expected_runs": t.expected_runs if t.expected_from else None,
        "expected_revised": round(t.expected_revised, 3) if t.expected_revised else None,
    }


def _holder_json(h: Holder) -> dict[str, Any]:
    return {
        **_ticket(h.ticket),
        "granted": round(h.ticket.granted or 0.0, 3),
        "waited_s": round(h.waited_s, 3),
        "elapsed_s": round(h.elapsed_s, 3),
        "tree_rss_mb": h.tree_rss_mb,
        "tree_procs": h.tree_procs,
        "stopped": h.stopped,
        "memory_level": h.ticket.memory_level,
        "limit_mb": h.ticket.limit_mb,
        "deadline": _rounded(h.ticket.deadline),
        "deadline_left_s": _rounded(h.deadline_left_s),
        "deadline_of": deadline_of(h.ticket),
        "pipeline_deadline": _rounded(h.ticket.pipeline_deadline),
        "pipeline_left_s": _rounded(h.pipeline_left_s),
    }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def deadline_of(t: TicketInfo) -> str | None:
    """What ends the unit: "pipeline" when its timeout was cut to the pipeline deadline, "timeout"
    when its own timeout comes first; None when nothing does."""
    if t.deadline is None:
        return None
    return (
        "pipeline"
        if t.pipeline_deadline is not None and t.deadline >= t.pipeline_deadline - 0.001
        else "timeout"
    )


def _room_json(room: Room | None) -> dict[str, Any] | None:
    if room is None:
        return None
    free = max(room.budget_mb - room.used_mb, 0) if room.budget_mb else None
    return {
        "slots": room.slots,
        "budget_mb": room.budget_mb or None,
        "budget_used_mb": room.used_mb,
        "budget_free_mb": free,
        "head_waits_for": room.why or None,
        "release_fifo": room.release or None,
        "defaults": room.defaults,
    }


def as_json(snap: Snapshot) -> dict[str, Any]:
    """The documented `status --json` object (version 1; keys are only ever added)."""
    locks = []
    for q in snap.queues:
        locks.append(
            {
                "lock": q.lock_id,
                "parent": q.parent,
                "holder": _holder_json(q.holder) if q.holder is not None else None,
                "holders": [_holder_json(h) for h in q.holders],
                "capacity": _room_json(q.room),
                "waiting": [
                    {
                        "position": w.position,
                        **_ticket(w.ticket),
                        "waited_s": round(w.waited_s, 3),
                        "stopped": w.stopped,
                    }
                    for w in q.waiting
                ],
                "stale": [
                    {"ticket": t.number, **_ticket(t), "granted": t.granted, "readable": t.readable}
                    for t in q.stale
                ],
            }
        )
    return {"version": 1, "time": round(snap.time, 3), "state_dir": snap.state_dir, "locks": locks}
