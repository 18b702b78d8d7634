from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from seq_hooks.commands import run as run_command
from seq_hooks.errors import UsageError
from seq_hooks.runner import Result
from testing.util import fixture, run, seq_hooks


def test_json_captures_output_and_reports(isolated: Path) -> None:
    p = run(seq_hooks("run", "--json", "--", "sh", "-c", "echo out; echo err >&2; exit 4"))
    assert p.returncode == 4
    record = json.loads(p.stdout)
    assert record["argv"] == ["sh", "-c", "echo out; echo err >&2; exit 4"]
    assert record["exit_code"] == 4
    assert record["reason"] == "exit"
    assert record["stdout"] == "out\n"
    assert record["stderr"] == "err\n"
    assert record["duration_s"] >= 0
    assert "peak_rss_mb" in record
    assert Path(record["log"]).is_file()


def test_guides_env_names_are_honoured(isolated: Path) -> None:
    env = {**os.environ, "TIMEOUT": "1"}
    start = time.monotonic()
    assert run(seq_hooks("run", "--", "sleep", "30"), env=env).returncode == 124
    assert time.monotonic() - start < 5
    env = {**os.environ, "MEMORY_LIMIT_MB": "100"}
    assert run(seq_hooks("run", "--", *fixture("eat_memory.py", 400, 1000, 5)), env=env).returncode == 137
    env = {**os.environ, "MEMORY_LIMIT_MB": "100", "SEQ_HOOKS_MEMORY_LIMIT_MB": "0"}  # the prefixed name wins
    assert run(seq_hooks("run", "--", *fixture("eat_memory.py", 150, 1000)), env=env).returncode == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--timeout", "abc", "--", "true"], "--timeout takes a number"),
        (["--timeout", "-1", "--", "true"], "--timeout must be zero or more, got -1"),
        (["--bogus", "--", "true"], "unknown option --bogus"),
        (["--kill-signal", "NOPE", "--", "true"], "unknown signal 'NOPE'"),
        ([], "no command given"),
        (["--timeout"], "--timeout needs a value"),
    ],
)
def test_bad_flags_exit_2_with_a_clear_message(args: list[str], needle: str) -> None:
    p = run(seq_hooks("run", *args))
    assert p.returncode == 2
    assert needle in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert p.stderr.startswith("seq-hooks run: ") and p.stderr.count("seq-hooks run:") == 1


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[tool.seq-hooks]\nbogus = 1\n", "unknown key 'bogus'"),
        ("[tool.seq-hooks]\ntimeout = \"long\"\n", "timeout must be a number"),
        ("[tool.seq-hooks]\nmemory_limit_mb = -5\n", "memory_limit_mb must be zero or more"),
        ("[tool.seq-hooks]\nscope = \"galaxy\"\n", "scope must be"),
        ("[tool.seq-hooks.hooks.atomic-mypy]\nbatch = \"x\"\n", "[tool.seq-hooks.hooks.atomic-mypy]: batch must be"),
        ("[tool.seq-hooks\ntimeout = 1\n", "cannot parse"),
    ],
)
def test_bad_configuration_exits_2_naming_file_and_key(isolated: Path, toml: str, needle: str) -> None:
    (isolated / "pyproject.toml").write_text(toml)
    p = run(seq_hooks("run", "--", "true"))
    assert p.returncode == 2
    assert needle in p.stderr
    assert "pyproject.toml" in p.stderr
    assert "Traceback" not in p.stderr


def test_bad_environment_value_exits_2() -> None:
    p = run(seq_hooks("run", "--", "true"), env={**os.environ, "SEQ_HOOKS_TIMEOUT": "soon"})
    assert p.returncode == 2
    assert "SEQ_HOOKS_TIMEOUT" in p.stderr


def test_configuration_is_applied(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\ntimeout = 0.5\n")
    assert run(seq_hooks("run", "--", "sleep", "30")).returncode == 124
    assert run(seq_hooks("run", "--timeout", "0", "--", "sleep", "0.8")).returncode == 0  # the flag wins


def test_pipeline_flag_bounds_the_run_by_pipeline_timeout() -> None:
    env = {**os.environ, "SEQ_HOOKS_PIPELINE_TIMEOUT": "0.5", "SEQ_HOOKS_TIMEOUT": "0"}
    t = time.monotonic()
    assert run(seq_hooks("run", "--pipeline", "--", "sleep", "30"), env=env).returncode == 124
    assert time.monotonic() - t < 5


@pytest.mark.parametrize(("raw", "number"), [("TERM", 15), ("sigint", 2), ("SIGKILL", 9), ("9", 9), ("hup", 1)])
def test_signal_names_and_numbers(raw: str, number: int) -> None:
    assert run_command.parse_signal(raw) == number


@pytest.mark.parametrize("raw", ["NOPE", "0", "999", "", "-9"])
def test_unknown_signals_are_usage_errors(raw: str) -> None:
    with pytest.raises(UsageError, match="--kill-signal: unknown signal"):
        run_command.parse_signal(raw)


RESULT = Result(["x"], 124, "timeout", "timeout after 1s: killed the whole tree", 1.0, 0.5, 3.0, "", "", "/l.log",
                "default", 1)


def test_report_says_why_seq_hooks_ended_it(capsys: pytest.CaptureFixture[str]) -> None:
    run_command.report(RESULT, as_json=False, quiet=True, verbose=False)
    assert capsys.readouterr().err == "seq-hooks run: timeout after 1s: killed the whole tree\n"
    run_command.report(RESULT, as_json=False, quiet=False, verbose=True)
    assert capsys.readouterr().err.splitlines()[1] == (
        "seq-hooks run: exit 124 (timeout) in 1.00s, waited 0.50s, peak 3.0 MB, log /l.log")
    run_command.report(RESULT, as_json=True, quiet=False, verbose=True)
    out = capsys.readouterr()
    assert json.loads(out.out) == RESULT.as_dict() and out.err == ""


@pytest.mark.parametrize(("args", "env", "toml", "needle"), [
    (["--timeout", "1", "--kill-after", "nan"], {}, "", "--kill-after must be a finite number, got nan"),
    (["--max-wait", "inf"], {}, "", "--max-wait must be a finite number, got inf"),
    (["--memory-limit", "99999999999999999999"], {}, "", "--memory-limit must be at most 2147483647"),
    ([], {"SEQ_HOOKS_KILL_AFTER": "nan"}, "", "environment variable SEQ_HOOKS_KILL_AFTER must be a finite number"),
    ([], {}, "[tool.seq-hooks]\nkill_after = nan\n", "kill_after must be a finite number, got nan"),
    ([], {}, "[tool.seq-hooks]\ntimeout = inf\n", "timeout must be a finite number, got inf"),
    ([], {}, "[tool.seq-hooks]\npipeline_timeout = 1e300\n", "pipeline_timeout must be at most 1000000000"),
])
def test_numbers_that_are_not_finite_or_in_range_exit_2(isolated: Path, args: list[str], env: dict[str, str],
                                                         toml: str, needle: str) -> None:
    if toml:
        (isolated / "pyproject.toml").write_text(toml)
    stamp = isolated / "ran"
    p = run(seq_hooks("run", *args, "--", "touch", stamp), env={**os.environ, **env})
    assert (p.returncode, p.stderr.count("\n")) == (2, 1), p.stderr
    assert needle in p.stderr and not stamp.exists()


@pytest.mark.parametrize("text", ['tool = "seq-hooks"\n', '[[tool]]\nname = "seq-hooks"\n'])
def test_a_pyproject_whose_tool_is_not_a_table_exits_2(isolated: Path, text: str) -> None:
    (isolated / "pyproject.toml").write_text(text)
    p = run(seq_hooks("run", "--", "true"))
    assert p.returncode == 2 and "pyproject.toml: `tool` must be a table" in p.stderr and "internal" not in p.stderr


def test_a_fifo_or_dev_zero_as_pyproject_hangs_nothing(isolated: Path) -> None:
    os.mkfifo(isolated / "pyproject.toml")
    for command in (["run", "--", "true"], ["status"], ["history"]):
        p = run(seq_hooks(*command), timeout=30)
        assert p.returncode == 2 and "pyproject.toml: not a regular file" in p.stderr, command
    (isolated / "pyproject.toml").unlink()
    (isolated / "pyproject.toml").symlink_to("/dev/zero")
    p = run(seq_hooks("run", "--", "true"), timeout=30)
    assert p.returncode == 2 and "not a regular file" in p.stderr


def test_a_generic_timeout_set_for_another_tool_does_not_stop_us(isolated: Path) -> None:
    env = {**os.environ, "TIMEOUT": "30s", "MAX_MEMORY_MB": "8G"}
    for command in (["run", "--", "true"], ["status"]):
        p = run(seq_hooks(*command), env=env)
        assert p.returncode == 0, p.stderr


def test_the_universal_guides_max_memory_and_max_processes(isolated: Path) -> None:
    env = {**os.environ, "MAX_MEMORY_MB": "100"}
    p = run(seq_hooks("run", "--", *fixture("eat_memory.py", 400, 1000, 5)), env=env)
    assert p.returncode == 137 and "memory limit 100 MB exceeded" in p.stderr
    env = {**os.environ, "MAX_PROCESSES": "3"}
    p = run(seq_hooks("run", "--", "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 30 & done; wait"), env=env)
    assert p.returncode == 137 and "process limit 3 exceeded" in p.stderr
    env = {**os.environ, "MAX_PROCESSES": "3", "SEQ_HOOKS_MAX_PROCS": "0"}  # the prefixed name wins
    many = ["sh", "-c", "for i in 1 2 3 4 5 6; do true & done; wait"]
    assert run(seq_hooks("run", "--", *many), env=env).returncode == 0


def test_verbose_from_the_environment(isolated: Path) -> None:
    p = run(seq_hooks("run", "--", "true"), env={**os.environ, "VERBOSE": "1"})
    assert p.returncode == 0 and "seq-hooks run: exit 0 (exit) in " in p.stderr
    p = run(seq_hooks("run", "--", "true"), env={**os.environ, "VERBOSE": "0"})
    assert p.returncode == 0 and p.stderr == ""
