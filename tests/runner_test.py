from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from testing.util import alive, fixture, reap, run, seq_hooks, wait_for_file


def test_exit_status_is_the_commands_own(isolated: Path) -> None:
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    assert run(seq_hooks("run", "--", "sh", "-c", "exit 3")).returncode == 3


def test_death_by_signal_is_128_plus_n() -> None:
    assert run(seq_hooks("run", "--", "sh", "-c", "kill -USR1 $$")).returncode == 128 + signal.SIGUSR1


def test_not_found_and_not_executable(isolated: Path) -> None:
    missing = run(seq_hooks("run", "--", "no-such-command-xyz"))
    assert missing.returncode == 127
    assert "no-such-command-xyz: command not found" in missing.stderr
    script = isolated / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    denied = run(seq_hooks("run", "--", str(script)))
    assert denied.returncode == 126
    assert "not executable" in denied.stderr


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


def test_log_has_command_outcome_and_process_peaks(isolated: Path) -> None:
    log = isolated / "run.log"
    p = run(seq_hooks("run", "--log", log, "--", "sh", "-c", "echo hello; sleep 0.3"))
    assert p.returncode == 0
    assert p.stdout == "hello\n"
    text = log.read_text()
    assert "# command: sh -c 'echo hello; sleep 0.3'" in text
    assert "hello\n" in text
    assert "# exit: 0 (exit)" in text
    assert "sleep 0.3" in text.split("# processes")[1]


def test_output_streams_live(isolated: Path) -> None:
    gate = isolated / "gate"
    proc = subprocess.Popen(
        seq_hooks("run", "--", "sh", "-c", f"echo first; while [ ! -e {gate} ]; do sleep 0.01; done; echo second"),
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "first\n"  # arrives while the command still waits for the gate
        gate.touch()
        assert proc.stdout.readline() == "second\n"
        assert proc.wait(20) == 0
    finally:
        reap(proc)


def test_timeout_kills_whole_tree_with_124(isolated: Path) -> None:
    pidfile = isolated / "daemon.pid"
    start = time.monotonic()
    p = run(seq_hooks("run", "--timeout", "1", "--", "sh", "-c",
                      f"{' '.join(fixture('daemon.py', pidfile, 60))}; sleep 60"))
    elapsed = time.monotonic() - start
    assert p.returncode == 124
    assert "timed out after 1s" in p.stderr
    assert 0.9 < elapsed < 5
    assert not alive(int(pidfile.read_text()))


def test_setsid_daemon_is_waited_for_without_timeout(isolated: Path) -> None:
    pidfile = isolated / "daemon.pid"
    start = time.monotonic()
    p = run(seq_hooks("run", "--timeout", "0", "--", *fixture("daemon.py", pidfile, 1.5)))
    assert p.returncode == 0
    assert time.monotonic() - start >= 1.4  # the daemon's life, though its parent exited at once
    assert not alive(int(pidfile.read_text()))


def test_term_ignoring_child_is_killed_after_kill_after(isolated: Path) -> None:
    pidfile = isolated / "stubborn.pid"
    start = time.monotonic()
    p = run(seq_hooks("run", "--timeout", "0.5", "--kill-after", "0.5", "--", *fixture("ignore_term.py", pidfile)))
    elapsed = time.monotonic() - start
    assert p.returncode == 124
    assert 0.9 < elapsed < 5
    assert not alive(int(pidfile.read_text()))
    log = Path(json.loads(run(seq_hooks("history", "--json", "-n", "1")).stdout)["runs"][0]["log"]).read_text()
    term, kill = log.index("timeout: SIGTERM (and SIGCONT)"), log.index("timeout: SIGKILL")
    assert term < kill and "SIGKILL in 0.5s if any is left" in log  # each escalation step is in the log


def test_kill_signal_is_configurable(isolated: Path) -> None:
    p = run(seq_hooks("run", "--json", "--timeout", "0.3", "--kill-signal", "INT", "--", "sleep", "30"))
    assert p.returncode == 124
    assert json.loads(p.stdout)["reason"] == "timeout"


def test_memory_limit_kills_400mb_under_100mb_with_137(isolated: Path) -> None:
    p = run(seq_hooks("run", "--json", "--memory-limit", "100", "--", *fixture("eat_memory.py", 400, 1000, 5)))
    assert p.returncode == 137
    record = json.loads(p.stdout)
    assert record["reason"] == "memory"
    assert "memory limit 100 MB exceeded" in record["message"]
    assert record["peak_rss_mb"] < 130  # killed on the way up, not after reaching 400


def test_process_limit_kills_with_137(isolated: Path) -> None:
    p = run(seq_hooks("run", "--max-procs", "3", "--", "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 30 & done; wait"))
    assert p.returncode == 137
    assert "process limit 3 exceeded" in p.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_to_seq_hooks_stops_the_tree(isolated: Path, sig: int, code: int) -> None:
    pidfile = isolated / "child.pid"
    proc = subprocess.Popen(seq_hooks("run", "--", *fixture("pidfile.py", pidfile, 60)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        child = int(wait_for_file(pidfile))
        proc.send_signal(sig)
        assert proc.wait(20) == code
        assert not alive(child)
    finally:
        reap(proc)


def test_guides_env_names_are_honoured(isolated: Path) -> None:
    env = {**os.environ, "TIMEOUT": "1"}
    start = time.monotonic()
    assert run(seq_hooks("run", "--", "sleep", "30"), env=env).returncode == 124
    assert time.monotonic() - start < 5
    env = {**os.environ, "MEMORY_LIMIT_MB": "100"}
    assert run(seq_hooks("run", "--", *fixture("eat_memory.py", 400, 1000, 5)), env=env).returncode == 137
    env = {**os.environ, "MEMORY_LIMIT_MB": "100", "SEQ_HOOKS_MEMORY_LIMIT_MB": "0"}  # the prefixed name wins
    assert run(seq_hooks("run", "--", *fixture("eat_memory.py", 150, 1000)), env=env).returncode == 0


def test_retry_runs_again_after_failure(isolated: Path) -> None:
    counter = isolated / "count"
    script = f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ $n -ge 3 ]"
    p = run(seq_hooks("run", "--json", "--retry", "3", "--", "sh", "-c", script))
    assert p.returncode == 0
    assert json.loads(p.stdout)["attempts"] == 3
    assert run(seq_hooks("run", "--retry", "1", "--", "false")).returncode == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--timeout", "abc", "--", "true"], "--timeout takes a number"),
        (["--timeout", "-1", "--", "true"], "--timeout must not be negative"),
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


def test_state_dir_is_private_and_symlink_is_refused(isolated: Path) -> None:
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    state = isolated / ".git" / "seq-hooks"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    # a planted symlink in place of the state dir is refused, and nothing is written through it
    target = isolated.parent / "elsewhere"
    target.mkdir()
    for child in sorted(state.rglob("*"), reverse=True):
        child.unlink() if not child.is_dir() else child.rmdir()
    state.rmdir()
    state.symlink_to(target)
    p = run(seq_hooks("run", "--", "true"))
    assert p.returncode == 125
    assert "is a symlink" in p.stderr
    assert list(target.iterdir()) == []


def test_worktrees_share_one_state_dir(isolated: Path) -> None:
    from testing.util import git

    (isolated / "f").write_text("x")
    git(isolated, "add", "f")
    git(isolated, "commit", "-qm", "init")
    git(isolated, "worktree", "add", "-q", str(isolated.parent / "wt"))
    p = run(seq_hooks("run", "--json", "--", "true"), cwd=isolated.parent / "wt")
    assert json.loads(p.stdout)["log"].startswith(str(isolated / ".git" / "seq-hooks"))


def test_portable_fallback_still_kills_a_daemon(isolated: Path) -> None:
    pidfile = isolated / "daemon.pid"
    env = {**os.environ, "SEQ_HOOKS_PORTABLE": "1", "SEQ_HOOKS_NO_SUBREAPER": "1"}
    p = run(seq_hooks("run", "--timeout", "1", "--", "sh", "-c",
                      f"{' '.join(fixture('daemon.py', pidfile, 60))}; sleep 60"), env=env)
    assert p.returncode == 124
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(pid)


def test_pipeline_flag_bounds_the_run_by_pipeline_timeout() -> None:
    env = {**os.environ, "SEQ_HOOKS_PIPELINE_TIMEOUT": "0.5", "SEQ_HOOKS_TIMEOUT": "0"}
    t = time.monotonic()
    assert run(seq_hooks("run", "--pipeline", "--", "sleep", "30"), env=env).returncode == 124
    assert time.monotonic() - t < 5


PORTABLE = {"SEQ_HOOKS_PORTABLE": "1", "SEQ_HOOKS_NO_SUBREAPER": "1"}


def test_portable_fallback_enforces_memory_and_timeout_with_psutil(isolated: Path) -> None:
    env = {**os.environ, **PORTABLE}
    p = run(seq_hooks("run", "--json", "--memory-limit", "100", "--", *fixture("eat_memory.py", 400, 500, 5)), env=env)
    assert p.returncode == 137 and json.loads(p.stdout)["reason"] == "memory"
    pidfile = isolated / "stubborn.pid"
    p = run(seq_hooks("run", "--timeout", "0.5", "--kill-after", "0.5", "--", *fixture("ignore_term.py", pidfile)),
            env=env)
    assert p.returncode == 124
    assert not alive(int(pidfile.read_text()))


def test_portable_fallback_waits_for_a_daemon_by_its_token(isolated: Path) -> None:
    pidfile = isolated / "daemon.pid"
    start = time.monotonic()
    env = {**os.environ, **PORTABLE}
    p = run(seq_hooks("run", "--timeout", "0", "--", *fixture("daemon.py", pidfile, 1.5)), env=env)
    assert p.returncode == 0
    assert time.monotonic() - start >= 1.4  # without a subreaper, the token scan still finds and waits for it
    assert not alive(int(pidfile.read_text()))


def test_a_journal_that_cannot_be_written_does_not_change_the_result(isolated: Path) -> None:
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    journal_path = isolated / ".git" / "seq-hooks" / "journal.jsonl"
    journal_path.unlink()
    journal_path.mkdir()  # appending to it now fails
    p = run(seq_hooks("run", "--", "sh", "-c", "exit 3"))
    assert p.returncode == 3
    assert "could not write the journal" in p.stderr and "Traceback" not in p.stderr
