"""spawn: the one way seq-hooks starts a process; output(): short helper commands."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from seq_hooks.errors import NOT_EXECUTABLE, NOT_FOUND, FatalError
from seq_hooks.process.spawn import output, spawn
from testing.util import PY, git_repo


def _wait(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _ignored(pid_status: str) -> int:
    for line in pid_status.splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError("no SigIgn line")


def test_spawn_looks_up_path_and_starts_a_new_group(isolated: Path) -> None:
    out = isolated / "out"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        pid = spawn(
            ["python3", "-c", "import os; print(os.getpid(), os.getpgrp())"],
            env={**os.environ, "PATH": os.path.dirname(PY) + os.pathsep + os.environ["PATH"]},
            stdout=fd,
        )
    finally:
        os.close(fd)
    assert _wait(pid) == 0
    assert out.read_text().split() == [str(pid), str(pid)]


def test_missing_and_not_executable_commands_are_sentences(isolated: Path) -> None:
    with pytest.raises(FatalError) as missing:
        spawn(["no-such-command-xyz"], env=os.environ)
    assert (
        missing.value.code == NOT_FOUND
        and missing.value.message == "no-such-command-xyz: command not found"
    )
    script = isolated / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(FatalError) as denied:
        spawn([str(script)], env=os.environ)
    assert denied.value.code == NOT_EXECUTABLE and "not executable" in denied.value.message


def test_a_job_gets_the_default_job_control_signals(isolated: Path) -> None:
    """Where we ignore SIGTTIN (a non-interactive parent), a command we hand our terminal to must
    not: it would get EIO instead of waiting for the terminal."""
    old = signal.signal(signal.SIGTTIN, signal.SIG_IGN)
    try:
        plain = spawn(["sleep", "30"], env=os.environ)
        job = spawn(["sleep", "30"], env=os.environ, job=True)
    finally:
        signal.signal(signal.SIGTTIN, old)
    try:
        bit = 1 << (signal.SIGTTIN - 1)
        assert _ignored(Path(f"/proc/{plain}/status").read_text()) & bit
        assert not _ignored(Path(f"/proc/{job}/status").read_text()) & bit
    finally:
        for pid in (plain, job):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def test_sigpipe_is_the_default_in_the_child() -> None:
    pid = spawn(["sleep", "30"], env=os.environ)
    try:
        assert not _ignored(Path(f"/proc/{pid}/status").read_text()) & (1 << (signal.SIGPIPE - 1))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_output_returns_code_stdout_and_stderr(isolated: Path) -> None:
    done = output(["sh", "-c", "pwd; echo err >&2; exit 3"])
    assert done.code == 3
    assert os.path.realpath(done.stdout.strip()) == os.path.realpath(isolated)
    assert done.stderr == "err\n"


def test_a_helper_for_another_directory_never_moves_ours(isolated: Path, tmp_path: Path) -> None:
    """Issue 19 item 3: a spawn for another directory changed the whole process's working directory
    around it, under the feet of its other threads; the helper changes directory itself."""
    from seq_hooks import githook

    other = git_repo(tmp_path / "other")
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.add(os.getcwd())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(10):
            assert githook.locate(str(other)).hooks_dir.startswith(str(other))
    finally:
        stop.set()
        watcher.join(10)
    assert seen == {str(isolated)}


def test_output_kills_a_helper_past_its_timeout() -> None:
    done = output(["sleep", "30"], timeout=0.2)
    assert done.code == 128 + signal.SIGKILL


def test_a_script_without_a_shebang_runs_with_sh(isolated: Path) -> None:
    script = isolated / "plain"
    script.write_text('echo "ran as $0 with $1"\n')
    script.chmod(0o755)
    done = output([str(script), "arg"])
    assert done.code == 0 and done.stdout == f"ran as {script} with arg\n"
    binary = isolated / "blob"
    binary.write_bytes(b"\x7fXYZ\0\0\0garbage")
    binary.chmod(0o755)
    with pytest.raises(FatalError) as e:
        spawn([str(binary)], env=os.environ)
    assert e.value.code == NOT_EXECUTABLE and "cannot execute binary file" in e.value.message


def test_a_missing_interpreter_is_named(isolated: Path) -> None:
    script = isolated / "tool"
    script.write_text("#!/nonexistent/python3 -u\nprint(1)\n")
    script.chmod(0o755)
    with pytest.raises(FatalError) as e:
        spawn([str(script)], env=os.environ)
    assert e.value.code == NOT_FOUND
    assert (
        e.value.message
        == f"{script}: bad interpreter: /nonexistent/python3 was not found (named on its #! line)"
    )
    on_path = {**os.environ, "PATH": f"{isolated}{os.pathsep}{os.environ['PATH']}"}
    with pytest.raises(FatalError) as e:
        spawn(["tool"], env=on_path)
    assert "tool: bad interpreter: /nonexistent/python3" in e.value.message


def test_a_directory_is_a_sentence(isolated: Path) -> None:
    with pytest.raises(FatalError) as e:
        spawn([str(isolated)], env=os.environ)
    assert e.value.code == NOT_EXECUTABLE and e.value.message.startswith(f"{isolated}: ")


def test_which_reads_path_as_posix_spawnp_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seq_hooks.process.spawn import which

    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    # an empty entry is the working directory
    assert which("tool", "/nonexistent::/bin") == "./tool"
    assert which("tool", "/nonexistent:/bin") is None
    assert which("tool", ":", skip=(str(tmp_path),)) is None
    assert which(str(tool), "") == str(tool)
