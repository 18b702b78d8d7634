"""pump: bounded buffers, a log with head and tail, and echoing that never blocks the supervisor."""
from __future__ import annotations

import os
import select
from pathlib import Path

import pytest

from seq_hooks.process import pump
from seq_hooks.process.pump import Echo, HeadTail, Log, Pump


def test_head_tail_keeps_both_ends_and_counts_the_cut() -> None:
    kept = HeadTail(4, 3)
    for part in (b"abcdef", b"ghij", b"klmnopqrstuvwxyz"):
        kept.add(part)
    data, cut = kept.result()
    assert data == b"abcd\n[seq-hooks: 19 bytes cut here]\nxyz"
    assert cut == 19
    small = HeadTail(4, 3)
    small.add(b"abcdefg")
    assert small.result() == (b"abcdefg", 0)


def test_head_tail_memory_is_bounded() -> None:
    kept = HeadTail(10, 100)
    for _ in range(1000):
        kept.add(b"x" * 77)
        assert len(kept.head) + len(kept.tail) <= 10 + 2 * 100


def test_log_keeps_head_and_tail_and_says_what_was_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pump, "LOG_HEAD", 1000)
    monkeypatch.setattr(pump, "LOG_TAIL", 100)
    path = tmp_path / "run.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    log = Log(fd, 0.0)
    for i in range(100):
        log.output(f"{i:09d}\n".encode())  # 10 bytes a line: 1000 in all
    log.note("a step")
    for i in range(100, 1000):
        log.output(f"{i:09d}\n".encode())
    log.finish()
    os.close(fd)
    text = path.read_text()
    assert text.startswith("000000000\n") and text.endswith("000000999\n")
    assert "# seq-hooks at" in text and "a step" in text
    assert "8900 bytes of output cut here" in text
    assert "000000500" not in text
    assert len(text) < 1000 + 100 + 300


def test_log_survives_a_write_error() -> None:
    r, w = os.pipe()
    os.close(r)
    log = Log(w, 0.0)
    log.output(b"x")  # EPIPE: the log is given up, the run goes on
    log.note("still fine")
    log.finish()
    os.close(w)


def test_echo_to_a_pipe_nobody_reads_never_blocks() -> None:
    r, w = os.pipe()
    try:
        echo = Echo(w)
        assert echo.owned
        chunk = b"y" * 65536
        while not echo.full:
            echo.add(chunk)  # would block forever in a plain write once the pipe is full
        assert len(echo.pending) >= pump.PENDING
        assert echo.watch() == select.POLLOUT
        os.read(r, 65536)
        echo.flush()
        assert len(echo.pending) < pump.PENDING
    finally:
        os.close(r)
        echo.flush()
        assert echo.broken and echo.hung_up and not echo.pending
        echo.close()
        os.close(w)


def test_pump_closes_the_commands_pipe_when_our_reader_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src_r, src_w = os.pipe()  # the command's stdout
    out_r, out_w = os.pipe()  # our stdout
    saved = os.dup(1)
    os.dup2(out_w, 1)
    try:
        p = Pump({src_r: 1}, Log(None, 0.0), capture=False)
        os.write(src_w, b"hello\n")
        p.handle(src_r, select.POLLIN)
        assert os.read(out_r, 100) == b"hello\n"
        os.close(out_r)  # our reader goes away
        p.handle(p.echo[1].fd, select.POLLERR)
        assert src_r not in p.sources
        with pytest.raises(BrokenPipeError):
            os.write(src_w, b"more\n")  # the command now gets the broken pipe itself
        p.close()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(out_w)
        os.close(src_w)


def test_pump_captures_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pump, "CAPTURE_HEAD", 5)
    monkeypatch.setattr(pump, "CAPTURE_TAIL", 5)
    src_r, src_w = os.pipe()
    p = Pump({src_r: 2}, Log(None, 0.0), capture=True)
    os.write(src_w, b"0123456789abcdefghij")
    os.close(src_w)
    p.handle(src_r, select.POLLIN)
    p.handle(src_r, select.POLLIN)  # end of file: the pipe is closed
    assert not p.sources
    out, err = p.close()
    assert out == (b"", 0)
    assert err == (b"01234\n[seq-hooks: 10 bytes cut here]\nfghij", 10)


def test_a_log_several_runs_write_keeps_its_head_and_its_tail_as_a_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20 item 12: a hook run's units all write one log; the bound is the file's (the first
    runs' head, the last runs' tail), not each run's, and the one cut line counts every cut."""
    monkeypatch.setattr(pump, "LOG_HEAD", 1000)
    monkeypatch.setattr(pump, "LOG_TAIL", 300)
    monkeypatch.setattr(pump, "LOG_SLACK", 100)
    path = tmp_path / "hook.log"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    counts = []
    try:
        for run in range(5):
            os.write(fd, f"# unit {run}\n".encode())
            log = Log(fd, 0.0)
            for i in range(150):
                log.output(f"{run}:{i:07d}\n".encode())  # 10 bytes a line: 1500 a unit
            log.finish()
            assert path.stat().st_size < 1000 + 300 + 100 + 400  # after each unit
            text = path.read_text()
            cut = [line for line in text.splitlines() if "bytes of this log cut here" in line]
            assert len(cut) <= 1, cut  # one line, at the head's end, however many cuts
            counts += [int(cut[0].split()[2])] if cut else []
    finally:
        os.close(fd)
    text = path.read_text()
    assert text.startswith("# unit 0\n0:0000000\n") and text.endswith("4:0000149\n")
    assert text[1000:].startswith("\n# seq-hooks: ")  # the cut line, right after the head
    assert len(counts) >= 3 and counts == sorted(set(counts))  # each cut adds to the earlier ones
