from __future__ import annotations

import os
import subprocess
from pathlib import Path

from seq_hooks import leftovers
from seq_hooks.leftovers import Leftover, Proc, Untouched
from seq_hooks.lock import tickets
from seq_hooks.process import proctree
from testing.queue import STATE, finished_run, plant_ticket, queue, start_with_token
from testing.util import fixture, reap, run, seq_hooks, wait_for_file


def test_classify_judges_only_tokens_this_project_knows() -> None:
    me = os.getpid()
    procs = [Proc(10, 1, "stale"), Proc(11, 10, "stale"), Proc(20, 1, "ended"), Proc(30, 1, "live"),
             Proc(40, 1, "logged"), Proc(50, me, "busy"), Proc(60, 1, "foreign")]
    found, untouched = leftovers.classify(procs, live={"live"}, stale={"stale": "ticket default/3"},
                                          ended={"ended"}, logged={"logged", "busy"})
    assert [(lo.token, lo.pids) for lo in found] == [
        ("ended", [20]),
        ("logged", [40]),
        ("stale", [10, 11]),
    ]
    assert "ticket default/3 is stale" in found[2].why
    assert untouched == [Untouched("busy", [50], me)]  # hangs under a live process outside the run


def test_find_reports_a_stale_ticket_and_the_processes_of_its_run(isolated: Path) -> None:
    state = str(isolated / STATE)
    stale_token, ended_token = os.urandom(8).hex(), os.urandom(8).hex()
    ticket = plant_ticket(queue(isolated), 4, ["old", "cmd"], stale_token, granted=True)
    # unreadable: reported, with no run to judge
    (queue(isolated) / "9.ticket").write_text("garbage")
    finished_run(isolated, ended_token)
    a = start_with_token(isolated, "a", stale_token)
    b = start_with_token(isolated, "b", ended_token)
    try:
        stale, found, untouched = leftovers.find(state)
        assert sorted((os.path.basename(s.path), s.ticket is not None) for s in stale) == [
            ("000000000004.ticket", True), ("9.ticket", False)]
        assert {(lo.token, tuple(lo.pids)) for lo in found} == {
            (stale_token, (a.pid,)),
            (ended_token, (b.pid,)),
        }
        assert untouched == []
        ended, survivors = leftovers.end(Leftover(stale_token, [a.pid], "x"), grace=2.0)
        assert ended == [a.pid] and survivors == [] and a.wait(10) != 0
        assert ticket.exists()  # finding only reports
    finally:
        reap(a)
        reap(b)


def test_remove_stale_keeps_live_tickets(isolated: Path) -> None:
    qdir = queue(isolated)
    dead = plant_ticket(qdir, 1, ["dead"], "d", granted=True)
    _n, fd, _s = tickets.make(str(qdir), "live", ["live"], "/", [])
    try:
        removed = leftovers.remove_stale(str(qdir), "default")
        assert [r.path for r in removed] == [str(dead)]
        assert [t.token for t in tickets.read_queue(str(qdir))] == ["live"]
    finally:
        os.close(fd)


def test_empty_nested_queues_of_dead_holders_are_removed_deepest_first(isolated: Path) -> None:
    state = str(isolated / STATE)
    top = tickets.queue_dir(state, "default")
    outer = tickets.nested_dir(top, "dead1")
    inner = tickets.nested_dir(outer, "dead2")
    kept = tickets.nested_dir(top, "alive")
    for d in (inner, kept):
        os.makedirs(d, mode=0o700)
        open(os.path.join(d, tickets.SEQ), "w").close()
    found = leftovers.empty_nested(state, live={"alive"})
    assert found == [inner, outer]
    assert all(leftovers.remove_nested(d) for d in found)
    assert not os.path.exists(outer) and os.path.isdir(kept)


def test_scan_finds_every_process_carrying_a_run_token(isolated: Path) -> None:
    token = os.urandom(8).hex()
    p = start_with_token(isolated, "p", token)
    try:
        assert [(q.pid, q.token) for q in leftovers.scan() if q.token == token] == [(p.pid, token)]
        assert leftovers.still_carries(p.pid, token) and not leftovers.still_carries(p.pid, "other")
    finally:
        reap(p)
    assert not leftovers.still_carries(p.pid, token)


def test_a_dead_holders_recorded_processes_are_found_without_their_token(isolated: Path) -> None:
    """Issue 10 item 4: `doctor` and `clean` see what a dead holder's supervisor recorded, even
    after `env -i`."""
    pidfile = isolated / "bare.pid"
    bare = subprocess.Popen(["env", "-i", *fixture("pidfile.py", pidfile, 60)])
    try:
        wait_for_file(pidfile)
        info = proctree.info(bare.pid)
        assert info is not None
        ticket = plant_ticket(queue(isolated), 2, ["gone"], "deadtoken", granted=True)
        Path(tickets.procs_path(str(ticket))).write_text(
            f"{bare.pid} {info.start}\n{bare.pid + 1} 1\n"
        )
        _stale, found, _untouched = leftovers.find(str(isolated / STATE))
        assert [(lo.token, lo.pids) for lo in found] == [("deadtoken", [bare.pid])]
        assert "recorded by its supervisor" in found[0].why
        out = run(seq_hooks("clean")).stdout
        assert f"ended pid {bare.pid}" in out, out
        assert bare.wait(10) != 0
        assert not ticket.exists() and not Path(tickets.procs_path(str(ticket))).exists()
    finally:
        reap(bare)
