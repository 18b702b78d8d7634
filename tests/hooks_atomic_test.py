"""The shared atomic runner, through the real hook console scripts (each a process of its own)."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from seq_hooks import journal
from seq_hooks.hooks import atomic, generic, ruff, ruff_format
from seq_hooks.hooks import mypy as mypy_hook
from seq_hooks.hooks import pytest as pytest_hook
from testing.util import FIXTURES, PY, git, reap, run, seq_hooks, wait_for_file

BIN = Path(sys.executable).parent
RECORD = str(FIXTURES / "record_argv.py")


def hook(name: str, *args: object) -> list[str]:
    return [str(BIN / name), *(str(a) for a in args)]


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "PRE_COMMIT"}
    out.update(extra)
    return out


def records(path: Path) -> list[list[str]]:
    return [json.loads(line)[0] for line in path.read_text(encoding="utf-8").splitlines()]


def state(repo: Path) -> str:
    return str(repo / ".git" / "seq-hooks")


def write(repo: Path, name: str, text: str = "x = 1\n") -> Path:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- units -----------------------------------------------------------------------------------------


def test_one_unit_per_file_and_a_failure_does_not_stop_the_others(
    isolated: Path, tmp_path: Path
) -> None:
    for name in ("a.py", "b.py", "c.py"):
        write(isolated, name)
    out = tmp_path / "argv.jsonl"
    p = run(hook("atomic", "--", PY, RECORD, "--", "a.py", "b.py", "c.py"),
            env=env(RECORD_TO=str(out), RECORD_FAIL_ON="b.py"))
    assert p.returncode == 1, p.stderr
    assert records(out) == [["a.py"], ["b.py"], ["c.py"]]
    assert "record_argv: failing on b.py" in p.stdout  # a failed unit's output is shown
    assert "atomic: failed: b.py: exit 3" in p.stdout
    assert "3 units (3 files): 2 passed, 1 failed" in p.stdout
    runs = [r for r in journal.read(state(isolated)) if r.argv[1:2] == [RECORD]]
    assert [r.argv[2:] for r in runs] == [["a.py"], ["b.py"], ["c.py"]]
    assert all(r.lock == "default" for r in runs)


def test_fail_fast_stops_after_the_first_failure(isolated: Path, tmp_path: Path) -> None:
    for name in ("a.py", "b.py", "c.py"):
        write(isolated, name)
    out = tmp_path / "argv.jsonl"
    p = run(hook("atomic", "--fail-fast", "--", PY, RECORD, "--", "a.py", "b.py", "c.py"),
            env=env(RECORD_TO=str(out), RECORD_FAIL_ON="a.py"))
    assert p.returncode == 1
    assert records(out) == [["a.py"]]
    assert "--fail-fast: 2 units not run" in p.stderr


def test_batch_from_the_flag_and_from_config(isolated: Path, tmp_path: Path) -> None:
    names = [f"m{i}.py" for i in range(5)]
    for name in names:
        write(isolated, name)
    out = tmp_path / "argv.jsonl"
    p = run(
        hook("atomic", "--batch", "2", "--", PY, RECORD, "--", *names), env=env(RECORD_TO=str(out))
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert records(out) == [names[0:2], names[2:4], names[4:]]
    out.unlink()
    write(
        isolated,
        "pyproject.toml",
        "[tool.seq-hooks.hooks.atomic]\nbatch = 3\nargs = ['--from-config']\n",
    )
    p = run(hook("atomic", "--", PY, RECORD, "--", *names), env=env(RECORD_TO=str(out)))
    assert p.returncode == 0, p.stdout + p.stderr
    # after ARGS
    assert records(out) == [["--from-config", *names[0:3]], ["--from-config", *names[3:]]]
    out.unlink()
    p = run(
        hook("atomic", "--batch", "0", "--", PY, RECORD, "--", *names), env=env(RECORD_TO=str(out))
    )
    assert records(out) == [["--from-config", *names]]


def test_timeout_from_hook_config_names_the_unit_and_why(isolated: Path) -> None:
    write(isolated, "slow.py")
    write(isolated, "fast.py")
    write(isolated, "pyproject.toml", "[tool.seq-hooks.hooks.atomic]\ntimeout = 0.5\n")
    script = 'case "$1" in slow.py) sleep 30;; esac'
    p = run(hook("atomic", "--", "sh", "-c", script, "sh", "--", "slow.py", "fast.py"), env=env())
    assert p.returncode == 1
    assert "atomic: failed: slow.py: timeout: timed out after 0.5s" in p.stdout
    assert "1 passed, 1 failed" in p.stdout


def test_environment_overrides_the_hook_table(isolated: Path) -> None:
    write(isolated, "slow.py")
    write(isolated, "pyproject.toml", "[tool.seq-hooks.hooks.atomic]\ntimeout = 60\n")
    p = run(
        hook("atomic", "--", "sh", "-c", "sleep 30", "sh", "--", "slow.py"),
        env=env(SEQ_HOOKS_TIMEOUT="0.3"),
    )
    assert p.returncode == 1
    assert "timed out after 0.3s" in p.stdout


def test_memory_limit_from_hook_config(isolated: Path) -> None:
    write(isolated, "big.py")
    write(isolated, "pyproject.toml", "[tool.seq-hooks.hooks.atomic]\nmemory_limit_mb = 100\n")
    eat = f"exec {PY} {FIXTURES / 'eat_memory.py'} 400 2000 5"
    p = run(hook("atomic", "--", "sh", "-c", eat, "sh", "--", "big.py"), env=env())
    assert p.returncode == 1
    assert "atomic: failed: big.py: memory: memory limit 100 MB exceeded" in p.stdout


@pytest.mark.parametrize("name", ["sp ace.py", "ünïcode.py", "-dash.py", "--double.py"])
def test_odd_names_reach_the_tool_intact(isolated: Path, tmp_path: Path, name: str) -> None:
    write(isolated, name)
    out = tmp_path / "argv.jsonl"
    p = run(hook("atomic", "--", PY, RECORD, "--", name), env=env(RECORD_TO=str(out)))
    assert p.returncode == 0, p.stdout + p.stderr
    # a leading dash gets ./ so that no tool can take it for an option
    assert records(out) == [["./" + name if name.startswith("-") else name]]


@pytest.mark.parametrize("name", ["sp ace.py", "ünïcode.py", "-dash.py"])
def test_odd_names_reach_ruff_intact(isolated: Path, name: str) -> None:
    write(isolated, name, "import os\n")
    # pre-commit passes file names after the hook's args, with no -- in between
    p = run(hook("atomic-ruff", "--no-fix", name), env=env(PRE_COMMIT="1"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{name}:1:8" in p.stdout  # F401 in that very file
    assert f"atomic-ruff: failed: {name}: exit 1" in p.stdout


@pytest.mark.parametrize("pre_commit", ["1", ""])
def test_files_named_like_hook_options_are_files(isolated: Path, pre_commit: str) -> None:
    names = ["--help", "-h", "--fail-fast", "--type=x.py", "--batch=2", "--verbose", "--all"]
    for name in names:
        # python by its shebang (identify reads it from executable files), by hand as under
        # pre-commit
        write(isolated, name, "#!/usr/bin/env python3\nimport os\n").chmod(0o755)
    p = run(
        hook("atomic-ruff", "--no-fix", "--select", "F401", *names), env=env(PRE_COMMIT=pre_commit)
    )
    assert p.returncode == 1, p.stdout + p.stderr
    assert "usage:" not in p.stdout
    for name in names:
        assert f"atomic-ruff: failed: {name}: exit 1" in p.stdout  # checked, each as one unit


def test_ruff_by_default_batches_files_and_names_each_failing_one(isolated: Path) -> None:
    for name in ("a.py", "b.py", "c.py", "d.py"):
        write(isolated, name, "import os\n" if name in ("b.py", "d.py") else "x = 1\n")
    p = run(
        hook("atomic-ruff", "--no-fix", "a.py", "b.py", "c.py", "d.py"), env=env(PRE_COMMIT="1")
    )
    assert p.returncode == 1, p.stdout + p.stderr
    assert "1 unit (4 files): 0 passed, 1 failed" in p.stdout
    # the tool named b.py and d.py: those are the failures reported, not the whole unit
    assert [line for line in p.stdout.splitlines() if ": failed: " in line] == [
        "atomic-ruff: failed: b.py: exit 1", "atomic-ruff: failed: d.py: exit 1"]
    assert [r.argv[-4:] for r in journal.read(state(isolated))] == [
        ["a.py", "b.py", "c.py", "d.py"]
    ]


def test_a_failed_unit_whose_files_the_tool_does_not_name_is_reported_as_the_unit(
    isolated: Path,
) -> None:
    for name in ("a.py", "b.py"):
        write(isolated, name)
    p = run(
        hook(
            "atomic",
            "--batch",
            "0",
            "--",
            "sh",
            "-c",
            "echo something broke; exit 4",
            "sh",
            "--",
            "a.py",
            "b.py",
        ),
        env=env(),
    )
    assert p.returncode == 1
    assert "atomic: failed: a.py (+1 more): exit 4" in p.stdout


def test_a_vanished_file_is_skipped_with_a_note(isolated: Path, tmp_path: Path) -> None:
    write(isolated, "here.py")
    out = tmp_path / "argv.jsonl"
    p = run(
        hook("atomic", "--", PY, RECORD, "--", "gone.py", "here.py"), env=env(RECORD_TO=str(out))
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "atomic: gone.py: skipped (the file no longer exists)" in p.stderr
    assert records(out) == [["here.py"]]
    assert "1 passed, 1 skipped" in p.stdout


def test_a_missing_tool_is_one_clear_error(isolated: Path) -> None:
    for name in ("a.py", "b.py", "c.py"):
        write(isolated, name)
    p = run(hook("atomic", "--", "no-such-tool-xyz", "--", "a.py", "b.py", "c.py"), env=env())
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("atomic: no-such-tool-xyz not found (looked in ")
    assert "additional_dependencies: [no-such-tool-xyz]" in lines[0]
    assert not (isolated / ".git" / "seq-hooks" / "journal.jsonl").exists()  # no unit ran


# -- output ----------------------------------------------------------------------------------------


def test_verbose_progress_line_per_unit_and_summary(isolated: Path) -> None:
    write(isolated, "a.py")
    write(isolated, "b.py", "import os\n")
    p = run(
        hook("atomic-ruff", "--verbose", "--no-fix", "--batch", "1", "a.py", "b.py"),
        env=env(PRE_COMMIT="1"),
    )
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[0].startswith("atomic-ruff: ruff from ")
    progress = [line for line in lines if line.startswith("atomic-ruff: [")]
    assert len(progress) == 2
    assert progress[0].startswith("atomic-ruff: [1/2] ok       a.py  ") and progress[0].endswith(
        " MB"
    )
    assert progress[1].startswith("atomic-ruff: [2/2] FAIL     b.py  ") and progress[1].endswith(
        " MB  (exit 1)"
    )
    assert "All checks passed!" in p.stdout  # every unit's output with --verbose
    assert any(
        line.startswith("atomic-ruff: 2 units (2 files): 1 passed, 1 failed in ") for line in lines
    )


def test_quiet_under_pre_commit_when_all_pass(isolated: Path) -> None:
    write(isolated, "a.py")
    quiet = run(hook("atomic-ruff", "a.py"), env=env(PRE_COMMIT="1"))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    by_hand = run(hook("atomic-ruff", "a.py"), env=env())
    assert by_hand.returncode == 0
    # not a terminal: no progress
    assert by_hand.stdout.startswith("atomic-ruff: 1 unit (1 file): 1 passed in ")


def test_a_fixed_file_is_reported(isolated: Path) -> None:
    write(isolated, "fixme.py", "import os\n\nx = 1\n")
    p = run(hook("atomic-ruff", "--fix", "fixme.py"), env=env(PRE_COMMIT="1"))
    assert p.returncode == 0
    assert "import os" not in (isolated / "fixme.py").read_text()
    assert "Found 1 error (1 fixed, 0 remaining)." in p.stdout
    assert "1 passed after modifying files in " in p.stdout


# -- which files
# ------------------------------------------------------------------------------------------------

def test_by_hand_files_come_from_git_filtered_by_type(isolated: Path, tmp_path: Path) -> None:
    write(isolated, "a.py")
    write(isolated, "stub.pyi", "x: int\n")
    write(isolated, "notes.txt", "hello\n")
    write(isolated, "sub/b.py")
    write(isolated, "ignored.py")
    write(isolated, ".gitignore", "ignored.py\n")
    # tracked and untracked (not ignored) files both count
    git(isolated, "add", "a.py", "notes.txt")
    p = run(hook("atomic-ruff", "--verbose", "--batch", "1"), env=env())
    assert p.returncode == 0, p.stdout + p.stderr
    ran = sorted(r.argv[-1] for r in journal.read(state(isolated)))
    assert ran == ["a.py", "stub.pyi", "sub/b.py"]
    out = tmp_path / "argv.jsonl"
    p = run(hook("atomic", "--type", "text", "--", PY, RECORD, "--", "sub", "notes.txt", "a.py"),
            env=env(RECORD_TO=str(out)))
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(r[0] for r in records(out)) == ["a.py", "notes.txt", "sub/b.py"]


def test_files_from_pre_commit_are_taken_as_given(isolated: Path, tmp_path: Path) -> None:
    write(isolated, "notes.txt", "hello\n")
    out = tmp_path / "argv.jsonl"
    p = run(hook("atomic", "--type", "python", "--", PY, RECORD, "--", "notes.txt"),
            env=env(RECORD_TO=str(out), PRE_COMMIT="1"))
    assert p.returncode == 0
    assert records(out) == [["notes.txt"]]  # pre-commit already chose (the user's types/files win)


# -- the queue
# --------------------------------------------------------------------------------------------------

def test_nested_under_a_held_lock_units_use_the_child_queue(isolated: Path, tmp_path: Path) -> None:
    write(isolated, "a.py")
    write(isolated, "b.py")
    out = tmp_path / "argv.jsonl"
    p = run(seq_hooks("run", "--", str(BIN / "atomic"), "--", PY, RECORD, "--", "a.py", "b.py"),
            env=env(RECORD_TO=str(out)))
    assert p.returncode == 0, p.stdout + p.stderr
    runs = journal.read(state(isolated))
    units = [r for r in runs if r.argv[1:2] == [RECORD]]
    outer = [r for r in runs if r.argv[0].endswith("atomic")]
    assert len(units) == 2 and len(outer) == 1
    assert all(r.lock == f"default/nested/{outer[0].token}" for r in units)


def test_units_share_one_log_with_a_section_each(isolated: Path) -> None:
    write(isolated, "a.py")
    write(isolated, "b.py")
    p = run(hook("atomic-ruff", "--batch", "1", "a.py", "b.py"), env=env())
    assert p.returncode == 0
    logs = {str(r.log) for r in journal.read(state(isolated))}
    assert len(logs) == 1
    log = Path(logs.pop())
    assert "atomic-ruff" in log.name
    assert log.read_text().count("# seq-hooks run\n") == 2


def test_help_lists_the_hook_options(isolated: Path) -> None:
    p = run(hook("atomic-pytest", "--help"), env=env())
    assert p.returncode == 0
    assert "--batch N" in p.stdout and "--all" in p.stdout and "--fail-fast" in p.stdout


def test_generic_hook_by_hand_keeps_the_tools_subcommand_and_options(isolated: Path) -> None:
    """`atomic -- ruff check --fix FILE`: `check` and `--fix` are ruff's, FILE the one file (`check`
    was taken for a file to check, and ruff got `--fix check FILE`)."""
    write(isolated, "a.py", "import os\n")
    write(isolated, "b.py", "x  =  1\n")
    path = (
        f"{os.environ['PATH']}:{BIN}" if str(BIN) not in os.environ["PATH"] else os.environ["PATH"]
    )
    p = run(hook("atomic", "--", "ruff", "check", "--fix", "a.py"), env=env(PATH=path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert (isolated / "a.py").read_text() == ""  # the unused import fixed
    assert [r.argv[1:] for r in journal.read(state(isolated))] == [["check", "--fix", "a.py"]]
    p = run(hook("atomic", "--", "ruff", "format", "b.py"), env=env(PATH=path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert (isolated / "b.py").read_text() == "x = 1\n"


def test_generic_help_says_the_rule_with_an_example(isolated: Path) -> None:
    p = run(hook("atomic", "--help"), env=env())
    assert p.returncode == 0
    assert (
        "atomic -- ruff check --fix a.py b.py" in p.stdout
        and "args: [--, ruff, format]" in p.stdout
    )


def test_outside_git_without_files_is_a_usage_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    p = run(hook("atomic-ruff"), cwd=plain, env=env(XDG_STATE_HOME=str(tmp_path / "state")))
    assert p.returncode == 2
    assert "not a git repository" in p.stderr


def test_progress_lines_on_a_terminal_without_verbose(isolated: Path) -> None:
    write(isolated, "a.py")
    write(isolated, "b.py")
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            hook("atomic-ruff", "--batch", "1", "a.py", "b.py"),
            stdout=follower,
            stderr=follower,
            env=env(PRE_COMMIT="1"),
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(leader)
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    assert "atomic-ruff: [1/2] ok       a.py  " in text
    assert "atomic-ruff: [2/2] ok       b.py  " in text
    assert "All checks passed!" not in text  # a passing unit's output only with --verbose


def test_max_wait_gives_up_waiting_for_the_lock(
    isolated: Path, tmp_path: Path, one_at_a_time: None
) -> None:
    write(isolated, "a.py")
    pidfile, gate = tmp_path / "holder.pid", tmp_path / "gate"
    holder = subprocess.Popen(
        seq_hooks("run", "--", PY, FIXTURES / "gate.py", pidfile, gate, tmp_path / "order", "h"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_file(pidfile)
        p = run(hook("atomic", "--", PY, RECORD, "--", "a.py"),
                env=env(SEQ_HOOKS_MAX_WAIT="0.3", RECORD_TO=str(tmp_path / "argv.jsonl")))
        assert p.returncode == 75, p.stdout + p.stderr
        assert "atomic: gave up after waiting 0.3s for lock 'default'" in p.stderr
        assert not (tmp_path / "argv.jsonl").exists()
    finally:
        gate.write_text("go")
        holder.wait(timeout=30)
        reap(holder)


def test_threads_per_hook_caps_each_unit(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text(
        "[tool.seq-hooks]\nthreads = 4\n[tool.seq-hooks.hooks.atomic]\nthreads = 1\n")
    (isolated / "f1").write_text("")
    p = run([str(Path(sys.executable).parent / "atomic"), "--verbose", "--", "sh", "-c",
             "echo T=$OMP_NUM_THREADS/$PYTEST_XDIST_AUTO_NUM_WORKERS", "--", "f1"])
    assert p.returncode == 0 and "T=1/1" in p.stdout, p.stdout + p.stderr


def test_batches_cut_the_files_in_order() -> None:
    names = ["a", "b", "c", "d", "e"]
    assert atomic.batches(names, 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert atomic.batches(names, 0) == [names]
    assert atomic.batches(names, 1) == [[n] for n in names]


@pytest.mark.parametrize(("given", "kept"), [([], ["--fix"]), (["--fix"], []), (["--no-fix"], []),
                                            (["--select", "E"], ["--fix"])])
def test_a_default_option_is_dropped_when_the_user_gives_it_either_way(
    given: list[str], kept: list[str]
) -> None:
    assert atomic._defaults_not_given(("--fix",), given) == kept


def test_each_hook_has_its_default_unit_size() -> None:
    assert (ruff.SPEC.batch, ruff_format.SPEC.batch, mypy_hook.SPEC.batch, pytest_hook.SPEC.batch,
            generic.SPEC.batch) == (200, 200, 0, 8, 1)


def test_a_hook_runs_one_log_is_bounded_as_a_whole(isolated: Path) -> None:
    """Issue 20 item 12: the units of a hook run write one log. Each unit's run used to keep its own
    head and tail (40 MB a unit: 20 units, 839 MB); now the log keeps the first units' head and the
    last units' tail, and says what was cut."""
    from seq_hooks.process import pump

    names = [f"u{i}.py" for i in range(4)]
    for name in names:
        write(isolated, name)
    flood = pump.LOG_HEAD // 2  # four units: twice the head
    script = ("import sys\nout, name = sys.stdout.buffer, sys.argv[1].encode()\n"
              "out.write(b'FIRST ' + name + b'\\n')\n"
              f"for _ in range({flood >> 16}):\n    out.write(b'a' * 65535 + b'\\n')\n"
              "out.write(b'LAST ' + name + b'\\n')\n")
    p = run(hook("atomic", "--", PY, "-c", script, "--", *names), env=env(), timeout=300)
    assert p.returncode == 0, p.stderr
    logs = sorted((isolated / ".git" / "seq-hooks" / "logs").glob("*-atomic-*.log"))
    assert len(logs) == 1
    size = logs[0].stat().st_size
    assert size < pump.LOG_HEAD + pump.LOG_TAIL + pump.LOG_SLACK + (64 << 10), size
    with logs[0].open("rb") as f:
        head = f.read(4096)
        f.seek(size - 4096)
        end = f.read()
    assert b"FIRST u0.py" in head and b"LAST u3.py" in end
