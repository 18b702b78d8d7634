"""treewatch: sampling a real tree of our children, its limits, and the notes at 50% and 75% of the
memory limit."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks.process import proctree
from seq_hooks.process.treewatch import MIN_SAMPLE, Sample, TreeWatch
from testing.util import fixture, reap, wait_until


@pytest.fixture
def eater(isolated: Path) -> Iterator[int]:
    """A child holding 60 MB, once its output says it has touched them all."""
    out = isolated / "eater.out"
    with out.open("w") as f:
        proc = subprocess.Popen(fixture("eat_memory.py", 60, 10000, 60), stdout=f)
    try:
        wait_until(
            lambda: out.read_text().split()[-1:] and int(out.read_text().split()[-1]) >= 60,
            what="60 MB",
        )
        yield proc.pid
    finally:
        reap(proc)


class Watched:
    def __init__(self, limit_mb: int = 0, max_procs: int = 0) -> None:
        self.notes: list[str] = []
        self.procs: list[list[tuple[int, int]]] = []
        self.levels: list[tuple[int, Sample]] = []
        self.watch = TreeWatch(
            "tok-treewatch",
            True,
            memory_limit_mb=limit_mb,
            max_procs=max_procs,
            check_interval=0.25,
            note=self.notes.append,
            on_procs=self.procs.append,
            on_memory=lambda level, s: self.levels.append((level, s)),
        )


def test_a_sample_counts_the_tree_and_records_new_processes(eater: int) -> None:
    w = Watched()
    assert w.watch.sample(time.monotonic()) is None
    start = proctree.info(eater)
    assert start is not None
    assert w.procs == [[(eater, start.start)]]
    assert w.watch.peak_total >= 60 << 20
    assert [p.pid for p in w.watch.peaks_sorted()] == [eater]
    assert "eat_memory.py" in w.watch.peaks_sorted()[0].command
    w.watch.sample(time.monotonic())
    assert len(w.procs) == 1  # nothing new: no second call


def test_memory_levels_are_noted_once_each_and_measured_as_pss(eater: int) -> None:
    w = Watched(limit_mb=90)  # 60 MB held: past 50% (45 MB), not 75% (67.5 MB) of the limit
    assert w.watch.sample(time.monotonic()) is None
    assert [lv for lv, _ in w.levels] == [50]
    assert w.levels[0][1].measure == "PSS"
    assert "passed 50% of its limit" in w.notes[0] and "PSS" in w.notes[0]
    now = time.monotonic()
    w.watch.sample(now)
    assert len(w.levels) == 1
    # 30 MB of room at 2 GB/s: sooner than check_interval
    assert MIN_SAMPLE <= w.watch.next_sample - now < 0.05


def test_memory_limit_verdict(eater: int) -> None:
    w = Watched(limit_mb=40)
    verdict = w.watch.sample(time.monotonic())
    assert verdict is not None and verdict.why == "memory"
    assert "memory limit 40 MB exceeded" in verdict.text
    assert [lv for lv, _ in w.levels] == [50, 75]


def test_process_limit_verdict_and_sooner_samples_near_it(isolated: Path) -> None:
    procs = [subprocess.Popen(["sleep", "30"]) for _ in range(3)]
    try:
        w = Watched(max_procs=2)
        verdict = w.watch.sample(time.monotonic())
        assert verdict is not None and verdict.why == "procs"
        assert "process limit 2 exceeded (3 processes)" in verdict.text
        roomy = Watched(max_procs=1000)
        assert roomy.watch.sample(time.monotonic()) is None
        near = Watched(max_procs=4)
        now = time.monotonic()
        near.watch.sample(now)
        # one process of room: look again soon
        assert near.watch.next_sample - now == pytest.approx(MIN_SAMPLE)
        assert roomy.watch.next_sample - now > 0.1
    finally:
        for p in procs:
            reap(p)


def test_signal_reaches_the_tree(isolated: Path) -> None:
    proc = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30; wait"], start_new_session=True)
    try:
        wait_until(lambda: len(proctree.descendants(proc.pid)) == 2, what="two sleeps")
        sleeps = proctree.descendants(proc.pid)
        w = Watched()
        # the count is taken after the group's SIGKILL (to find what escaped the group): how many of
        # the three are still there to be counted is a race; what must hold is that the signal
        # reached all of them
        assert w.watch.signal(proc.pid, 9) >= 0
        assert proc.wait(10) == -9
        wait_until(
            lambda: not any(proctree.alive(p) for p in sleeps),
            timeout=10,
            what="both sleeps to end",
        )
    finally:
        reap(proc)


def test_memory_levels_reach_the_log_of_a_real_run(isolated: Path) -> None:
    import json

    from testing.util import run, seq_hooks

    p = run(
        seq_hooks(
            "run", "--json", "--memory-limit", "100", "--", *fixture("eat_memory.py", 60, 1000, 0.5)
        )
    )
    assert p.returncode == 0
    notes = [line for line in Path(json.loads(p.stdout)["log"]).read_text().splitlines()
             if line.startswith("# seq-hooks at ") and "memory: the tree passed" in line]
    assert [n.split("passed ", 1)[1].split("%")[0] for n in notes] == ["50"]


def test_the_log_says_how_memory_was_measured(eater: int) -> None:
    assert Watched().watch.summary() is None  # no limit: nothing to say
    low = Watched(limit_mb=1000)
    low.watch.sample(time.monotonic())
    assert "RSS: resident pages of each process, summed" in (low.watch.summary() or "")
    near = Watched(limit_mb=90)
    near.watch.sample(time.monotonic())
    assert "PSS: /proc/PID/smaps_rollup" in (near.watch.summary() or "")


def test_a_process_seen_before_its_exec_is_asked_again_whether_it_is_a_daemon(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Between its fork and its exec a daemon still shows its parent's environment: a no is not kept
    for good (a hook chain's runner once waited minutes for a daemon it had taken for its command's
    child)."""
    from seq_hooks.process import proctree, treewatch

    answers = iter([False, True])
    monkeypatch.setattr(proctree, "is_daemon", lambda _pid: next(answers))
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    w = Watched().watch
    assert w.daemon(4242) is False
    assert w.daemon(4242) is False  # asked again only after DAEMON_RECHECK
    clock[0] += treewatch.DAEMON_RECHECK
    assert w.daemon(4242) is True
    assert w.daemon(4242) is True  # a yes is kept
