"""The keys of `status --watch`: the pure state machine, and ending a unit by its run token with
real processes (the terminal itself is driven in tmux by tests/commands_status_test.py)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from seq_hooks import queue_view
from seq_hooks.commands import watchkeys
from seq_hooks.lock import tickets
from seq_hooks.queue_view import Holder, Snapshot
from testing.util import alive, fixture, reap, seq_hooks, wait_for_file

STATE = Path(".git") / "seq-hooks"


def _holder(pid: int, token: str, argv: list[str]) -> Holder:
    t = tickets.TicketInfo(1, "/q/000000000001.ticket", pid, token, argv, "/", 0.0, 1.0, [], True)
    return Holder(t, 1.0, 2.0, 10.0, 1)


def _snap(*holders: Holder) -> Snapshot:
    queues = [
        queue_view.QueueView(f"l{i}", None, 0, h, [], [], (h,)) for i, h in enumerate(holders)
    ]
    return Snapshot(0.0, "/s", queues)


A = _holder(11, "a" * 16, ["make", "test"])
B = _holder(22, "b" * 16, ["pytest", "\x1b[2J"])


def test_k_asks_for_the_one_running_unit_and_y_confirms() -> None:
    act = watchkeys.press(watchkeys.Mode(), "k", _snap(A))
    assert act.mode.target == A and act.end is None
    assert (
        watchkeys.prompt(act.mode)
        == "end unit pid 11 (make test) and its whole tree: TERM, then KILL? y/N"
    )
    done = watchkeys.press(act.mode, "y", _snap(A))
    assert done.end == A and done.mode == watchkeys.Mode()


def test_any_other_key_cancels() -> None:
    asked = watchkeys.press(watchkeys.Mode(), "k", _snap(A)).mode
    for key in ("n", "N", "q", " ", "k"):
        act = watchkeys.press(asked, key, _snap(A))
        assert act.end is None and not act.quit and act.mode.note == "cancelled"


def test_several_units_are_chosen_by_number() -> None:
    act = watchkeys.press(watchkeys.Mode(), "k", _snap(A, B))
    assert act.mode.choices == (A, B)
    text = watchkeys.prompt(act.mode)
    # the command made safe
    assert "1: pid 11 (make test)" in text and "2: pid 22 (pytest '?[2J')" in text
    assert watchkeys.press(act.mode, "2", _snap(A, B)).mode.target == B
    assert watchkeys.press(act.mode, "3", _snap(A, B)).mode.note == "cancelled"


def test_q_quits_and_k_with_nothing_running_says_so() -> None:
    assert watchkeys.press(watchkeys.Mode(), "q", _snap()).quit
    assert watchkeys.press(watchkeys.Mode(), "k", _snap()).mode.note == "no unit is running"
    assert "k: end the running unit" in watchkeys.press(watchkeys.Mode(), "x", _snap()).mode.note


def test_still_running_compares_run_tokens() -> None:
    assert watchkeys.still_running(A, _snap(A, B))
    assert not watchkeys.still_running(A, _snap(B))


def test_end_unit_ends_the_units_tree_by_token_and_spares_its_namesake(isolated: Path) -> None:
    pidfile, decoy_file = isolated / "unit.pid", isolated / "decoy.pid"
    unit = subprocess.Popen(
        seq_hooks("run", "--quiet", "--", *fixture("ignore_term.py", pidfile, 120))
    )
    decoy = subprocess.Popen(fixture("ignore_term.py", decoy_file, 120))
    try:
        child = int(wait_for_file(pidfile))
        wait_for_file(decoy_file)
        [holder] = watchkeys.running(queue_view.snapshot(str(isolated / STATE)))
        assert holder.ticket.pid == unit.pid
        started = time.monotonic()
        said = watchkeys.end_unit(holder, 0.5)
        assert said == f"sent TERM to 1 process of unit pid {unit.pid} (KILL after 0.5s): ended"
        assert time.monotonic() - started >= 0.5  # it ignored TERM: KILL came after the grace
        assert unit.wait(30) == 137 and not alive(child)
        assert alive(decoy.pid)
        assert watchkeys.end_unit(holder, 0.5) == f"unit pid {unit.pid} has no process left to end"
    finally:
        reap(unit)
        reap(decoy)
