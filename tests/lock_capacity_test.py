from __future__ import annotations

import sys
from pathlib import Path

import pytest

from seq_hooks import journal
from seq_hooks.config import LockSettings, Settings
from seq_hooks.lock import capacity
from seq_hooks.lock.capacity import Capacity, Verdict
from seq_hooks.process import machine
from testing.util import run, seq_hooks


def test_slots_one_is_the_plain_lock_whatever_the_budget() -> None:
    assert capacity.for_lock(Settings(slots=1, memory_budget_mb=0), "default") == Capacity(1, 0, 0)
    # the default budget: nothing to share
    assert capacity.for_lock(Settings(slots=1), "default").exclusive
    assert capacity.for_lock(Settings(slots=1, memory_budget_mb=4000), "default").exclusive


def test_by_default_a_lock_has_a_slot_per_cpu_and_half_the_memory_and_git_stays_exclusive() -> None:
    cap = capacity.for_lock(Settings(), "default")
    assert cap[:2] == (machine.usable_cpus(), machine.memory_total_mb() // 2)
    assert cap.exclusive == (machine.usable_cpus() == 1)
    assert capacity.for_lock(Settings(), "git").exclusive
    assert capacity.for_lock(Settings(), "default/nested/abc").exclusive


def test_auto_means_the_cpus_we_may_use_and_half_the_memory() -> None:
    cap = capacity.for_lock(Settings(slots="auto", memory_budget_mb="auto"), "default")
    assert cap.slots == machine.usable_cpus()
    assert cap.budget_mb == machine.memory_total_mb() // 2
    assert 256 <= cap.reserve_mb <= 2048
    assert capacity.reserve_mb(24000) == 2048
    assert capacity.reserve_mb(1000) == 256
    assert capacity.reserve_mb(8000) == 800


def test_a_named_lock_has_its_own_table_and_git_and_nested_queues_are_exclusive() -> None:
    s = Settings(
        slots=4,
        memory_budget_mb=8000,
        locks={"heavy": LockSettings(slots=1, memory_budget_mb=None)},
    )
    assert capacity.for_lock(s, "default")[:2] == (4, 8000)
    # one slot: the plain lock, the budget unused
    assert capacity.for_lock(s, "heavy") == Capacity(1, 0, 0)
    assert capacity.for_lock(s, "git") == Capacity(1, 0, 0)
    assert capacity.for_lock(s, "default/nested/abc") == Capacity(1, 0, 0)


def _record(state: Path, argv: list[str], peak: float, reason: str = "exit") -> None:
    journal.append(
        str(state),
        journal.Record(argv=argv, key=journal.unit_key(argv), reason=reason, peak_rss_mb=peak),
    )


def test_expected_peak_comes_from_recent_peaks_of_the_same_key_with_a_margin(
    tmp_path: Path,
) -> None:
    argv = ["mypy", "a.py"]
    key = journal.unit_key(argv)
    # no history: the limit
    assert capacity.expected_peak_mb(str(tmp_path), key, 2048, 8000) == 2048
    # no limit: the whole budget
    assert capacity.expected_peak_mb(str(tmp_path), key, 0, 8000) == 8000
    assert capacity.expected_peak_mb(str(tmp_path), key, 0, 0) == capacity.UNKNOWN_MB
    for peak in (900, 100, 200, 300, 400, 500):
        _record(tmp_path, argv, peak)
    _record(tmp_path, argv, 5000, reason="memory")  # killed at its limit: not what it needs
    _record(tmp_path, ["mypy", "b.py"], 7000)
    # 900 is older than 5 runs
    assert capacity.recent_peaks(str(tmp_path), key) == [500, 400, 300, 200, 100]
    assert capacity.expected_peak_mb(str(tmp_path), key, 2048, 8000) == int(500 * 1.05) + 16


def test_history_is_searched_in_the_journals_tail_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["pytest", "t.py"]
    _record(tmp_path, argv, 700)
    monkeypatch.setattr(capacity, "TAIL_BYTES", 4096)
    for n in range(60):
        _record(tmp_path, ["other", str(n)], 1)
    assert capacity.recent_peaks(str(tmp_path), journal.unit_key(argv)) == []
    _record(tmp_path, argv, 600)
    assert capacity.recent_peaks(str(tmp_path), journal.unit_key(argv)) == [600]


@pytest.mark.parametrize(
    ("cap", "mine", "holders", "available", "running", "verdict"),
    [
        (Capacity(2, 0, 0), 100, [], None, None, Verdict(True, "")),
        (Capacity(2, 0, 0), 100, [(100, 50), (100, 50)], None, None, Verdict(False, "slots full")),
        (
            Capacity(4, 8000, 500),
            3000,
            [(3000, 2900), (2500, 2000)],
            20000,
            None,
            Verdict(False, "budget"),
        ),
        (
            Capacity(4, 8000, 500),
            2500,
            [(3000, 2900), (2500, 2000)],
            20000,
            None,
            Verdict(True, ""),
        ),
        # alone it runs whatever its size: nothing else holds the lock
        (Capacity(4, 8000, 500), 30000, [], 1000, None, Verdict(True, "")),
        # the holders will still take 100 + 500 MB of the 2000 available: 1000 more leaves 400 < 500
        (
            Capacity(4, 8000, 500),
            1000,
            [(3000, 2900), (2500, 2000)],
            2000,
            None,
            Verdict(False, "machine memory"),
        ),
        (Capacity(4, 8000, 500), 800, [(3000, 2900), (2500, 2000)], 2000, None, Verdict(True, "")),
        (Capacity(4, 0, 500), 100000, [(1, 1)], None, None, Verdict(True, "")),
        # more slots than CPUs: a unit is admitted while the holders' running processes leave a CPU
        # free
        (Capacity(4, 0, 500, cpus=2), 100, [(1, 1), (1, 1)], 20000, 2, Verdict(False, "CPUs busy")),
        (Capacity(4, 0, 500, cpus=2), 100, [(1, 1), (1, 1)], 20000, 1, Verdict(True, "")),
        # the first always runs
        (Capacity(4, 0, 500, cpus=2), 100, [], None, None, Verdict(True, "")),
        # no more slots than CPUs
        (Capacity(4, 0, 500), 100, [(1, 1), (1, 1)], 20000, 9, Verdict(True, "")),
    ],
)
def test_admission(
    cap: Capacity,
    mine: int,
    holders: list[tuple[int, float]],
    available: int | None,
    running: int | None,
    verdict: Verdict,
) -> None:
    assert capacity.admit(cap, mine, holders, available, running) == verdict


@pytest.mark.parametrize(("terms", "slots", "budget"), [
    ([], 3, 4000),  # nobody holds: our own terms
    ([(1, 0)], 1, 4000),  # a plain lock's holder runs alone
    ([(2, 0), (3, 8000)], 2, 4000),  # the fewest slots, the smallest budget
    ([(3, 1000)], 3, 1000),  # a holder admitted under a smaller budget
])
def test_admission_honours_the_strictest_terms_any_holder_was_admitted_under(
    terms: list[tuple[int, int]], slots: int, budget: int
) -> None:
    narrowed = capacity.strictest(Capacity(3, 4000, 256), terms)
    assert (narrowed.slots, narrowed.budget_mb, narrowed.reserve_mb) == (slots, budget, 256)
    # no budget of ours: theirs holds
    assert capacity.strictest(Capacity(3, 0, 0), [(3, 500)]).budget_mb == 500


def test_the_cpu_rule_applies_only_with_more_slots_than_cpus() -> None:
    cpus = machine.usable_cpus()
    assert capacity.for_lock(Settings(slots=cpus + 1), "default").cpus == cpus
    assert capacity.for_lock(Settings(slots=cpus), "default").cpus == 0
    assert capacity.for_lock(Settings(slots=1, memory_budget_mb=8000), "default").cpus == 0


def test_a_run_leaves_its_peak_under_its_key_in_the_journal(isolated: Path) -> None:
    hold = (
        "import time; b = bytearray(80 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5)"
    )
    argv = [sys.executable, "-c", hold]
    done = run(seq_hooks("run", "--", *argv), cwd=isolated)
    assert done.returncode == 0, done.stderr
    peaks = capacity.recent_peaks(str(isolated / ".git" / "seq-hooks"), journal.unit_key(argv))
    assert len(peaks) == 1
    assert peaks[0] >= 80


def test_an_estimate_says_what_it_comes_from() -> None:
    assert capacity.said("history", 3) == "history of 3 runs"
    assert capacity.said("history", 1) == "history of 1 run"
    assert capacity.said("budget", 0) == "no history: the whole budget"
    assert capacity.said("memory limit", 0) == "no history: its memory limit"


def test_a_guess_is_read_again_only_when_the_journal_has_grown(tmp_path: Path) -> None:
    argv = ["pytest", "t.py"]
    guess = capacity.Guess(str(tmp_path), journal.unit_key(argv), 0, 8000)
    assert guess.now == capacity.Estimate(8000, "budget")
    assert not guess.revise()  # no journal yet, none now
    _record(tmp_path, ["other"], 50)
    assert not guess.revise()  # it grew, but not with our key: the same guess, not marked revised
    assert guess.now.revised == 0.0
    _record(tmp_path, argv, 120)
    assert guess.revise()
    assert guess.now[:3] == (int(120 * 1.05) + 16, "history", 1) and guess.now.revised > 0
    assert not guess.revise()  # nothing new
    # a smaller peak: the largest recent one still counts, from 2 runs now
    _record(tmp_path, argv, 100)
    assert guess.revise() and guess.now[:3] == (int(120 * 1.05) + 16, "history", 2)
