"""Lock cycles: a holder of one lock waiting for another whose holder waits (maybe via others) for the first.

The wait-for graph is read from the queue files: a live waiting ticket that holds token h (its `holds`) waits for
its queue's holder. A waiter that would close a cycle gives up with exit 75 instead of deadlocking.
"""
from __future__ import annotations

from collections.abc import Callable

from seq_hooks import tickets
from seq_hooks.errors import MAX_WAIT, FatalError
from seq_hooks.tickets import TicketInfo

GRACE = 2.0  # seconds a cycle may last before any waiter in it gives up, not only the youngest


def _edges(state_dir: str) -> dict[str, list[tuple[TicketInfo, str]]]:
    """held token -> [(waiting ticket that holds it, the token of the holder it waits for)]."""
    waits: dict[str, list[tuple[TicketInfo, str]]] = {}
    for _lock_id, qdir in tickets.all_queues(state_dir):
        queue = [t for t in tickets.read_queue(qdir) if t.alive]
        if not queue:
            continue
        holder = queue[0].token
        for t in queue[1:]:
            if t.granted is not None:  # another holder of a lock with slots: it waits for nobody here
                continue
            for h in t.holds:
                waits.setdefault(h, []).append((t, holder))
    return waits


def find(state_dir: str, holds: list[str], holder_token: str) -> list[TicketInfo] | None:
    """Whether waiting for `holder_token` while holding `holds` closes a wait-for cycle across the queues.

    Returns the chain of waiting tickets that leads back to us, or None.
    """
    if not holds:
        return None
    waits = _edges(state_dir)
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


class Watch:
    """The cycle check of one waiter, run every `every` seconds while it waits."""

    every = 0.5

    def __init__(self, state_dir: str, qdir: str, lock_id: str, holds: list[str], me: tuple[float, str],
                 describe: Callable[[TicketInfo | None], str]) -> None:
        self.state_dir, self.qdir, self.lock_id = state_dir, qdir, lock_id
        self.holds = holds
        self.me = me  # (since, token): the youngest waiter of a cycle gives up
        self.describe = describe
        self.seen: float | None = None  # when the current cycle was first seen
        self.next = 0.0

    def due(self, now: float) -> float | None:
        """Seconds until the next check, None when there is nothing to check (we hold no lock)."""
        return max(self.next - now, 0.0) if self.holds else None

    def check(self, now: float) -> None:
        """Raises FatalError(75) when our wait closes a cycle and we joined it last (or it outlived GRACE)."""
        if not self.holds or now < self.next:
            return
        self.next = now + self.every
        queue = [t for t in tickets.read_queue(self.qdir) if t.alive]
        chain = find(self.state_dir, self.holds, queue[0].token) if queue and queue[0].granted else None
        if chain is None:
            self.seen = None
            return
        self.seen = now if self.seen is None else self.seen
        # Waiters that join at the same moment all see the cycle: only the youngest (since, token) gives up, so
        # exactly one side fails; the grace covers a youngest that cannot act (stopped, or an older seq-hooks).
        if any(self.me < (t.since, t.token) for t in chain) and now - self.seen < GRACE:
            return
        via = "; ".join(f"{self.describe(t)} waits for it" for t in chain)
        raise FatalError(
            f"lock cycle: waiting for {self.lock_id!r}, held by {self.describe(queue[0])}, while {via} and on a "
            "lock this process already holds; giving up to break the deadlock",
            MAX_WAIT,
        )
