"""Fault injection. Issue 10 (acceptance): SIGKILL holders, waiters and nested runners at random
moments and check with stamp files that no two units ever overlapped, each ran at most once (exactly
once when nothing of it was killed), the queue drained, and no process of any unit is left. Issue 20
(the second round): each fault found, reproduced with real processes."""
from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from seq_hooks import journal
from seq_hooks.lock import tickets
from seq_hooks.process import machine, proctree
from testing.doctor import doctor_run
from testing.queue import STATE, queue, start, start_holder
from testing.util import (
    PY,
    alive,
    end_orphan,
    fixture,
    intervals,
    reap,
    run,
    seq_hooks,
    wait_for_file,
    wait_until,
)

ROUNDS = 50
ROUNDS_SLOTS = 30
LIVE = 4  # runs in flight at once
UNIT_S = 0.25


def _command(kind: str, stamps: Path, name: str) -> list[str]:
    unit = fixture("unit.py", stamps, name, UNIT_S)
    if kind == "nested":
        return seq_hooks("run", "--", *seq_hooks("run", "--", *unit))
    if kind == "env-i":  # a unit that drops the run token from its environment
        return seq_hooks("run", "--", "env", "-i", f"PATH={os.environ['PATH']}", *unit)
    return seq_hooks("run", "--", *unit)


def _runners(proc: subprocess.Popen[str]) -> list[int]:
    """The seq-hooks runners of one of our runs: the outer one, and a nested one when it has
    started."""
    return [
        proc.pid,
        *(
            p
            for p in proctree.descendants(proc.pid)
            if "seq_hooks" in proctree.cmdline(p) and proctree.cmdline(p).split()[:1] == [PY]
        ),
    ]


def _holding(repo: Path) -> set[int]:
    """The runner pids holding the default lock now (one, or up to `slots`)."""
    queue = tickets.read_queue(str(repo / STATE / "locks" / "default"))
    return {t.pid for t in queue if t.alive and t.granted is not None}


def _spans(stamps: Path) -> tuple[dict[str, tuple[int, int]], set[int]]:
    starts: dict[str, tuple[int, int]] = {}
    spans: dict[str, tuple[int, int]] = {}
    pids = set()
    for line in stamps.read_text().splitlines() if stamps.exists() else []:
        kind, name, t, pid = line.split()
        pids.add(int(pid))
        if kind == "start":
            assert name not in starts, f"{name} started twice"
            starts[name] = (int(t), int(pid))
        else:
            assert name not in spans, f"{name} ended twice"
            spans[name] = (starts[name][0], int(t))
    never = {
        n: f"pid {starts[n][1]} {'alive' if alive(starts[n][1]) else 'gone'}"
        for n in set(starts) - set(spans)
    }
    assert not never, f"units that never ended (a TERM makes one write its end): {never}"
    return spans, pids


def _carrying_a_run_token() -> list[int]:
    """Live processes this test session started (at any depth) that carry a run token."""
    mark = f"SEQ_HOOKS_TEST_SESSION={os.environ['SEQ_HOOKS_TEST_SESSION']}".encode()
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if mark in env and any(e.startswith(b"SEQ_HOOKS_RUN=") for e in env) and alive(int(entry)):
            found.append(int(entry))
    return found


def _storm(
    repo: Path, rounds: int
) -> tuple[dict[str, tuple[int, int]], dict[str, subprocess.Popen[str]], set[str]]:
    """`rounds` runs, LIVE at once, with SIGKILLs of holders, waiters and nested runners at random
    moments; returns (the units' spans, the runs, the names of those killed) once everything has
    ended and the queue drained."""
    seed = int(os.environ.get("SEQ_HOOKS_FAULT_SEED", time.time_ns()))
    rng = random.Random(seed)
    log: list[str] = [f"seed {seed} (SEQ_HOOKS_FAULT_SEED replays the choices)"]
    print(log[0])  # shown when the test fails
    stamps = repo / "stamps"
    runs: dict[str, subprocess.Popen[str]] = {}
    killed: set[str] = set()
    started = time.monotonic()
    try:
        for i in range(rounds):
            while sum(p.poll() is None for p in runs.values()) >= LIVE:
                time.sleep(0.01)
            name = f"u{i}"
            kind = rng.choice(["plain", "nested", "env-i", "env-i"])
            runs[name] = start(_command(kind, stamps, name))
            log.append(f"{time.monotonic_ns()} start {name} {kind} pid {runs[name].pid}")
            time.sleep(rng.uniform(0, 0.3))
            live = [(n, p) for n, p in runs.items() if p.poll() is None]
            if live and rng.random() < 0.6:
                # mostly a holder (its unit is running), else anyone: a waiter, a nested runner
                holders = [(n, p) for n, p in live if p.pid in _holding(repo)]
                victim_name, victim = rng.choice(
                    holders if holders and rng.random() < 0.7 else live
                )
                target = rng.choice(_runners(victim))
                try:
                    os.kill(target, signal.SIGKILL)
                    killed.add(victim_name)
                    log.append(f"{time.monotonic_ns()} killed {victim_name} pid {target} "
                               f"({'holder' if victim.pid in _holding(repo) else 'not holding'})")
                except ProcessLookupError:
                    pass
        for p in runs.values():
            p.wait(60)
        # takes over the last dead
        final = run(seq_hooks("run", "--max-wait", "60", "--", "true"), timeout=90)
        assert final.returncode == 0, final.stderr
    finally:
        for p in runs.values():
            reap(p)
    spans, pids = _spans(stamps)
    for name, p in runs.items():
        if name not in killed:
            assert p.returncode == 0 and name in spans, (
                name,
                p.returncode,
                p.stderr.read() if p.stderr else "",
            )
    left_tickets = list((repo / STATE / "locks").rglob("*.ticket"))
    assert not left_tickets, f"the queue did not drain: {left_tickets}"
    left = [pid for pid in pids if alive(pid)]
    for pid in left:
        end_orphan(pid)
    assert not left, f"units still running after the queue drained: {left}"
    wait_until(
        lambda: not _carrying_a_run_token(),
        what="no process of ours carrying a run token",
        timeout=5,
    )
    assert time.monotonic() - started < 120
    print(f"{len(spans)} units ran, {len(runs)} runs, {len(killed)} killed")
    (repo.parent / "storm.log").write_text("\n".join(log) + "\n")
    return spans, runs, killed


def _most_at_once(spans: dict[str, tuple[int, int]]) -> int:
    events = sorted([(s, 1) for s, _e in spans.values()] + [(e, -1) for _s, e in spans.values()])
    now = most = 0
    # an end at the same instant as a start sorts first: touching is not overlapping
    for _t, step in events:
        now += step
        most = max(most, now)
    return most


def test_random_sigkills_never_make_units_overlap(isolated: Path, one_at_a_time: None) -> None:
    spans, _runs, _killed = _storm(isolated, ROUNDS)
    assert spans
    ordered = sorted((s, e, n) for n, (s, e) in spans.items())
    for (_s1, e1, a), (s2, _e2, b) in itertools.pairwise(ordered):
        assert e1 <= s2, (
            f"{a} and {b} overlapped\n" + (isolated.parent / "storm.log").read_text()[-3000:]
        )


def test_random_sigkills_with_two_slots_never_run_more_than_two_units(isolated: Path) -> None:
    """The same with `slots = 2` (admission.py): a dead holder's slot is reused only after its
    processes are gone."""
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nslots = 2\n")
    spans, _runs, _killed = _storm(isolated, ROUNDS_SLOTS)
    assert spans and _most_at_once(spans) <= 2


# --- the second fault round (issue 20): the lock engine ---

def _env(**values: object) -> dict[str, str]:
    return {**os.environ, **{f"SEQ_HOOKS_{k.upper()}": str(v) for k, v in values.items()}}


def _cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _history(repo: Path, argv: list[str], peak_mb: float) -> None:
    (repo / STATE).mkdir(mode=0o700, exist_ok=True)
    journal.append(
        str(repo / STATE),
        journal.Record(
            argv=argv, key=journal.unit_key(argv), reason="exit", peak_rss_mb=peak_mb, exit=0
        ),
    )


def _live(repo: Path) -> list[tickets.TicketInfo]:
    return [t for t in tickets.read_queue(str(queue(repo))) if t.alive]


def test_the_head_sleeps_after_a_release_that_does_not_admit_it(isolated: Path) -> None:
    """Issue 20, 1: once a releaser has closed its end of the release FIFO, the head's read end must
    not report a hang-up for good (select() returning at once: the head burnt a CPU until
    admitted)."""
    big_argv = fixture("stamp.py", isolated / "stamps", "big", 0.01)
    env = _env(slots=4, memory_budget_mb=4000)
    h1_argv = fixture(
        "gate.py", isolated / "h1.pid", isolated / "gate-h1", isolated / "order", "h1"
    )
    h2_argv = fixture(
        "gate.py", isolated / "h2.pid", isolated / "gate-h2", isolated / "order", "h2"
    )
    _history(isolated, h1_argv, 1500)
    _history(isolated, h2_argv, 100)
    _history(isolated, big_argv, 3000)  # 1591 + 3166 MB expected: over the budget while h1 holds
    h1 = start(seq_hooks("run", "--", *h1_argv), env)
    h2 = start(seq_hooks("run", "--", *h2_argv), env)
    big = None
    try:
        wait_for_file(isolated / "h1.pid")
        wait_for_file(isolated / "h2.pid")
        big = start(seq_hooks("run", "--", *big_argv), env)
        wait_until(lambda: len(_live(isolated)) == 3, what="the big unit queued behind two holders")
        (isolated / "gate-h2").touch()  # a release that leaves the budget still short
        assert h2.wait(30) == 0
        time.sleep(0.3)
        before = _cpu_ticks(big.pid)
        time.sleep(2.0)
        spent = _cpu_ticks(big.pid) - before
        # still waiting for the budget
        assert big.poll() is None and not (isolated / "stamps").exists()
        assert spent < 10, f"the waiting head used {spent} CPU ticks in 2 s"
        (isolated / "gate-h1").touch()
        assert h1.wait(30) == 0
        assert big.wait(30) == 0
    finally:
        (isolated / "gate-h1").touch()
        (isolated / "gate-h2").touch()
        for p in (h1, h2, big):
            if p is not None:
                reap(p)


# holds the default lock (2 slots) through the Python API, releases it when RELEASE exists, and
# lives on until DONE exists: a caller that releases without exiting, as a hook run between its
# units
API_HOLDER = """
import os, sys, time
from seq_hooks.lock import capacity, queue
state, pidfile, release, done = sys.argv[1:5]
held = queue.acquire(state, "default", token=os.urandom(8).hex(), argv=["api"], cwd=os.getcwd(),
                     holds=[], cap=capacity.Capacity(2, 0, 0))
open(pidfile, "w").write(str(os.getpid()))
deadline = time.monotonic() + 60
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.01)
held.release()
while not os.path.exists(done) and time.monotonic() < deadline:
    time.sleep(0.01)
"""


def test_a_release_fifo_removed_while_the_head_listens_does_not_stall_the_queue(
    isolated: Path,
) -> None:
    """Issue 20, 2: `rm .release` while a quiet head listens; the holders release without exiting
    (no pidfd fires): the head must still be admitted."""
    state = str(isolated / STATE)
    holders = [
        start(
            [
                PY,
                "-c",
                API_HOLDER,
                state,
                str(isolated / f"a{i}.pid"),
                str(isolated / f"release{i}"),
                str(isolated / "done"),
            ]
        )
        for i in range(2)
    ]
    head = None
    try:
        for i in range(2):
            wait_for_file(isolated / f"a{i}.pid")
        head = start(
            seq_hooks("run", "--quiet", "--", *fixture("stamp.py", isolated / "stamps", "w", 0.01)),
            _env(slots=2),
        )
        fifo = queue(isolated) / ".release"
        wait_until(lambda: len(_live(isolated)) == 3 and fifo.exists(), what="the head listening")
        time.sleep(0.3)
        fifo.unlink()
        (isolated / "release0").touch()
        assert head.wait(10) == 0, "the head was never told of the release"
    finally:
        (isolated / "release1").touch()
        (isolated / "done").touch()
        for p in (*holders, head):
            if p is not None:
                reap(p)



def test_callers_that_disagree_on_slots_never_run_beside_a_plain_holder(isolated: Path) -> None:
    """Issue 20, 3: a unit holds the lock as the plain lock (slots 1); callers with
    SEQ_HOOKS_SLOTS=3 must not start beside it: the strictest terms any holder was admitted under
    win."""
    stamps = isolated / "stamps"
    plain = start(seq_hooks("run", "--", *fixture("stamp.py", stamps, "plain", 1.0)), _env(slots=1))
    others = []
    try:
        wait_until(
            lambda: stamps.exists() and "start plain" in stamps.read_text(),
            what="the plain unit running",
        )
        others = [
            start(seq_hooks("run", "--", *fixture("stamp.py", stamps, f"s{i}", 0.3)), _env(slots=3))
            for i in range(2)
        ]
        assert [p.wait(30) for p in (plain, *others)] == [0, 0, 0]
    finally:
        for p in (plain, *others):
            reap(p)
    spans = {name: (s, e) for s, e, name in intervals(stamps)}
    for name in ("s0", "s1"):
        assert spans[name][0] >= spans["plain"][1], f"{name} ran beside the plain holder"


def _private_queue(repo: Path) -> Path:
    """The default lock's queue directory, made as seq-hooks makes it (each level 0700)."""
    qdir = queue(repo)
    for d in reversed([qdir, *qdir.parents][: len(qdir.relative_to(repo).parts) - 1]):
        d.mkdir(mode=0o700, exist_ok=True)
    return qdir


def _plant(path: Path, kind: str, victim: Path) -> None:
    """Something that is not our FIFO at `path`: a regular file, a directory, or a symlink to
    `victim`."""
    if kind == "file":
        path.write_text("x")
    elif kind == "directory":
        path.mkdir()
    else:
        path.symlink_to(victim)


@pytest.mark.parametrize("kind", ["file", "directory", "symlink"])
def test_a_release_that_is_not_our_fifo_is_replaced_and_clean_and_doctor_handle_it(
    isolated: Path, kind: str
) -> None:
    """Issue 20, 7: a caller with a free slot needs no FIFO; a waiter replaces what is not our FIFO
    (the queue directory is ours); doctor names it and clean removes it."""
    env = _env(slots=2)
    qdir = _private_queue(isolated)
    fifo = qdir / ".release"
    victim = isolated / "victim"
    victim.write_text("precious")
    _plant(fifo, kind, victim)
    p = run(seq_hooks("run", "--", "true"), env=env)
    assert p.returncode == 0, p.stderr  # a free slot: no FIFO needed
    doctor = doctor_run(env)
    assert doctor.returncode != 0 and ".release" in doctor.stdout, doctor.stdout
    assert run(seq_hooks("clean"), env=env).returncode == 0
    assert not os.path.lexists(fifo)
    assert doctor_run(env).returncode == 0, doctor_run(env).stdout
    _plant(fifo, kind, victim)
    first, gate1 = start_holder(isolated, "h1", env=env)
    second, gate2 = start_holder(isolated, "h2", env=env)
    waiter = start(seq_hooks("run", "--", "true"), env)
    try:
        wait_until(
            lambda: fifo.is_fifo() and not fifo.is_symlink(), what=f"a FIFO in place of the {kind}"
        )
        gate1.touch()
        assert first.wait(30) == 0
        assert waiter.wait(30) == 0, waiter.stderr.read() if waiter.stderr else ""
    finally:
        gate1.touch()
        gate2.touch()
        for q in (first, second, waiter):
            reap(q)
    assert victim.read_text() == "precious"


def test_a_symlink_in_a_tickets_place_is_removed_by_a_lock_with_slots(isolated: Path) -> None:
    """Issue 20, 17: the plain lock removes a symlink in a ticket's place; a lock with slots must
    too."""
    qdir = _private_queue(isolated)
    victim = isolated / "victim"
    victim.write_text("precious")
    link = Path(tickets.path(str(qdir), 1))
    link.symlink_to(victim)
    p = run(seq_hooks("run", "--", "true"), env=_env(slots=2))
    assert p.returncode == 0, p.stderr
    assert not os.path.lexists(link)
    assert victim.read_text() == "precious"


def test_a_release_fifo_that_cannot_be_replaced_is_named_by_status_and_the_head_still_starts(
    isolated: Path,
) -> None:
    """Issue 20, 2 and 7: a directory that is not empty in the FIFO's place is not ours to empty;
    the head waits without it (its clock, the holders' pidfds), and `status` says why nobody is told
    of a release."""
    env = _env(slots=2)
    (_private_queue(isolated) / ".release").mkdir()
    (queue(isolated) / ".release" / "keep").write_text("someone's")
    first, gate1 = start_holder(isolated, "h1", env=env)
    second, gate2 = start_holder(isolated, "h2", env=env)
    waiter = start(seq_hooks("run", "--", "true"), env)
    try:
        wait_until(lambda: len(_live(isolated)) == 3, what="a waiter queued behind two holders")
        status = run(seq_hooks("status"), env=env).stdout
        assert "(slots full; .release is a directory)" in status, status
        gate1.touch()
        assert first.wait(30) == 0
        assert waiter.wait(30) == 0
    finally:
        gate1.touch()
        gate2.touch()
        for q in (first, second, waiter):
            reap(q)
    assert (queue(isolated) / ".release" / "keep").read_text() == "someone's"
    p = run(seq_hooks("clean"), env=env)
    assert (
        p.returncode == 1 and "could not remove default/.release, which is a directory" in p.stdout
    ), p.stdout


def _planted_history(repo: Path, argv: list[str], peak: bytes) -> None:
    """A line in the journal with the unit's key and the peak `peak`, written by hand (a hostile or
    damaged one)."""
    (repo / STATE).mkdir(mode=0o700, exist_ok=True)
    key = journal.unit_key(argv).encode()
    with open(repo / STATE / journal.NAME, "ab") as f:
        f.write(
            b'{"argv":["x"],"key":"' + key + b'","reason":"exit","peak_rss_mb":' + peak + b"}\n"
        )


def _run_with_a_budget(repo: Path, argv: list[str]) -> journal.Record:
    env = {**os.environ, "SEQ_HOOKS_SLOTS": "2", "SEQ_HOOKS_MEMORY_BUDGET_MB": "1000",
           "SEQ_HOOKS_MEMORY_LIMIT_MB": "0"}
    p = run(seq_hooks("run", "--", *argv), env=env)
    assert p.returncode == 0, p.stderr
    return journal.read(str(repo / STATE))[-1]


@pytest.mark.parametrize("peak", [b"NaN", b"Infinity", b"-Infinity", b"1e400",
                                  b"[" * 5000 + b"1" + b"]" * 5000, b"{" * 100_000])
def test_a_peak_that_is_not_a_number_in_the_journal_does_not_break_later_runs(
    isolated: Path, peak: bytes
) -> None:
    """Issue 20, item 6: NaN, infinity or a deeply nested value under a unit's key made every later
    run of that command fail with 125, for good. Such a line is skipped: the unit has no history and
    assumes the budget."""
    argv = ["true", "nan-peak"]
    _planted_history(isolated, argv, peak)
    assert _run_with_a_budget(isolated, argv).expected_mb == 1000


def test_a_negative_peak_does_not_bypass_the_budget(isolated: Path) -> None:
    argv = ["true", "negative-peak"]
    _planted_history(isolated, argv, b"-5000")
    # was -5234: any unit fitted beside it
    assert _run_with_a_budget(isolated, argv).expected_mb == 1000


def test_a_huge_peak_is_capped_at_the_memory_we_may_use(isolated: Path) -> None:
    argv = ["true", "huge-peak"]
    _planted_history(isolated, argv, b"1e300")
    # was a 301-digit number
    assert _run_with_a_budget(isolated, argv).expected_mb == machine.memory_total_mb()


# --- the second fault round (issue 20): configuration ---

def test_a_relative_home_is_refused_where_the_state_dir_comes_from_it(
    isolated: Path, tmp_path: Path
) -> None:
    """Issue 20, item 11: HOME=. (a CI step) gave each working directory a state dir of its own, so
    units started from two directories of one machine-wide queue overlapped. Refused as a relative
    SEQ_HOOKS_HOME is."""
    (isolated / "pyproject.toml").write_text('[tool.seq-hooks]\nscope = "machine"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_STATE_HOME", "SEQ_HOOKS_HOME")}
    p = run(seq_hooks("run", "--", "true"), env={**env, "HOME": "."})
    assert p.returncode == 2, p.stderr
    assert "HOME must be an absolute path to find the state directory, got '.'" in p.stderr
    assert not (isolated / ".local").exists()
    assert run(seq_hooks("run", "--", "true"), env={**env, "HOME": str(tmp_path)}).returncode == 0


def test_a_log_dir_that_cannot_be_one_is_a_configuration_error_naming_the_key(
    isolated: Path,
) -> None:
    """Issue 20, item 15: log_dir = "/dev/null" ended a run with 125, blaming "the state
    directory"."""
    (isolated / "pyproject.toml").write_text('[tool.seq-hooks]\nlog_dir = "/dev/null"\n')
    p = run(seq_hooks("run", "--", "true"))
    assert p.returncode == 2
    assert p.stderr == (
        f"seq-hooks run: {isolated / 'pyproject.toml'}: log_dir = '/dev/null': refusing the log "
        "directory /dev/null: it is not a directory\n"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SEQ_HOOKS_SLOTS", "\u0663"),
        ("SEQ_HOOKS_MAX_PROCS", "1_0"),
        ("SEQ_HOOKS_TIMEOUT", "\u0661\u0660"),
        ("SEQ_HOOKS_MEMORY_LIMIT_MB", "\uff11\uff10\uff10"),
    ],
)
def test_numbers_in_the_environment_are_ascii_digits(isolated: Path, name: str, value: str) -> None:
    """Issue 20, item 18: SEQ_HOOKS_SLOTS=\u0663 ran with 3 slots, 1_0 meant 10."""
    p = run(seq_hooks("run", "--", "true"), env={**os.environ, name: value})
    assert p.returncode == 2
    assert (
        f"environment variable {name} must be" in p.stderr
        and "in ASCII digits, without '_'" in p.stderr
    )


def test_a_lock_table_must_be_named_as_a_lock_is(isolated: Path) -> None:
    """Issue 20, item 18: [tool.seq-hooks.locks."a/b"] was taken, and a name with '/' is a nested
    queue's."""
    (isolated / "pyproject.toml").write_text('[tool.seq-hooks.locks."a/b"]\nslots = 2\n')
    p = run(seq_hooks("run", "--", "true"))
    assert p.returncode == 2
    assert "[tool.seq-hooks.locks.a/b]: 'a/b' is not a lock name (letters, digits" in p.stderr
