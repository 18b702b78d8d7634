"""Fault injection (issue 10, acceptance): SIGKILL holders, waiters and nested runners at random moments and check
with stamp files that no two units ever overlapped, each ran at most once (exactly once when nothing of it was
killed), the queue drained, and no process of any unit is left."""
from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from seq_hooks.lock import tickets
from seq_hooks.process import proctree
from testing.queue import STATE, start
from testing.util import PY, alive, end_orphan, fixture, reap, run, seq_hooks, wait_until

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
    """The seq-hooks runners of one of our runs: the outer one, and a nested one when it has started."""
    return [proc.pid, *(p for p in proctree.descendants(proc.pid) if "seq_hooks" in proctree.cmdline(p)
                        and proctree.cmdline(p).split()[:1] == [PY])]


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
    assert set(starts) == set(spans), f"units that never ended: {set(starts) - set(spans)}"
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


def _storm(repo: Path, rounds: int) -> tuple[dict[str, tuple[int, int]], dict[str, subprocess.Popen[str]], set[str]]:
    """`rounds` runs, LIVE at once, with SIGKILLs of holders, waiters and nested runners at random moments; returns
    (the units' spans, the runs, the names of those killed) once everything has ended and the queue drained."""
    seed = int(os.environ.get("SEQ_HOOKS_FAULT_SEED", time.time_ns()))
    rng = random.Random(seed)
    log: list[str] = [f"seed {seed} (SEQ_HOOKS_FAULT_SEED replays the choices)"]
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
                victim_name, victim = rng.choice(holders if holders and rng.random() < 0.7 else live)
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
        final = run(seq_hooks("run", "--max-wait", "60", "--", "true"), timeout=90)  # takes over the last dead
        assert final.returncode == 0, final.stderr
    finally:
        for p in runs.values():
            reap(p)
    spans, pids = _spans(stamps)
    for name, p in runs.items():
        if name not in killed:
            assert p.returncode == 0 and name in spans, (name, p.returncode, p.stderr.read() if p.stderr else "")
    left_tickets = list((repo / STATE / "locks").rglob("*.ticket"))
    assert not left_tickets, f"the queue did not drain: {left_tickets}"
    left = [pid for pid in pids if alive(pid)]
    for pid in left:
        end_orphan(pid)
    assert not left, f"units still running after the queue drained: {left}"
    wait_until(lambda: not _carrying_a_run_token(), what="no process of ours carrying a run token", timeout=5)
    assert time.monotonic() - started < 120
    print(f"{len(spans)} units ran, {len(runs)} runs, {len(killed)} killed")
    (repo.parent / "storm.log").write_text("\n".join(log) + "\n")
    return spans, runs, killed


def _most_at_once(spans: dict[str, tuple[int, int]]) -> int:
    events = sorted([(s, 1) for s, _e in spans.values()] + [(e, -1) for _s, e in spans.values()])
    now = most = 0
    for _t, step in events:  # an end at the same instant as a start sorts first: touching is not overlapping
        now += step
        most = max(most, now)
    return most


def test_random_sigkills_never_make_units_overlap(isolated: Path) -> None:
    spans, _runs, _killed = _storm(isolated, ROUNDS)
    assert spans
    ordered = sorted((s, e, n) for n, (s, e) in spans.items())
    for (_s1, e1, a), (s2, _e2, b) in itertools.pairwise(ordered):
        assert e1 <= s2, f"{a} and {b} overlapped\n" + (isolated.parent / "storm.log").read_text()[-3000:]


def test_random_sigkills_with_two_slots_never_run_more_than_two_units(isolated: Path) -> None:
    """The same with `slots = 2` (admission.py): a dead holder's slot is reused only after its processes are gone."""
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nslots = 2\n")
    spans, _runs, _killed = _storm(isolated, ROUNDS_SLOTS)
    assert spans and _most_at_once(spans) <= 2
