from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seq_hooks import entry, errors
from seq_hooks.errors import FatalError, UsageError
from seq_hooks.options import HelpRequested


def raising(error: BaseException):
    def go(argv: list[str]) -> int:
        raise error

    return go


@pytest.mark.parametrize(("error", "code", "err"), [
    (UsageError("--x takes a number"), 2, "prog: --x takes a number\n"),
    (FatalError("the lock is gone", 75), 75, "prog: the lock is gone\n"),
    (KeyboardInterrupt(), 130, "prog: interrupted\n"),
    (BrokenPipeError(), 141, ""),
    (RuntimeError("boom"), 125, "prog: internal error: RuntimeError: boom (SEQ_HOOKS_DEBUG=1 shows more)\n"),
])
def test_errors_become_one_line_and_an_exit_code(error: BaseException, code: int, err: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.guard("prog", raising(error), []) == code
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", err)


def test_help_goes_to_stdout_with_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.guard("prog", raising(HelpRequested("usage: prog\n")), []) == 0
    assert capsys.readouterr().out == "usage: prog\n"


def test_the_entry_gets_the_arguments_and_its_code_is_returned() -> None:
    assert entry.guard("prog", len, ("a", "b")) == 2


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQ_HOOKS_DEBUG", "1")
    with pytest.raises(RuntimeError):
        entry.guard("prog", raising(RuntimeError("boom")), [])


def test_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    assert entry.unsupported_platform() is None
    monkeypatch.setattr("sys.platform", "win32")
    assert "Windows is not supported" in str(entry.unsupported_platform())



def _program(go: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    """A fresh interpreter whose entry `go` runs through guard as a console script's does."""
    code = ("import atexit, gc, sys\nfrom seq_hooks import entry\n"
            "atexit.register(lambda: sys.stderr.write('teardown ran'))\n" + go +
            "\nentry.guard('prog', go, ['a'], program=True)\nsys.stderr.write('guard returned')\n")
    return subprocess.run([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE, timeout=60,
                          check=False)


def test_as_a_program_guard_flushes_and_ends_the_process_with_the_code() -> None:
    # output without a newline to a pipe sits in the buffer until the flush; the imports' objects are frozen
    # before the entry runs; the interpreter's teardown (atexit, module clearing) is skipped
    p = _program("def go(argv):\n    sys.stdout.write(f'frozen={gc.get_freeze_count() > 0} {argv}')\n    return 3")
    assert (p.returncode, p.stdout, p.stderr) == (3, b"frozen=True ['a']", b"")


def test_as_a_program_errors_still_become_their_codes() -> None:
    p = _program("from seq_hooks.errors import FatalError\n"
                 "def go(argv):\n    raise FatalError('the lock is gone', 75)")
    assert (p.returncode, p.stdout, p.stderr) == (75, b"", b"prog: the lock is gone\n")


def test_as_a_program_a_reader_gone_before_the_flush_gives_141() -> None:
    r, w = os.pipe()
    os.close(r)  # nobody will read: the flush at the end meets EPIPE
    try:
        p = _program("def go(argv):\n    sys.stdout.write('lost')\n    return 0", stdout=w)
    finally:
        os.close(w)
    assert (p.returncode, p.stderr) == (errors.BROKEN_PIPE, b"")
