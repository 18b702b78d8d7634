from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import seq_hooks
from seq_hooks import api
from seq_hooks.errors import FatalError


def test_run_captures_output_and_the_result(isolated: Path) -> None:
    result = seq_hooks.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.exit_code, result.reason, result.stdout, result.stderr) == (
        3,
        "exit",
        "out\n",
        "err\n",
    )
    assert (
        result.lock == "default"
        and result.attempts == 1
        and result.log
        and os.path.exists(result.log)
    )


def test_limits_and_no_lock(isolated: Path) -> None:
    result = api.run(["sleep", "30"], timeout=0.3, kill_after=0.2, lock=None)
    assert (result.exit_code, result.reason, result.lock) == (124, "timeout", None)


def test_retry_and_cwd(isolated: Path) -> None:
    elsewhere = isolated / "sub"
    elsewhere.mkdir()
    result = api.run(["sh", "-c", "pwd; exit 1"], retry=1, cwd=str(elsewhere))
    assert result.attempts == 2 and result.stdout.strip() == str(elsewhere)
    assert os.getcwd() == str(isolated)  # the caller's own directory is untouched


def test_a_configuration_error_is_raised_with_its_exit_code(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nbogus = 1\n")
    with pytest.raises(FatalError) as e:
        api.run(["true"])
    assert e.value.code == 2 and "unknown key 'bogus'" in e.value.message


def test_shell_and_threads_as_the_command_has_them(isolated: Path) -> None:
    result = api.run(["echo $((1 + 2)) $OMP_NUM_THREADS"], shell=True, threads=2)
    assert (result.exit_code, result.stdout) == (0, "3 2\n")


def test_a_missing_cwd_is_one_clear_error(isolated: Path) -> None:
    with pytest.raises(FatalError) as e:
        api.run(["true"], cwd=str(isolated / "nowhere"))
    assert (
        e.value.code == 2 and "cannot change to" in e.value.message and "nowhere" in e.value.message
    )


def test_threads_with_their_own_directories_do_not_disturb_each_other(isolated: Path) -> None:
    dirs = [isolated / f"d{i}" for i in range(6)]
    for d in dirs:
        d.mkdir()
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda d: api.run(["pwd"], cwd=str(d), lock=None), dirs))
    assert [r.stdout.strip() for r in results] == [str(d) for d in dirs]
    assert os.getcwd() == str(isolated)
