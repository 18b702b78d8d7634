from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
from pathlib import Path

from seq_hooks import journal
from seq_hooks.lock import admission, tickets
from seq_hooks.process import proctree
from testing.queue import STATE, queue, start, start_holder
from testing.util import (
    COMPUTE,
    SLEEP,
    alive,
    family,
    fixture,
    intervals,
    reap,
    run,
    seq_hooks,
    wait_for_file,
    wait_until,
)


def _env(**values: object) -> dict[str, str]:
    return {**os.environ, **{f"SEQ_HOOKS_{k.upper()}": str(v) for k, v in values.items()}}


def _most_at_once(spans: list[tuple[int, int, str]]) -> int:
    events = sorted([(s, 1) for s, _e, _n in spans] + [(e, -1) for _s, e, _n in spans])
    now = most = 0
    for _t, step in events:
        now += step
        most = max(most, now)
    return most


def _live(repo: Path) -> list[tickets.TicketInfo]:
    return [t for t in tickets.read_queue(str(queue(repo))) if t.alive]


def test_with_two_slots_never_more_than_two_units_at_once(isolated: Path) -> None:
    stamps = isolated / "stamps"
    env = _env(slots=2)
    procs = [
        start(seq_hooks("run", "--", *fixture("stamp.py", stamps, f"u{i}", 0.2)), env)
        for i in range(20)
    ]
    try:
        assert [p.wait(120) for p in procs] == [0] * 20
    finally:
        for p in procs:
            reap(p)
    spans = intervals(stamps)
    assert len(spans) == 20
    assert _most_at_once(spans) == 2
    assert not _live(isolated)


def _race(repo: Path, terms: list[tuple[int, int, int]]) -> tuple[list[tuple[int, int, str]],
                                                                   list[str]]:
    """Units with these (slots, budget MB, expected peak MB) that join the default queue at the
    same instant: each waits on a barrier until all are ready, and the test lets them all go at
    once. Their spans, and how each was admitted (`alone`: an empty queue, without admission)."""
    state = repo / STATE
    state.mkdir(mode=0o700, exist_ok=True)
    barrier, stamps = repo / "barrier", repo / "stamps"
    barrier.touch()
    stamps.unlink(missing_ok=True)
    fd = os.open(barrier, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    procs = [
        start(fixture("race_acquire.py", state, barrier, stamps, f"u{i}", *t))
        for i, t in enumerate(terms)
    ]
    try:
        wait_until(lambda: len(list(repo.glob("stamps.ready-*"))) == len(terms), what="all ready")
        for ready in repo.glob("stamps.ready-*"):
            ready.unlink()
        os.close(fd)  # let go: every unit joins the queue now
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            reap(p)
    assert [p.returncode for p in procs] == [0] * len(terms), [err for _o, err in outs]
    return intervals(stamps), [out.strip() for out, _err in outs]


def test_units_arriving_at_once_at_an_empty_queue_never_exceed_the_budget_or_the_slots(
    isolated: Path,
) -> None:
    """The first to number its ticket in an empty queue is admitted without admission.py
    (tickets.make_granted_if_alone); those that number theirs after it, even at the same instant,
    find it a holder with its terms and its expected peak, and go through admission."""
    for _round in range(3):
        # 80 MB each in a budget of 100: one at a time
        spans, how = _race(isolated, [(2, 100, 80)] * 6)
        assert len(spans) == 6 and _most_at_once(spans) == 1
        assert how.count("alone") >= 1 and how.count("admitted") >= 1, how
        # no budget: the two slots
        spans, how = _race(isolated, [(2, 0, 10)] * 6)
        assert len(spans) == 6 and _most_at_once(spans) <= 2
        assert how.count("alone") >= 1, how
        assert not _live(isolated)


def test_a_unit_that_runs_alone_keeps_its_queue_to_itself_whoever_arrives_with_it(
    isolated: Path,
) -> None:
    """Units of the plain lock (slots = 1, another shell's setting) race units with three slots
    into an empty queue: whoever comes first, a plain unit never runs beside another (its ticket
    says it runs alone; it waits for every ticket ahead of it)."""
    for _round in range(3):
        spans, _how = _race(isolated, [(1, 0, 10), (3, 0, 10)] * 3)
        plain = {f"u{i}" for i in range(0, 6, 2)}
        assert len(spans) == 6
        for start_a, end_a, a in spans:
            if a in plain:
                assert all(end_b <= start_a or start_b >= end_a
                           for start_b, end_b, b in spans if b != a), (a, spans)
        assert not _live(isolated)


def test_status_shows_every_holder_and_why_the_head_waits(isolated: Path) -> None:
    env = _env(slots=2)
    first, gate1 = start_holder(isolated, "h1", env=env)
    second, gate2 = start_holder(isolated, "h2", env=env)
    waiter = start(seq_hooks("run", "--", "true"), env)
    try:
        wait_until(lambda: len(_live(isolated)) == 3, what="a waiter queued behind two holders")
        text = run(seq_hooks("status"), env=env).stdout
        assert "lock default  2/2 slots" in text, text
        assert text.count("holding") == 2 and "(slots full)" in text, text
        doc = json.loads(run(seq_hooks("status", "--json"), env=env).stdout)
        lock = doc["locks"][0]
        assert [h["pid"] for h in lock["holders"]] == [first.pid, second.pid]
        assert lock["capacity"]["head_waits_for"] == "slots full"
        assert doc["machine"]["running_units"] == 2
    finally:
        gate1.touch()
        gate2.touch()
        for p in (first, second, waiter):
            reap(p)


def test_admission_keeps_arrival_order(isolated: Path) -> None:
    env = _env(slots=2)
    first, gate1 = start_holder(isolated, "h1", env=env)
    second, gate2 = start_holder(isolated, "h2", env=env)  # both hold at once: two slots
    order = isolated / "order"
    waiters = []
    try:
        for i in range(5):
            waiters.append(start(seq_hooks("run", "--", "sh", "-c", f"echo w{i} >> {order}"), env))
            wait_until(lambda n=i: len(_live(isolated)) == n + 3, what=f"waiter {i} queued")
        assert not order.exists()  # nobody overtook the holders
        gate1.touch()
        assert first.wait(30) == 0
        assert [w.wait(30) for w in waiters] == [0] * 5
        gate2.touch()
        assert second.wait(30) == 0
    finally:
        for p in (first, second, *waiters):
            reap(p)
    assert order.read_text().split() == ["h1", "w0", "w1", "w2", "w3", "w4", "h2"]


def _history(repo: Path, argv: list[str], peak_mb: float) -> None:
    (repo / STATE).mkdir(mode=0o700, exist_ok=True)
    journal.append(
        str(repo / STATE),
        journal.Record(
            argv=argv, key=journal.unit_key(argv), reason="exit", peak_rss_mb=peak_mb, exit=0
        ),
    )


def test_a_unit_whose_history_says_3_gb_waits_for_the_budget_and_starts_at_the_release(
    isolated: Path,
) -> None:
    holder_argv = fixture(
        "gate.py", isolated / "h.pid", isolated / "gate-h", isolated / "order", "h"
    )
    big_argv = fixture("stamp.py", isolated / "stamps", "big", 0.01)
    _history(isolated, holder_argv, 1500)
    _history(isolated, big_argv, 3000)
    env = _env(slots=4, memory_budget_mb=4000)
    holder = start(seq_hooks("run", "--", *holder_argv), env)
    big = None
    try:
        wait_for_file(isolated / "h.pid")
        big = start(seq_hooks("run", "--", *big_argv), env)
        wait_until(lambda: len(_live(isolated)) == 2, what="the big unit queued")
        live = _live(isolated)
        assert [t.expected_mb for t in live] == [int(1500 * 1.05) + 16, int(3000 * 1.05) + 16]
        assert live[1].granted is None  # a free slot, but not the memory: it waits
        status = run(seq_hooks("status"), env=env)
        assert (
            "1/4 slots, budget 1591.0 MB of 4000.0 MB expected (2409.0 MB free)" in status.stdout
        ), status.stdout
        assert "waiting 1  " in status.stdout and "(budget)" in status.stdout, status.stdout
        doc = json.loads(run(seq_hooks("status", "--json"), env=env).stdout)["locks"][0]
        assert doc["capacity"] == {
            "slots": 4,
            "budget_mb": 4000,
            "budget_used_mb": int(1500 * 1.05) + 16,
            "budget_free_mb": 4000 - int(1500 * 1.05) - 16,
            "head_waits_for": "budget",
            "release_fifo": None,
            "defaults": False,
        }
        assert [h["expected_mb"] for h in doc["holders"]] == [int(1500 * 1.05) + 16]
        (isolated / "gate-h").touch()
        assert holder.wait(30) == 0
        assert big.wait(30) == 0
    finally:
        for p in (holder, big):
            if p is not None:
                reap(p)
    runs = {
        r.argv[-2] if r.argv[-1] == "0.01" else "h": r
        for r in journal.read(str(isolated / STATE))
        if r.started
    }
    assert runs["big"].waited_s > 0
    assert runs["big"].expected_mb == int(3000 * 1.05) + 16
    assert runs["big"].started - runs["h"].ended < 0.05, (
        "the head did not start within 50 ms of the release"
    )


def test_a_unit_that_alone_exceeds_the_budget_runs_when_nothing_else_holds(isolated: Path) -> None:
    argv = fixture("stamp.py", isolated / "stamps", "huge", 0.01)
    _history(isolated, argv, 30000)
    p = run(seq_hooks("run", "--", *argv), env=_env(slots=2, memory_budget_mb=1000), timeout=30)
    assert p.returncode == 0, p.stderr


def test_a_killed_holders_slot_is_reused_only_after_its_leftovers_are_dead(isolated: Path) -> None:
    env = _env(slots=2, kill_after=0.5)
    pidfile = isolated / "orphan.pid"
    killed = start(seq_hooks("run", "--", *fixture("ignore_term.py", pidfile, 60)), env)
    other, gate = start_holder(isolated, "other", env=env)
    orphan = int(wait_for_file(pidfile))
    # the waiter's command fails if the dead holder's command is still there when it starts
    waiter = start(seq_hooks("run", "--", *fixture("gone.py", orphan)), env)
    try:
        wait_until(lambda: len(_live(isolated)) == 3, what="the waiter queued behind two holders")
        # the runner dies; its command ignores TERM and keeps running
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        assert waiter.wait(30) == 0
        assert not alive(orphan)
    finally:
        gate.touch()
        for p in (killed, other, waiter):
            reap(p)


def test_nested_units_run_under_two_holders_at_once(isolated: Path) -> None:
    stamps = isolated / "stamps"
    env = _env(slots=2)
    procs = [
        start(
            seq_hooks(
                "run", "--", *seq_hooks("run", "--", *fixture("stamp.py", stamps, f"n{i}", 0.5))
            ),
            env,
        )
        for i in range(2)
    ]
    try:
        assert [p.wait(60) for p in procs] == [0, 0]
    finally:
        for p in procs:
            reap(p)
    spans = intervals(stamps)
    assert _most_at_once(spans) == 2  # each holder's nested call queued under its own holder
    nested = [r for r in journal.read(str(isolated / STATE)) if "/nested/" in str(r.lock)]
    assert len(nested) == 2


def test_a_dead_waiters_gate_is_removed_by_the_next_waiter_and_by_clean(isolated: Path) -> None:
    # the slotted path (slots = 1 is the plain lock): the waiter's expected peak, its memory limit,
    # does not fit
    env = _env(slots=2, memory_budget_mb=100)
    holder, gate = start_holder(isolated, "h", env=env)
    waiter = start(seq_hooks("run", "--", "true"), env)
    try:
        wait_until(lambda: len(_live(isolated)) == 2, what="a waiter queued")
        gates = list(queue(isolated).glob(".gate-*"))
        assert len(gates) == 1  # the waiter's: the holder's went when it was admitted
        waiter.send_signal(signal.SIGKILL)
        waiter.wait(10)
        assert [str(g) for g in gates] == admission.stale_gates(str(queue(isolated)))
        assert run(seq_hooks("clean"), env=env).returncode == 0
        assert not list(queue(isolated).glob(".gate-*"))
    finally:
        gate.touch()
        reap(holder)
        reap(waiter)


def test_max_wait_gives_up_while_every_slot_is_taken(isolated: Path) -> None:
    env = _env(slots=2)
    first, gate1 = start_holder(isolated, "h1", env=env)
    second, gate2 = start_holder(isolated, "h2", env=env)
    try:
        p = run(seq_hooks("run", "--max-wait", "0.5", "--", "true"), env=env)
        assert p.returncode == 75, p.stderr
        assert "gave up after waiting 0.5s" in p.stderr and f"held by pid {first.pid} (" in p.stderr
        assert len(_live(isolated)) == 2  # it left the queue; the holders hold on
    finally:
        gate1.touch()
        gate2.touch()
        for p2 in (first, second):
            reap(p2)


# one CPU for the process and everything it starts (the affinity is inherited): then 3 slots are
# more than the CPUs
PIN = [
    sys.executable,
    "-c",
    "import os, sys\nos.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
    "os.execvp(sys.argv[1], sys.argv[1:])",
]
# computes until CALM exists, then sleeps until GATE exists: `SPIN PIDFILE CALM GATE`
SPIN = ("import os, sys, time\nopen(sys.argv[1], 'w').write(str(os.getpid()))\n"
        "while not os.path.exists(sys.argv[2]): pass\n"
        "while not os.path.exists(sys.argv[3]): time.sleep(0.01)\n")


def test_with_more_slots_than_cpus_a_unit_waits_while_the_holders_keep_the_cpus_busy(
    isolated: Path,
) -> None:
    env = _env(slots=3)
    calm, gate = isolated / "calm", isolated / "gate"
    holder = start(
        [
            *PIN,
            *seq_hooks(
                "run",
                "--",
                sys.executable,
                "-c",
                SPIN,
                str(isolated / "h.pid"),
                str(calm),
                str(gate),
            ),
        ],
        env,
    )
    waiter = None
    try:
        wait_for_file(isolated / "h.pid")
        waiter = start(
            [*PIN, *seq_hooks("run", "--", *fixture("stamp.py", isolated / "stamps", "w", 0.01))],
            env,
        )
        wait_until(lambda: len(_live(isolated)) == 2, what="the waiter queued")
        doc = json.loads(run([*PIN, *seq_hooks("status", "--json")], env=env).stdout)["locks"][0]
        assert doc["capacity"]["head_waits_for"] == "CPUs busy"  # a free slot, but no free CPU
        assert _live(isolated)[1].granted is None
        calm.touch()  # the holder stops computing and sleeps: its CPU is free, its slot still taken
        assert waiter.wait(30) == 0
        assert holder.poll() is None  # admitted beside the holder, not after it
    finally:
        gate.touch()
        for p in (holder, waiter):
            if p is not None:
                reap(p)


def test_the_holders_running_processes_are_counted_and_a_holder_not_started_yet_counts_as_one(
    tmp_path: Path,
) -> None:
    # holder A's tree: a child that computes and one that sleeps; holder B: no child yet (its
    # command is starting)
    with family(tmp_path, COMPUTE, SLEEP) as (a, _), family(tmp_path) as (b, _):
        holders = [
            tickets.TicketInfo(
                i, f"t{i}", p.pid, f"k{i}", [], "/", 0.0, 1.0, [], True, expected_mb=100
            )
            for i, p in enumerate((a, b))
        ]
        wait_until(
            lambda: admission.holders_now(holders)[1] == 2,
            what="one computing child and one not started",
        )
        now, running = admission.holders_now(holders)
        assert running == 2 and [e for e, _ in now] == [100, 100]
        assert now[0][1] > now[1][1] == 0  # A's tree holds memory; B has no tree yet


def test_a_holder_whose_tree_has_ended_does_not_keep_the_cpus_busy(isolated: Path) -> None:
    """Issue 20 item 9: `seq-hooks run -- cmd | less` left at the pager: the command has exited, its
    output waits for the reader, the holder still holds its slot. It runs nothing, so the next unit
    does not wait "CPUs busy" (up to the holder's timeout): only a holder whose command has not
    started yet counts as one running."""
    env = _env(slots=3)
    script = "import sys; sys.stdout.write('x' * 500_000); sys.stdout.flush()"
    holder = start(seq_hooks("run", "--", sys.executable, "-c", script), env)  # nobody reads it
    waiter = None
    try:
        wait_until(lambda: len(_live(isolated)) == 1 and not proctree.descendants(holder.pid),
                   what="the holder's command to exit with its output unread")
        assert holder.poll() is None
        waiter = start([*PIN, *seq_hooks("run", "--", "true")], env)  # one CPU: slots > CPUs
        assert waiter.wait(30) == 0, waiter.stderr.read() if waiter.stderr else ""
        assert holder.poll() is None  # admitted beside it
    finally:
        for p in (holder, waiter):
            if p is not None:
                reap(p)


# the same command line for every unit (one key, one history); each runs until the file gates/<its
# pid> exists
_GATED = ["sh", "-c", 'echo $$ >> started; while [ ! -e "gates/$$" ]; do sleep 0.01; done']


def _started(repo: Path) -> list[str]:
    path = repo / "started"
    return path.read_text().split() if path.exists() else []


def test_a_guess_made_without_history_is_revised_from_the_history_written_while_waiting(
    isolated: Path,
) -> None:
    """A fresh repository: the first unit of a key runs alone (no history, no limit: the whole
    budget); the two that queued behind it meanwhile read its peak from the journal when their turn
    comes, and then share the slots. Before revision they ran one at a time (each still expecting
    the whole budget)."""
    (isolated / "gates").mkdir()
    env = _env(slots=2, memory_budget_mb=1000)
    cmd = seq_hooks("run", "--memory-limit", "0", "--", *_GATED)
    first = start(cmd, env)
    procs = [first]
    try:
        wait_until(lambda: len(_started(isolated)) == 1, what="the first unit started")
        procs += [start(cmd, env), start(cmd, env)]
        wait_until(lambda: len(_live(isolated)) == 3, what="two units queued behind the first")
        waiting = _live(isolated)[1:]
        assert [(t.expected_mb, t.expected_from, t.granted) for t in waiting] == [
            (1000, "budget", None)
        ] * 2
        assert "(no history: the whole budget)" in run(seq_hooks("status"), env=env).stdout
        (isolated / "gates" / _started(isolated)[0]).touch()
        assert first.wait(30) == 0
        wait_until(
            lambda: len(_started(isolated)) == 3, what="the two waiters running side by side"
        )
        live = _live(isolated)
        assert [t.granted is not None for t in live] == [True, True]
        peak = journal.read(str(isolated / STATE))[0].peak_rss_mb
        assert {(t.expected_mb, t.expected_from, t.expected_runs) for t in live} == {
            (int(peak * 1.05) + 16, "history", 1)}
        assert all(t.expected_revised > t.since for t in live)
        status = run(seq_hooks("status"), env=env).stdout
        assert status.count("(history of 1 run, revised at ") == 2, status
        doc = json.loads(run(seq_hooks("status", "--json"), env=env).stdout)["locks"][0]
        assert [(h["expected_from"], h["expected_runs"]) for h in doc["holders"]] == [
            ("history", 1)
        ] * 2
        assert all(h["expected_revised"] for h in doc["holders"])
        for pid in _started(isolated):
            (isolated / "gates" / pid).touch()
        assert [p.wait(30) for p in procs] == [0, 0, 0]
    finally:
        for pid in _started(isolated):
            (isolated / "gates" / pid).touch()
        for p in procs:
            reap(p)
    records = journal.read(str(isolated / STATE))
    assert [r.expected_mb for r in records][1:] == [int(records[0].peak_rss_mb * 1.05) + 16] * 2
