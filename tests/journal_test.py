"""The journal: appends under flock, bounded by trimming, readers that skip (and count) what they
cannot use."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from seq_hooks import journal
from testing.util import run, seq_hooks

STATE = Path(".git") / "seq-hooks"


@pytest.fixture
def state(isolated: Path) -> str:
    (isolated / STATE).mkdir(mode=0o700)
    return str(isolated / STATE)


def _raw(state: str, data: bytes) -> None:
    with open(os.path.join(state, journal.NAME), "ab") as f:
        f.write(data)


def _unit(n: object, **fields: Any) -> journal.Record:
    return journal.Record(argv=[str(n)], **fields)


def test_a_torn_last_line_costs_only_itself(state: str) -> None:
    journal.append(state, _unit(1))
    _raw(state, b'{"argv": ["tor')  # a writer killed mid-write
    journal.append(state, _unit(3))
    read = journal.read_all(state)
    assert [r.argv for r in read.records] == [["1"], ["3"]]
    assert read.skipped == 1


def test_trim_keeps_the_newest_record_when_the_second_half_is_one_unterminated_line(
        state: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "MAX_BYTES", 20_000)
    for i in range(10):
        journal.append(state, _unit(i))
    # garbage without a line end: the second half is one unterminated line
    _raw(state, b"x" * 25_000)
    journal.append(state, _unit("last"))
    assert [r.argv for r in journal.read(state)] == [["last"]]
    assert os.path.getsize(os.path.join(state, journal.NAME)) < 20_000


@pytest.mark.parametrize(("data", "kept"), [
    (b"a\nb\nc\nd\n", b"d\n"),  # from the first line end in the second half
    # one record bigger than half: it alone stays
    (b"a\n" + b"B" * 100 + b"\n", b"B" * 100 + b"\n"),
    (b"C" * 100 + b"\n", b"C" * 100 + b"\n"),
])
def test_keep_from_cuts_at_whole_lines(data: bytes, kept: bytes) -> None:
    assert data[journal.keep_from(data) :] == kept


def test_the_journal_stays_bounded_without_losing_appends(
    state: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "MAX_BYTES", 60_000)
    for i in range(400):
        journal.append(state, _unit(i, message="x" * 40))
    numbers = [int(r.argv[0]) for r in journal.read(state)]
    assert os.path.getsize(os.path.join(state, journal.NAME)) <= 60_000 + 400
    assert numbers == list(range(numbers[0], 400))  # the newest, contiguous, none lost or torn
    assert 100 < len(numbers) < 400
    assert not list(Path(state).glob("*.tmp"))


def test_concurrent_writers_lose_nothing(state: str) -> None:
    code = (
        "import sys; from seq_hooks import journal\n"
        "for i in range(150): journal.append(sys.argv[1], journal.Record(argv=[sys.argv[2], "
        "str(i)], "
        "message='y' * 200))"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, state, str(w)]) for w in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    records = journal.read(state)
    assert sorted((r.argv[0], int(r.argv[1])) for r in records) == [
        (str(w), i) for w in range(4) for i in range(150)
    ]


DEEP = b'{"argv": ["x"], "key": "k", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    "line",
    [
        b'{"argv": [], "started": NaN}',
        b'{"argv": [], "ended": 1e300}',
        b'{"argv": [], "duration_s": 1e400}',
        b'{"argv": [], "enqueued": -5}',
        b'{"argv": [], "started": "yesterday"}',
        b"[1, 2]",
        b"\xff\xfe",
        b"[" * 100000,
        DEEP,
        b'{"argv": [], "peak_rss_mb": -1}',
        b'{"argv": [], "peak_rss_mb": Infinity}',
        b'{"argv": [], "exit": "0"}',
        b'{"argv": [], "exit": true}',
        b'{"argv": [1]}',
        b'{"argv": "x"}',
        b'{"lock": "default"}',
        b"{}",
        b'"argv"',
        b'{"argv": [], "attempts": "\\u001b[2J"}',
        b'{"argv": [], "expected_mb": -3}',
    ],
)
def test_readers_skip_what_they_cannot_use_and_count_it(state: str, line: bytes) -> None:
    journal.append(state, _unit(1))
    _raw(state, line + b"\n")
    journal.append(state, _unit(2))
    assert journal.read_all(state) == journal.Read([_unit(1), _unit(2)], 1)


def test_a_line_from_another_version_reads_with_defaults_and_its_unknown_keys_ignored() -> None:
    line = b'{"argv": ["a"], "exit": 0, "expected_mb": null, "future": {"x": 1}}'
    assert journal.decode(line) == journal.Record(argv=["a"], exit=0)


def test_encode_and_decode_are_inverse() -> None:
    record = journal.Record(
        lock="default",
        pid=7,
        token="t" * 32,
        argv=["mypy", os.fsdecode(b"\xff")],
        cwd="/w",
        enqueued=1.5,
        started=2.0,
        ended=3.25,
        waited_s=0.5,
        duration_s=1.25,
        exit=1,
        reason="exit",
        message="",
        peak_rss_mb=12.5,
        attempts=2,
        log=None,
        key="k" * 16,
        expected_mb=300,
        daemon="mypy",
    )
    assert journal.decode(journal.encode(record)) == record
    assert journal.key_needle("k" * 16) in journal.encode(record)


def test_names_that_are_not_utf8_are_kept_recoverably(state: str) -> None:
    journal.append(state, journal.Record(argv=["cat", os.fsdecode(b"caf\xe9.txt")], cwd="/tmp/ok"))
    journal.append(state, journal.Record(argv=["café"]))
    raw = Path(state, journal.NAME).read_bytes()
    raw.decode()  # the file stays UTF-8 (the odd byte as a JSON \u escape)
    first, second = journal.read(state)
    assert os.fsencode(first.argv[1]) == b"caf\xe9.txt"
    assert second.argv == ["café"] and "café".encode() in raw  # plain UTF-8 stays as it is


def test_a_run_with_non_utf8_names_in_argv_and_cwd(isolated: Path) -> None:
    odd = isolated / os.fsdecode(b"d\xe9")
    odd.mkdir()
    p = subprocess.run(
        [*seq_hooks("run", "--"), "echo", b"caf\xe9.txt"],
        cwd=odd,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"caf\xe9.txt\n"
    (record,) = journal.read(str(isolated / STATE))
    assert os.fsencode(record.argv[1]) == b"caf\xe9.txt"
    assert os.fsencode(record.cwd).endswith(b"/d\xe9")
    log = Path(str(record.log)).read_bytes()
    assert b"# command: echo 'caf\xe9.txt'" in log and b"/d\xe9\n" in log  # the bytes as they were
    shown = run(seq_hooks("history"))
    assert shown.returncode == 0 and "echo 'caf\\xe9.txt'" in shown.stdout


def test_encode_is_one_line_of_json() -> None:
    line = journal.encode(journal.Record(argv=["a\nb", os.fsdecode(b"\xff")]))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["argv"][0] == "a\nb"


def test_the_key_ignores_where_the_tool_lives_but_not_its_files() -> None:
    a = journal.unit_key(["/w/one/.venv/bin/mypy", "--", "a.py"])
    assert a == journal.unit_key(["/w/two/.venv/bin/mypy", "--", "a.py"])
    assert a != journal.unit_key(["/w/one/.venv/bin/mypy", "--", "b.py"])
    assert a != journal.unit_key(["/w/one/.venv/bin/ruff", "--", "a.py"])
    assert len(a) == 16
    assert journal.unit_key(["caf\udce9"])  # a name that is not UTF-8 has a key too
