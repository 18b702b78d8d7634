"""How units are run and reported: the pure parts (counts, names, reasons, dedupe) directly; running
them through the lock is in hooks_atomic_test.py."""
from __future__ import annotations

from seq_hooks.hooks import units
from seq_hooks.runner import Result


def result(code: int, reason: str = "exit", message: str = "") -> Result:
    return Result(["t"], code, reason, message, 0.1, 0.0, 10.0, "", "", None, "default", 1)


def done(state: str) -> units.Done:
    return units.Done("f.py", state, "", 0.0)


def test_counts_say_what_happened_and_what_did_not_run() -> None:
    assert units.counts([done("ok")], 1) == "1 passed"
    assert units.counts([done("MODIFIED")], 1) == "1 passed after modifying files"
    assert units.counts([done("ok"), done("MODIFIED"), done("FAIL"), done("skipped")], 6) == \
        "2 passed (1 after modifying files), 1 failed, 1 skipped, 2 not run"


def test_why_a_unit_failed() -> None:
    assert units.why(result(1)) == "exit 1"
    assert units.why(result(143, "signal")) == "killed by signal 15 (exit 143)"
    assert units.why(result(124, "timeout", "timed out after 2s")) == "timeout: timed out after 2s"
    assert units.why(result(137, "memory")) == "memory (exit 137)"


def test_unit_names_and_safe_file_names() -> None:
    assert units.unit_name(["a.py"]) == "a.py"
    assert units.unit_name(["a.py", "b.py", "c.py"]) == "a.py (+2 more)"
    assert units.safe_name("-x.py") == "./-x.py"
    assert units.safe_name("x.py") == "x.py"


def test_dedupe_leaves_out_diagnostics_an_earlier_unit_printed() -> None:
    shown: set[str] = set()
    first = "base.py:1: error: bad\na.py:3: error: worse\nFound 2 errors"
    assert units.dedupe(first, shown) == first
    second = units.dedupe("base.py:1: error: bad\nb.py:2: error: new\nFound 2 errors", shown)
    assert second == "b.py:2: error: new\nFound 2 errors\n(1 line shown above by an earlier unit)"
