from __future__ import annotations

import pytest

from seq_hooks import entry
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
