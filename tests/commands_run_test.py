from __future__ import annotations

import json
import os
import re
import shlex
import sys
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
    assert (
        run(seq_hooks("run", "--", *fixture("eat_memory.py", 400, 1000, 5)), env=env).returncode
        == 137
    )
    # the prefixed name wins
    env = {**os.environ, "MEMORY_LIMIT_MB": "100", "SEQ_HOOKS_MEMORY_LIMIT_MB": "0"}
    assert (
        run(seq_hooks("run", "--", *fixture("eat_memory.py", 150, 1000)), env=env).returncode == 0
    )


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
        ('[tool.seq-hooks]\ntimeout = "long"\n', "timeout must be a number"),
        ("[tool.seq-hooks]\nmemory_limit_mb = -5\n", "memory_limit_mb must be zero or more"),
        ('[tool.seq-hooks]\nscope = "galaxy"\n', "scope must be"),
        (
            '[tool.seq-hooks.hooks.atomic-mypy]\nbatch = "x"\n',
            "[tool.seq-hooks.hooks.atomic-mypy]: batch must be",
        ),
        ("[tool.seq-hooks\ntimeout = 1\n", "cannot parse"),
    ],
)
def test_bad_configuration_exits_2_naming_file_and_key(
    isolated: Path, toml: str, needle: str
) -> None:
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
    # the flag wins
    assert run(seq_hooks("run", "--timeout", "0", "--", "sleep", "0.8")).returncode == 0


def test_pipeline_flag_bounds_the_run_by_pipeline_timeout() -> None:
    env = {**os.environ, "SEQ_HOOKS_PIPELINE_TIMEOUT": "0.5", "SEQ_HOOKS_TIMEOUT": "0"}
    t = time.monotonic()
    assert run(seq_hooks("run", "--pipeline", "--", "sleep", "30"), env=env).returncode == 124
    assert time.monotonic() - t < 5


@pytest.mark.parametrize(
    ("raw", "number"), [("TERM", 15), ("sigint", 2), ("SIGKILL", 9), ("9", 9), ("hup", 1)]
)
def test_signal_names_and_numbers(raw: str, number: int) -> None:
    assert run_command.parse_signal(raw) == number


@pytest.mark.parametrize("raw", ["NOPE", "0", "999", "", "-9"])
def test_unknown_signals_are_usage_errors(raw: str) -> None:
    with pytest.raises(UsageError, match="--kill-signal: unknown signal"):
        run_command.parse_signal(raw)


RESULT = Result(
    ["x"],
    124,
    "timeout",
    "timeout after 1s: killed the whole tree",
    1.0,
    0.5,
    3.0,
    "",
    "",
    "/l.log",
    "default",
    1,
)


def test_report_says_why_seq_hooks_ended_it(capsys: pytest.CaptureFixture[str]) -> None:
    run_command.report(RESULT, as_json=False, quiet=True, verbose=False)
    assert capsys.readouterr().err == "seq-hooks run: timeout after 1s: killed the whole tree\n"
    run_command.report(RESULT, as_json=False, quiet=False, verbose=True)
    assert capsys.readouterr().err.splitlines()[1] == (
        "seq-hooks run: exit 124 (timeout) in 1.00s, waited 0.50s, peak 3.0 MB, log /l.log")
    run_command.report(RESULT, as_json=True, quiet=False, verbose=True)
    out = capsys.readouterr()
    assert json.loads(out.out) == RESULT.as_dict() and out.err == ""


@pytest.mark.parametrize(
    ("args", "env", "toml", "needle"),
    [
        (
            ["--timeout", "1", "--kill-after", "nan"],
            {},
            "",
            "--kill-after must be a finite number, got nan",
        ),
        (["--max-wait", "inf"], {}, "", "--max-wait must be a finite number, got inf"),
        (
            ["--memory-limit", "99999999999999999999"],
            {},
            "",
            "--memory-limit must be at most 2147483647",
        ),
        (
            [],
            {"SEQ_HOOKS_KILL_AFTER": "nan"},
            "",
            "environment variable SEQ_HOOKS_KILL_AFTER must be a finite number",
        ),
        (
            [],
            {},
            "[tool.seq-hooks]\nkill_after = nan\n",
            "kill_after must be a finite number, got nan",
        ),
        ([], {}, "[tool.seq-hooks]\ntimeout = inf\n", "timeout must be a finite number, got inf"),
        (
            [],
            {},
            "[tool.seq-hooks]\npipeline_timeout = 1e300\n",
            "pipeline_timeout must be at most 1000000000",
        ),
    ],
)
def test_numbers_that_are_not_finite_or_in_range_exit_2(
    isolated: Path, args: list[str], env: dict[str, str], toml: str, needle: str
) -> None:
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
    assert (
        p.returncode == 2
        and "pyproject.toml: `tool` must be a table" in p.stderr
        and "internal" not in p.stderr
    )


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
    p = run(
        seq_hooks("run", "--", "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 30 & done; wait"),
        env=env,
    )
    assert p.returncode == 137 and "process limit 3 exceeded" in p.stderr
    env = {**os.environ, "MAX_PROCESSES": "3", "SEQ_HOOKS_MAX_PROCS": "0"}  # the prefixed name wins
    many = ["sh", "-c", "for i in 1 2 3 4 5 6; do true & done; wait"]
    assert run(seq_hooks("run", "--", *many), env=env).returncode == 0


def test_verbose_from_the_environment(isolated: Path) -> None:
    p = run(seq_hooks("run", "--", "true"), env={**os.environ, "VERBOSE": "1"})
    assert p.returncode == 0 and "seq-hooks run: exit 0 (exit) in " in p.stderr
    p = run(seq_hooks("run", "--", "true"), env={**os.environ, "VERBOSE": "0"})
    assert p.returncode == 0 and p.stderr == ""


XDIST_TEST = """\
import os
import sys


def test_records_its_worker_count():
    with open(os.environ["RECORD"], "a") as f:
        f.write(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "no xdist") + "\\n")
"""


@pytest.mark.parametrize("where", ["flag", "config", "env"])
def test_threads_caps_pytest_xdist_auto_inside_the_unit(isolated: Path, where: str) -> None:
    # in the dev extras: the real plugin decides how many workers -n auto starts
    pytest.importorskip("xdist")
    (isolated / "pytest.ini").write_text("[pytest]\naddopts = -n auto -p no:cacheprovider\n")
    (isolated / "test_x.py").write_text(XDIST_TEST)
    record = isolated / "record"
    flags = ["--threads", "1"] if where == "flag" else []
    if where == "config":
        (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nthreads = 1\n")
    env = {
        **os.environ,
        "RECORD": str(record),
        **({"SEQ_HOOKS_THREADS": "1"} if where == "env" else {}),
    }
    p = run(
        seq_hooks("run", *flags, "--", sys.executable, "-m", "pytest", "-q", "test_x.py"),
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert record.read_text() == "1\n"  # one xdist worker, not one per CPU
    record.unlink()
    p = run(
        seq_hooks(
            "run",
            "--threads",
            "1",
            "--",
            "sh",
            "-c",
            "echo $OMP_NUM_THREADS $RAYON_NUM_THREADS $MAKEFLAGS",
        )
    )
    assert p.stdout == "1 1 -j1\n"
    p = run(seq_hooks("run", "--threads", "1", "--", "sh", "-c", "echo $OMP_NUM_THREADS"),
            env={**os.environ, "OMP_NUM_THREADS": "3"})
    assert p.stdout == "3\n"  # what the user set stays


def test_shell_runs_one_string_with_sh_and_says_so_in_the_log(isolated: Path) -> None:
    p = run(seq_hooks("run", "--json", "--shell", "--", "echo a; echo b >&2; exit 3"))
    record = json.loads(p.stdout)
    assert (p.returncode, record["stdout"], record["stderr"]) == (3, "a\n", "b\n")
    assert record["argv"] == ["sh", "-c", "echo a; echo b >&2; exit 3"]
    assert (
        "# --shell: the command is one string, run with sh -c\n" in Path(record["log"]).read_text()
    )


def test_not_found_suggests_shell_for_a_shell_line(isolated: Path) -> None:
    p = run(seq_hooks("run", "--", "echo a; echo b"))
    assert p.returncode == 127
    assert p.stderr == (
        "seq-hooks run: echo a; echo b: command not found; it looks like a shell command line: to "
        "run it with sh -c, use seq-hooks run --shell -- 'echo a; echo b'\n"
    )
    p = run(seq_hooks("run", "--", "no-such-tool-here"))
    assert (
        p.returncode == 127 and p.stderr == "seq-hooks run: no-such-tool-here: command not found\n"
    )


def test_verbose_says_what_is_about_to_run_before_it_runs(isolated: Path) -> None:
    p = run(
        seq_hooks(
            "run",
            "-v",
            "--timeout",
            "9",
            "--memory-limit",
            "300",
            "--",
            "sh",
            "-c",
            "echo RUNNING >&2",
        )
    )
    assert p.returncode == 0
    lines = p.stderr.splitlines()
    assert lines[0].startswith(
        "seq-hooks run: about to run: sh -c 'echo RUNNING >&2' (executable: /"
    )
    assert lines[1].startswith(
        f"seq-hooks run: lock 'default' (queue in {isolated / '.git' / 'seq-hooks'}); "
        "limits: timeout 9s (then SIGTERM, SIGKILL 5s later), memory 300 MB"
    )
    assert lines[2] == "RUNNING" and lines[3].startswith("seq-hooks run: exit 0 (exit) in ")


def make_venv(root: Path, tool: str, says: str) -> Path:
    run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], timeout=120
    ).check_returncode()
    script = root / ".venv" / "bin" / tool
    script.write_text(f"#!/bin/sh\necho {says} \"$@\"\n")
    script.chmod(0o755)
    return script


def test_a_bare_command_not_on_path_is_found_in_the_projects_venv(isolated: Path) -> None:
    script = make_venv(isolated, "projtool", "from-venv")
    p = run(seq_hooks("run", "-v", "--", "projtool", "x"))
    assert p.returncode == 0 and p.stdout == "from-venv x\n"
    assert (
        f"about to run: {script} x (executable: {script}, the project's virtualenv "
        f"{isolated / '.venv'})"
        in p.stderr
    )
    sub = isolated / "sub"
    sub.mkdir()
    # from anywhere in the repo
    assert run(seq_hooks("run", "--", "projtool"), cwd=sub).stdout == "from-venv\n"


def test_project_tools_prefers_the_venv_over_path(isolated: Path, tmp_path: Path) -> None:
    make_venv(isolated, "projtool", "from-venv")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "projtool").write_text("#!/bin/sh\necho from-path\n")
    (bindir / "projtool").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    assert run(seq_hooks("run", "--", "projtool"), env=env).stdout == "from-path\n"
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nproject_tools = true\n")
    assert run(seq_hooks("run", "--", "projtool"), env=env).stdout == "from-venv\n"


@pytest.mark.parametrize(
    "words",
    [
        ["-q"],
        ["--timeout", "5", "-v"],
        ["--", "-x"],
        ["--quiet", "--verbose", "--json", "--no-lock"],
    ],
)
def test_every_word_after_the_command_is_the_commands_own(isolated: Path, words: list[str]) -> None:
    """`seq-hooks run pytest -q` as the guides' `seq CMD ARGS` is typed, without `--`: seq-hooks'
    options come before the command, and `-q`, `--timeout 5`, `-v` after it are the command's (not
    our quiet, timeout, verbose)."""
    show = "import sys; print(sys.argv[1:])"
    p = run(seq_hooks("run", sys.executable, "-c", show, *words))
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"{words!r}\n"
    assert p.stderr == ""  # no `--verbose` notes, no summary: the flags were not ours
    # `uv run pytest -v`: a command whose own first words are a subcommand and its options
    p = run(seq_hooks("run", "--verbose", "sh", "-c", 'echo "$@"', "sh", "-q", "--timeout", "5"))
    assert p.returncode == 0 and p.stdout == "-q --timeout 5\n"
    assert "seq-hooks run: about to run: sh -c" in p.stderr and "timeout 1800s" in p.stderr


def test_options_before_the_command_are_ours_without_dashdash(isolated: Path) -> None:
    start = time.monotonic()
    p = run(seq_hooks("run", "--timeout", "1", "sleep", "30"))
    assert p.returncode == 124 and time.monotonic() - start < 10


def test_verbose_in_a_pipeline_says_the_real_cap(isolated: Path) -> None:
    """A nested `--verbose` run printed `timeout 1800s` where the pipeline deadline left it 2 s: it
    says what is left of the pipeline deadline, and its own timeout beside it."""
    inner = " ".join(shlex.quote(w) for w in seq_hooks("run", "--verbose", "--", "true"))
    env = {**os.environ, "SEQ_HOOKS_PIPELINE_TIMEOUT": "3"}
    p = run(seq_hooks("run", "--pipeline", "--", "sh", "-c", inner), env=env)
    assert p.returncode == 0, p.stderr
    found = re.search(
        r"limits: timeout (\d\.\d\d)s \(what is left of the pipeline deadline \d\d:\d\d:\d\d; "
        r"its own 1800s\)",
        p.stderr,
    )
    assert found is not None and 0 < float(found[1]) <= 3, p.stderr
    assert "timeout 1800s (then" not in p.stderr
    # not nested: its own timeout, nothing more
    outside = run(seq_hooks("run", "--verbose", "--", "true"))
    assert "limits: timeout 1800s (then SIGTERM" in outside.stderr
