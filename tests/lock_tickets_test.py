from __future__ import annotations

import json
import os
import time
from pathlib import Path

from seq_hooks.lock import tickets
from testing.queue import plant_ticket


def _qdir(repo: Path, name: str = "default") -> str:
    q = repo / ".git" / "seq-hooks" / "locks" / name
    q.mkdir(parents=True, mode=0o700)
    return str(q)


def test_a_made_ticket_reads_back_alive_while_its_maker_holds_it(isolated: Path) -> None:
    qdir = _qdir(isolated)
    number, fd, since = tickets.make(qdir, "tok1", ["echo", "hi"], "/somewhere", ["outer"])
    try:
        assert number == 1 and os.path.basename(tickets.path(qdir, 1)) == "000000000001.ticket"
        t = tickets.read(tickets.path(qdir, 1))
        assert t is not None and t.readable and t.alive
        assert (t.pid, t.token, t.argv, t.cwd, t.holds) == (
            os.getpid(),
            "tok1",
            ["echo", "hi"],
            "/somewhere",
            ["outer"],
        )
        assert t.since == since and t.granted is None
        tickets.mark_granted(fd)
        granted = tickets.read(tickets.path(qdir, 1))
        assert granted is not None and granted.granted is not None and granted.granted >= since
        assert tickets.half_made(qdir) == []  # made under a temporary name and renamed
    finally:
        os.close(fd)
    # its owner let go without removing it: the file is dead
    assert tickets.is_free(tickets.path(qdir, 1))


def test_numbers_follow_the_counter_and_never_reuse_a_listed_number(isolated: Path) -> None:
    qdir = _qdir(isolated)
    plant_ticket(Path(qdir), 7, ["old"], "dead", granted=False)
    number, fd, _since = tickets.make(qdir, "t", ["x"], "/", [])
    os.close(fd)
    assert number == 8
    assert (Path(qdir) / ".seq").read_text() == "8\n"
    assert [n for n, _p in tickets.listing(qdir)] == [7, 8]


def test_any_digits_ticket_is_listed_and_an_unparsable_one_still_has_its_place(
    isolated: Path,
) -> None:
    qdir = Path(_qdir(isolated))
    (qdir / "1.ticket").write_text("garbage")
    (qdir / "000000000002.ticket").write_bytes(b'{"pid": 1, "tok')  # torn
    (qdir / "x.ticket").write_text("{}")  # not a number: not a ticket
    (qdir / ".new-1-abc").write_text("")
    listed = tickets.listing(str(qdir))
    assert [(n, os.path.basename(p)) for n, p in listed] == [
        (1, "1.ticket"),
        (2, "000000000002.ticket"),
    ]
    queue = tickets.read_queue(str(qdir))
    assert [(t.number, t.readable, t.alive) for t in queue] == [
        (1, False, False),
        (2, False, False),
    ]
    assert tickets.half_made(str(qdir)) == [str(qdir / ".new-1-abc")]


def test_a_huge_command_line_is_capped_and_the_ticket_stays_readable(isolated: Path) -> None:
    qdir = _qdir(isolated)
    # ~240 K characters, far more as JSON
    argv = ["tool", *(f"文件{i:05d}.py" for i in range(20_000))]
    _n, fd, _since = tickets.make(qdir, "big", argv, "/", [])
    try:
        path = tickets.path(qdir, 1)
        assert os.path.getsize(path) < tickets.MAX_READ
        t = tickets.read(path)
        assert t is not None and t.readable and t.token == "big" and t.alive
        assert (
            t.argv[:2] == argv[:2]
            and t.argv[-1].startswith("... (")
            and "more characters" in t.argv[-1]
        )
        head = json.loads(Path(path).read_text().splitlines()[0])
        assert sum(len(a) for a in head["argv"]) == tickets.ARGV_CAP
        assert head["argv_cut"] == sum(map(len, argv)) - tickets.ARGV_CAP
    finally:
        os.close(fd)


def test_a_ticket_bigger_than_the_reader_reads_is_unreadable_not_gone(isolated: Path) -> None:
    qdir = Path(_qdir(isolated))
    head = {
        "pid": 1,
        "token": "t",
        "argv": ["x" * (tickets.MAX_READ + 10)],
        "cwd": "/",
        "since": 1.0,
        "holds": [],
    }
    (qdir / "000000000001.ticket").write_text(json.dumps(head) + "\n")
    t = tickets.read(str(qdir / "000000000001.ticket"))
    assert t is not None and not t.readable and t.number == 1


def test_cap_keeps_short_command_lines_whole() -> None:
    assert tickets.cap_argv(["a", "bc"]) == (["a", "bc"], 0)
    kept, cut = tickets.cap_argv(["a" * tickets.ARGV_CAP, "b"])
    assert kept == ["a" * tickets.ARGV_CAP, ""] and cut == 1


def test_all_queues_and_live_tokens_include_nested_queues(isolated: Path) -> None:
    state = str(isolated / ".git" / "seq-hooks")
    top = _qdir(isolated)
    nested = tickets.nested_dir(top, "outer")
    os.makedirs(nested, mode=0o700)
    _n, fd1, _s = tickets.make(top, "outer", ["a"], "/", [])
    _n, fd2, _s = tickets.make(nested, "inner", ["b"], "/", ["outer"])
    try:
        assert tickets.all_queues(state) == [("default", top), ("default/nested/outer", nested)]
        assert tickets.live_tokens(state) == {"outer", "inner"}
    finally:
        os.close(fd1)
        os.close(fd2)
    assert tickets.live_tokens(state) == set()


def test_take_within_gives_up_in_time_and_takes_a_free_lock(isolated: Path) -> None:
    qdir = _qdir(isolated)
    _n, held, _s = tickets.make(qdir, "t", ["x"], "/", [])
    other = os.open(tickets.path(qdir, 1), os.O_RDONLY)
    try:
        t = time.monotonic()
        assert not tickets.take_within(other, 0.1)
        assert 0.09 < time.monotonic() - t < 2
        os.close(held)
        assert tickets.take_within(other, 0.1)
    finally:
        os.close(other)


def test_a_holder_notes_the_memory_levels_its_tree_passed(isolated: Path) -> None:
    """Held.note_memory appends a line after `granted`; the reader keeps the highest level (status
    shows it)."""
    from seq_hooks.lock import queue

    state = isolated / ".git" / "seq-hooks"
    state.mkdir(mode=0o700)
    held = queue.acquire(str(state), "default", token="tok2", argv=["make"], cwd="/", holds=[])
    try:
        path = tickets.path(held.qdir, held.number)
        t = tickets.read(path)
        assert t is not None and (t.memory_level, t.limit_mb) == (0, 0)
        held.note_memory(50, 2048)
        held.note_memory(75, 2048)
        t = tickets.read(path)
        assert t is not None and t.readable and t.granted is not None
        assert (t.memory_level, t.limit_mb) == (75, 2048)
    finally:
        held.release()
    held.note_memory(50, 2048)  # after release: nothing to write to, and no error


def test_a_revised_expected_peak_rewrites_the_ticket_by_rename_and_it_stays_flocked(
    isolated: Path,
) -> None:
    from seq_hooks.lock.capacity import Estimate

    qdir = _qdir(isolated)
    _n, fd, since = tickets.make(qdir, "tok", ["mypy", "a.py"], "/", [], Estimate(8000, "budget"))
    path = tickets.path(qdir, 1)
    old = os.open(path, tickets.OPEN_FLAGS)  # a waiter behind us that opened the old file
    try:
        t = tickets.read(path)
        assert t is not None and (
            t.expected_mb,
            t.expected_from,
            t.expected_runs,
            t.expected_revised,
        ) == (8000, "budget", 0, 0.0)
        fd = tickets.rewrite(
            path, fd, tickets.expected_fields(Estimate(150, "history", 2, since + 1))
        )
        t = tickets.read(path)
        assert t is not None and t.alive and t.since == since and t.granted is None
        assert (t.expected_mb, t.expected_from, t.expected_runs, t.expected_revised) == (
            150,
            "history",
            2,
            since + 1,
        )
        assert tickets.half_made(qdir) == [] and not tickets.is_free(path)
        # the old file's flock is free now: its owner lives on in the new one
        assert os.fstat(old).st_nlink == 0
        tickets.mark_granted(fd)
        granted = tickets.read(path)
        assert granted is not None and granted.granted is not None and granted.expected_mb == 150
    finally:
        os.close(old)
        os.close(fd)
