"""Lock cycles: a holder of one lock waiting for another whose holder waits (maybe via others) for
the first.

The wait-for graph is read from the queue files: a live waiting ticket that holds token h (its
`holds`) waits for its queue's holder. A waiter that would close a cycle gives up with exit 75
instead of deadlocking.
"""
from __future__ import annotations

from collections.abc import Callable

from seq_hooks.errors import MAX_WAIT, FatalError
from seq_hooks.lock import tickets
from seq_hooks.lock.tickets import TicketInfo

GRACE = 2.0  # seconds a cycle may last before any waiter in it gives up, not only the youngest
EVERY = 0.5  # seconds between two checks of one waiter


def _edges(state_dir: str) -> dict[str, list[tuple[TicketInfo, list[str]]]]:
    """held token -> [(waiting ticket that holds it, the tokens of the holders of the queue it waits
    in)].

    A waiter waits for ANY holder of its queue to let go (with slots, any release can admit it): it
    is stuck only when every one of them is.
    """
    waits: dict[str, list[tuple[TicketInfo, list[str]]]] = {}
    for _lock_id, qdir in tickets.all_queues(state_dir):
        queue = [t for t in tickets.read_queue(qdir) if t.alive]
        holders = [t.token for t in queue if t.granted is not None]
        for t in queue:
            # a holder of this lock (one of its slots) waits for nobody here
            if t.granted is not None:
                continue
            for h in t.holds:
                waits.setdefault(h, []).append((t, holders))
    return waits


def _stuck(token: str, holds: list[str], waits: dict[str, list[tuple[TicketInfo, list[str]]]],
           visiting: set[str]) -> list[TicketInfo] | None:
    """The chain of waiting tickets by which the holder `token` waits (maybe via others) for a lock
    in `holds`; None when it can get on without us. A loop that does not pass through us is not ours
    to break."""
    if token in holds:
        return []
    if token in visiting:
        return None
    visiting.add(token)
    try:
        for ticket, holders in waits.get(token, []):
            chains = [_stuck(h, holds, waits, visiting) for h in holders]
            if chains and all(c is not None for c in chains):
                return [ticket, *(chains[0] or [])]
        return None
    finally:
        visiting.discard(token)


def find(state_dir: str, holds: list[str], holder_tokens: list[str]) -> list[TicketInfo] | None:
    """Whether waiting for the holders `holder_tokens` while holding `holds` closes a wait-for cycle
    across the queues: every one of them waits, maybe via others, for a lock we hold. Returns the
    chain of waiting tickets that leads back to us from the first holder, or None.
    """
    if not holds or not holder_tokens:
        return None
    waits = _edges(state_dir)
    chains = [_stuck(h, holds, waits, set()) for h in holder_tokens]
    if all(c is not None for c in chains):
        return chains[0]
    return None


class Watch:
    """The cycle check of one waiter that holds a lock already; its waiting loop runs `check` every
    EVERY seconds."""

    def __init__(
        self,
        state_dir: str,
        qdir: str,
        lock_id: str,
        holds: list[str],
        me: tuple[float, str],
        describe: Callable[[TicketInfo | None], str],
    ) -> None:
        self.state_dir, self.qdir, self.lock_id = state_dir, qdir, lock_id
        self.holds = holds
        self.me = me  # (since, token): the youngest waiter of a cycle gives up
        self.describe = describe
        self.seen: float | None = None  # when the current cycle was first seen

    def check(self, now: float) -> None:
        """Raises FatalError(75) when our wait closes a cycle and we joined it last (or it outlived
        GRACE)."""
        queue = [t for t in tickets.read_queue(self.qdir) if t.alive]
        holders = [t.token for t in queue if t.granted is not None]
        chain = find(self.state_dir, self.holds, holders)
        if chain is None:
            self.seen = None
            return
        self.seen = now if self.seen is None else self.seen
        # Waiters that join at the same moment all see the cycle: only the youngest (since, token)
        # gives up, so exactly one side fails; the grace covers a youngest that cannot act (stopped,
        # or an older seq-hooks).
        if any(self.me < (t.since, t.token) for t in chain) and now - self.seen < GRACE:
            return
        via = "; ".join(f"{self.describe(t)} waits for it" for t in chain)
        raise FatalError(
            f"lock cycle: waiting for {self.lock_id!r}, held by {self.describe(queue[0])}, while "
            f"{via} and on a "
            "lock this process already holds; giving up to break the deadlock",
            MAX_WAIT,
        )
