from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seq_hooks import entry, errors
from seq_hooks.errors import FatalError, UsageError
from seq_hooks.options import HelpRequested
from testing.util import seq_hooks


def raising(error: BaseException):
    def go(argv: list[str]) -> int:
        raise error

    return go


@pytest.mark.parametrize(
    ("error", "code", "err"),
    [
        (UsageError("--x takes a number"), 2, "prog: --x takes a number\n"),
        (FatalError("the lock is gone", 75), 75, "prog: the lock is gone\n"),
        (KeyboardInterrupt(), 130, "prog: interrupted\n"),
        (BrokenPipeError(), 141, ""),
        (
            RuntimeError("boom"),
            125,
            "prog: internal error: RuntimeError: boom (SEQ_HOOKS_DEBUG=1 shows more)\n",
        ),
    ],
)
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
    return subprocess.run(
        [sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE, timeout=60, check=False
    )


def test_as_a_program_guard_flushes_and_ends_the_process_with_the_code() -> None:
    # output without a newline to a pipe sits in the buffer until the flush; the imports' objects
    # are frozen before the entry runs; the interpreter's teardown (atexit, module clearing) is
    # skipped
    p = _program(
        "def go(argv):\n    sys.stdout.write(f'frozen={gc.get_freeze_count() > 0} {argv}')\n    "
        "return 3"
    )
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


def _write_dev_full(argv: list[str]) -> int:
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        os.write(fd, b"x")  # ENOSPC, naming no file
    except OSError as e:
        raise errors.on_file(e, "/dev/full") from None
    finally:
        os.close(fd)
    return 0


@pytest.mark.parametrize(
    ("go", "err"),
    [
        (
            _write_dev_full,
            "prog: no space left on devtmpfs (mounted at /dev) for /dev/full: free some space "
            "there\n",
        ),
        (
            raising(OSError(errno.EDQUOT, "Disk quota exceeded", "/dev/null")),
            "prog: disk quota exceeded on devtmpfs (mounted at /dev) for /dev/null: free some "
            "space there\n",
        ),
        (
            raising(OSError(errno.ENOSPC, "No space left on device")),
            "prog: no space left on a device: free some space there\n",
        ),
    ],
)
def test_a_full_disk_is_a_sentence_not_an_internal_error(
    go: Callable[[list[str]], int], err: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 20, item 16: ENOSPC was 'internal error' (125); 125 stays (seq-hooks itself failed),
    the sentence says what is full and for which file."""
    if (
        not os.path.exists("/dev/full")
        or "devtmpfs" not in Path("/proc/self/mountinfo").read_text()
    ):
        pytest.skip("needs /dev/full on a devtmpfs /dev")
    assert entry.guard("prog", go, []) == 125
    assert capsys.readouterr().err == err


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled: a real full disk (mounting one needs root)."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        (mnt / "state").mkdir(mode=0o700)
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            for _ in range(10000):
                os.write(fd, b"\0" * 4096)
        os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


@pytest.mark.parametrize("lock", [[], ["--no-lock"]])
def test_a_run_on_a_full_disk_says_which_file_and_leaves_none(isolated: Path, full_disk: Path,
                                                               lock: list[str]) -> None:
    state = full_disk / "state"
    p = subprocess.run(
        seq_hooks("run", *lock, "--", "true"),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SEQ_HOOKS_HOME": str(state)},
        check=False,
    )
    assert p.returncode == 125 and "internal error" not in p.stderr
    assert p.stderr.startswith(
        f"seq-hooks run: no space left on tmpfs (mounted at {full_disk}) for {state}/"
    )
    assert p.stderr.endswith(": free some space there\n")
    left = [
        str(f.relative_to(state)) for f in state.rglob("*") if f.is_file() and f.stat().st_size == 0
    ]
    assert [f for f in left if not f.endswith(".seq")] == []  # no empty log or ticket
