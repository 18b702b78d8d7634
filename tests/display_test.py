"""Text for terminals: durations, sizes, command lines made safe, cutting to a width, colour."""
from __future__ import annotations

import io
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks import display, journal
from testing.queue import STATE, plant_ticket, queue, start_with_token
from testing.util import reap, run, seq_hooks, wait_until


@pytest.mark.parametrize(
    ("s", "text"),
    [
        (None, "-"),
        (0.123, "0.12s"),
        (9.999, "10.00s"),
        (12.34, "12.3s"),
        (61, "1m01s"),
        (3725, "1h02m"),
    ],
)
def test_seconds(s: float | None, text: str) -> None:
    assert display.seconds(s) == text




@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text", "plain text"),
    ("\x1b]0;title\x07\x1b[2J", "?]0;title??[2J"),  # escape sequences cannot drive the terminal
    ("a\u009bb\x7f", "a?b?"),  # C1 CSI and DEL
    (os.fsdecode(b"caf\xe9"), "caf\\xe9"),  # a byte that was not UTF-8, named
    (os.fsdecode(b"\x9b2J"), "\\x9b2J"),  # never sent as the raw C1 byte
    ("\ud800", "?"),  # a lone surrogate that is no byte escape
])
def test_clean(raw: str, shown: str) -> None:
    assert display.clean(raw) == shown
    display.clean(raw).encode()  # whatever came in, it can be written to a UTF-8 terminal


def test_command() -> None:
    assert display.command(["echo", "a b", "\x1b[31m"]) == "echo 'a b' '?[31m'"
    assert display.command("not a list") == "not a list"
    assert display.command(["ok", 3]) == "['ok', 3]"


@pytest.mark.parametrize(("text", "width", "out"), [
    ("abcdef", 10, "abcdef"), ("abcdef", 4, "abc…"), ("abcdef", 1, "a"), ("abcdef", 0, ""),
])
def test_fit(text: str, width: int, out: str) -> None:
    assert display.fit(text, width) == out


def test_fit_parts_cuts_before_painting() -> None:
    parts = [("holding ", "32"), ("pid 42 ", ""), ("a long command line", "")]
    assert display.fit_parts(parts, 100, False) == "holding pid 42 a long command line"
    assert display.fit_parts(parts, 20, False) == "holding pid 42 a lo…"
    coloured = display.fit_parts(parts, 5, True)
    assert coloured == "\x1b[32mhold…\x1b[0m"


def test_clock() -> None:
    assert display.clock(None) == "-"
    assert len(display.clock(1700000000)) == 19


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "tty", "colour"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": ""}, True, True),
        ({"TERM": "dumb"}, True, False),
    ],
)
def test_use_colour(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], tty: bool, colour: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert display.use_colour(_Tty() if tty else io.StringIO()) is colour
    assert display.paint("x", "1", colour) == ("\x1b[1mx\x1b[0m" if colour else "x")


# SGR, an OSC that retitles the terminal, the C1 CSI
HOSTILE = "evil\x1b[31mRED\x1b]0;title\x07\x9b2J"


@pytest.fixture
def hostile_state(isolated: Path) -> Iterator[str]:
    """A queue directory named with escape sequences holding a dead run's ticket, a process of that
    run still going, and a journal record whose reason is escape sequences (issue 20, item 13)."""
    token = os.urandom(8).hex()
    plant_ticket(queue(isolated, HOSTILE), 1, ["sleep", "30"], token, granted=True)
    left = start_with_token(isolated, "left", token)
    state = str(isolated / STATE)
    journal.append(
        state,
        journal.Record(
            lock="default",
            pid=1,
            token="t",
            argv=["x"],
            enqueued=1.0,
            started=2.0,
            ended=3.0,
            exit=1,
            reason=HOSTILE,
            peak_rss_mb=1,
            attempts=2,
        ),
    )
    try:
        yield state
    finally:
        reap(left)


def _watched(isolated: Path) -> str:
    """One frame of `status --watch` (not a terminal: frames are printed one after another), then
    Ctrl-C."""
    out = isolated / "watch.out"
    with out.open("w") as f:
        proc = subprocess.Popen(seq_hooks("status", "--watch"), stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_until(
            lambda: "machine:" in out.read_text(errors="replace"), what="a frame of status --watch"
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        reap(proc)
    return out.read_text(errors="replace")


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["status"], "lock evil?[31mRED?]0;title??2J"),
        (["status", "--watch"], "lock evil?[31mRED?]0;title??2J"),
        (["doctor"], "lock evil?[31mRED?]0;title??2J: 000000000001.ticket"),
        (
            ["clean", "--dry-run"],
            "would remove stale ticket evil?[31mRED?]0;title??2J/000000000001.ticket",
        ),
        # exit and attempts are numbers (journal.decode)
        (["history"], "1  evil?[31mRED?]0;title??2J (attempt 2)"),
    ],
)
def test_what_comes_from_the_state_dir_never_drives_the_terminal(
    isolated: Path, hostile_state: str, args: list[str], shown: str
) -> None:
    text = _watched(isolated) if args == ["status", "--watch"] else run(seq_hooks(*args)).stdout
    assert shown in text
    assert not set(text) & {"\x1b", "\x07", "\x9b"}
