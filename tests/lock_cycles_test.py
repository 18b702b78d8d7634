from __future__ import annotations

import os
from pathlib import Path

import pytest

from seq_hooks.errors import FatalError
from seq_hooks.lock import cycles, queue, tickets
from testing.queue import start
from testing.util import reap, seq_hooks


def _queue(state: str, lock_id: str) -> str:
    qdir = tickets.queue_dir(state, lock_id)
    os.makedirs(qdir, mode=0o700, exist_ok=True)
    return qdir


def test_find_follows_waiters_back_to_a_lock_we_hold(isolated: Path) -> None:
    """We hold B (token b) and would wait for A's holder a; a waiter in B's queue holds a: a
    cycle."""
    state = str(isolated / ".git" / "seq-hooks")
    a, b = _queue(state, "a"), _queue(state, "b")
    fds = []
    try:
        for qdir, token, holds, granted in (
            (a, "a", [], True),
            (b, "b", [], True),
            (b, "w", ["a"], False),
        ):
            _n, fd, _s = tickets.make(qdir, token, [token], "/", holds)
            if granted:
                tickets.mark_granted(fd)
            fds.append(fd)
        chain = cycles.find(state, ["b"], ["a"])
        assert chain is not None and [t.token for t in chain] == ["w"]
        assert cycles.find(state, ["other"], ["a"]) is None
        assert cycles.find(state, [], ["a"]) is None
        # we joined first: we wait
        watch = cycles.Watch(state, a, "a", ["b"], (0.0, "me"), queue.describe)
        watch.check(100.0)
        assert watch.seen == 100.0
        with pytest.raises(FatalError, match="lock cycle") as e:
            watch.check(100.0 + cycles.GRACE)  # the cycle outlived the grace: any side gives up
        assert e.value.code == 75
        young = cycles.Watch(state, a, "a", ["b"], (float("inf"), "me"), queue.describe)
        with pytest.raises(FatalError, match="lock cycle"):
            young.check(1.0)  # the youngest gives up at once
    finally:
        for fd in fds:
            os.close(fd)
    assert cycles.find(state, ["b"], ["a"]) is None  # every ticket released: no live edge


def test_cross_lock_cycle_fails_one_side_fast(isolated: Path, one_at_a_time: None) -> None:
    a_ready, b_ready = isolated / "a", isolated / "b"
    inner = " ".join(seq_hooks("run", "--", "true"))
    inner_git = " ".join(seq_hooks("run", "--lock", "git", "--", "true"))
    wait_a = f"while [ ! -e {b_ready} ]; do sleep 0.01; done"
    wait_b = f"while [ ! -e {a_ready} ]; do sleep 0.01; done"
    a = start(
        seq_hooks("run", "--lock", "git", "--", "sh", "-c", f"touch {a_ready}; {wait_a}; {inner}")
    )
    b = start(seq_hooks("run", "--", "sh", "-c", f"touch {b_ready}; {wait_b}; {inner_git}"))
    try:
        codes = sorted([a.wait(30), b.wait(30)])
    finally:
        reap(a)
        reap(b)
    assert codes == [0, 75]
    assert "lock cycle" in (a.stderr.read() if a.stderr else "") + (
        b.stderr.read() if b.stderr else ""
    )


def test_a_second_holder_of_a_lock_with_slots_waits_for_nobody(isolated: Path) -> None:
    """B has two holders: the second holds a (it was admitted beside the first). We hold b and would
    wait for a's holder: no cycle, the second holder of B waits for no one."""
    state = str(isolated / ".git" / "seq-hooks")
    a, b = _queue(state, "a"), _queue(state, "b")
    fds = []
    try:
        for qdir, token, holds in ((a, "a", []), (b, "b", []), (b, "second", ["a"])):
            _n, fd, _s = tickets.make(qdir, token, [token], "/", holds)
            tickets.mark_granted(fd)
            fds.append(fd)
        assert cycles.find(state, ["b"], ["a"]) is None
    finally:
        for fd in fds:
            os.close(fd)


def test_with_slots_a_cycle_needs_every_holder_to_wait_for_us(isolated: Path) -> None:
    """B has two holders h1 and h2; we hold x. While only h1 waits for x, h2 can still let go of B
    and admit us: no cycle. Once h2 waits for x too, nobody can move: a cycle."""
    state = str(isolated / ".git" / "seq-hooks")
    b, x = _queue(state, "b"), _queue(state, "x")
    fds = []

    def ticket(qdir: str, token: str, holds: list[str], granted: bool) -> None:
        _n, fd, _s = tickets.make(qdir, token, [token], "/", holds)
        if granted:
            tickets.mark_granted(fd)
        fds.append(fd)

    try:
        for qdir, token, holds, granted in (
            (x, "x", [], True),
            (b, "h1", [], True),
            (b, "h2", [], True),
            (x, "w1", ["h1"], False),
        ):
            ticket(qdir, token, holds, granted)
        # the first holder alone would look like a cycle
        assert cycles.find(state, ["x"], ["h1"]) is not None
        assert cycles.find(state, ["x"], ["h1", "h2"]) is None
        watch = cycles.Watch(state, b, "b", ["x"], (float("inf"), "me"), queue.describe)
        watch.check(1.0)  # the youngest would give up at once on a cycle: it does not
        ticket(x, "w2", ["h2"], False)
        chain = cycles.find(state, ["x"], ["h1", "h2"])
        assert chain is not None and [t.token for t in chain] == ["w1"]
        with pytest.raises(FatalError, match="lock cycle"):
            watch.check(2.0)
    finally:
        for fd in fds:
            os.close(fd)
