from __future__ import annotations

import os
import time
from pathlib import Path

from seq_hooks import queue_view
from seq_hooks.lock import tickets
from seq_hooks.lock.tickets import TicketInfo


def _t(
    number: int, token: str, alive: bool, granted: float | None, since: float = 100.0
) -> TicketInfo:
    return TicketInfo(
        number,
        f"/q/{number}.ticket",
        os.getpid(),
        token,
        ["cmd", token],
        "/",
        since,
        granted,
        [],
        alive,
    )


def test_view_names_the_first_live_granted_ticket_the_holder_and_numbers_the_waiters() -> None:
    q = queue_view.view(
        "default",
        [
            _t(1, "dead", False, 101.0),
            _t(2, "h", True, 105.0, 102.0),
            _t(3, "w1", True, None, 103.0),
            _t(4, "w2", True, None, 104.0),
        ],
        now=110.0,
    )
    assert q.holder is not None and q.holder.ticket.token == "h"
    assert (q.holder.waited_s, q.holder.elapsed_s) == (3.0, 5.0)
    assert [(w.position, w.ticket.token, w.waited_s) for w in q.waiting] == [
        (1, "w1", 7.0),
        (2, "w2", 6.0),
    ]
    assert [t.token for t in q.stale] == ["dead"]
    assert (q.parent, q.depth) == (None, 0)


def test_a_queue_whose_head_waits_has_no_holder() -> None:
    q = queue_view.view("default/nested/abc", [_t(1, "w", True, None)], now=110.0)
    assert q.holder is None and [w.position for w in q.waiting] == [1]
    assert (q.parent, q.depth) == ("default", 1)


def test_snapshot_orders_nested_queues_under_their_parent_and_skips_idle_ones(
    isolated: Path,
) -> None:
    state = str(isolated / ".git" / "seq-hooks")
    top = tickets.queue_dir(state, "default")
    busy, idle = tickets.nested_dir(top, "outer"), tickets.nested_dir(top, "gone")
    for d in (busy, idle, tickets.queue_dir(state, "a")):
        os.makedirs(d, mode=0o700)
    fds = []
    try:
        for qdir, token in ((top, "outer"), (busy, "inner")):
            _n, fd, _s = tickets.make(qdir, token, [token], "/", [])
            tickets.mark_granted(fd)
            fds.append(fd)
        open(os.path.join(idle, tickets.SEQ), "w").close()
        snap = queue_view.snapshot(state)
        assert [q.lock_id for q in snap.queues] == ["default", "default/nested/outer"]
        doc = queue_view.as_json(snap)
        assert doc["version"] == 1 and doc["state_dir"] == state
        holder = doc["locks"][0]["holder"]
        assert (
            holder["token"] == "outer"
            and holder["pid"] == os.getpid()
            and holder["granted"] <= time.time()
        )
        assert doc["locks"][1]["parent"] == "default"
    finally:
        for fd in fds:
            os.close(fd)
