from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seq_hooks import runner
from seq_hooks.config import HookSettings, Settings
from seq_hooks.process.supervisor import Limits
from testing.util import alive, fixture, reap, run, seq_hooks, wait_for_file


def test_exit_status_is_the_commands_own(isolated: Path) -> None:
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    assert run(seq_hooks("run", "--", "sh", "-c", "exit 3")).returncode == 3


def test_death_by_signal_is_128_plus_n() -> None:
    assert (
        run(seq_hooks("run", "--", "sh", "-c", "kill -USR1 $$")).returncode == 128 + signal.SIGUSR1
    )


def test_not_found_and_not_executable(isolated: Path) -> None:
    missing = run(seq_hooks("run", "--", "no-such-command-xyz"))
    assert missing.returncode == 127
    assert "no-such-command-xyz: command not found" in missing.stderr
    script = isolated / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    denied = run(seq_hooks("run", "--", str(script)))
    assert denied.returncode == 126
    assert "not executable" in denied.stderr


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
        seq_hooks(
            "run",
            "--",
            "sh",
            "-c",
            f"echo first; while [ ! -e {gate} ]; do sleep 0.01; done; echo second",
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        # arrives while the command still waits for the gate
        assert proc.stdout.readline() == "first\n"
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


def test_term_ignoring_child_is_killed_after_kill_after(isolated: Path) -> None:
    pidfile = isolated / "stubborn.pid"
    start = time.monotonic()
    p = run(
        seq_hooks(
            "run",
            "--timeout",
            "0.5",
            "--kill-after",
            "0.5",
            "--",
            *fixture("ignore_term.py", pidfile),
        )
    )
    elapsed = time.monotonic() - start
    assert p.returncode == 124
    assert 0.9 < elapsed < 5
    assert not alive(int(pidfile.read_text()))
    log = Path(
        json.loads(run(seq_hooks("history", "--json", "-n", "1")).stdout)["runs"][0]["log"]
    ).read_text()
    term, kill = log.index("timeout: SIGTERM (and SIGCONT)"), log.index("timeout: SIGKILL")
    # each escalation step is in the log
    assert term < kill and "SIGKILL in 0.5s if any is left" in log


def test_memory_limit_kills_400mb_under_100mb_with_137(isolated: Path) -> None:
    p = run(
        seq_hooks(
            "run", "--json", "--memory-limit", "100", "--", *fixture("eat_memory.py", 400, 1000, 5)
        )
    )
    assert p.returncode == 137
    record = json.loads(p.stdout)
    assert record["reason"] == "memory"
    assert "memory limit 100 MB exceeded" in record["message"]
    assert record["peak_rss_mb"] < 130  # killed on the way up, not after reaching 400


def test_process_limit_kills_with_137(isolated: Path) -> None:
    p = run(
        seq_hooks(
            "run",
            "--max-procs",
            "3",
            "--",
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6; do sleep 30 & done; wait",
        )
    )
    assert p.returncode == 137
    assert "process limit 3 exceeded" in p.stderr


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
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


def test_retry_runs_again_after_failure(isolated: Path) -> None:
    counter = isolated / "count"
    script = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; [ $n -ge 3 ]"
    )
    p = run(seq_hooks("run", "--json", "--retry", "3", "--", "sh", "-c", script))
    assert p.returncode == 0
    assert json.loads(p.stdout)["attempts"] == 3
    assert run(seq_hooks("run", "--retry", "1", "--", "false")).returncode == 1


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


PORTABLE = {"SEQ_HOOKS_PORTABLE": "1", "SEQ_HOOKS_NO_SUBREAPER": "1"}


def test_portable_fallback_enforces_memory_and_timeout_with_psutil(isolated: Path) -> None:
    env = {**os.environ, **PORTABLE}
    p = run(
        seq_hooks(
            "run", "--json", "--memory-limit", "100", "--", *fixture("eat_memory.py", 400, 500, 5)
        ),
        env=env,
    )
    assert p.returncode == 137 and json.loads(p.stdout)["reason"] == "memory"
    pidfile = isolated / "stubborn.pid"
    p = run(
        seq_hooks(
            "run",
            "--timeout",
            "0.5",
            "--kill-after",
            "0.5",
            "--",
            *fixture("ignore_term.py", pidfile),
        ),
        env=env,
    )
    assert p.returncode == 124
    assert not alive(int(pidfile.read_text()))


def test_portable_fallback_finds_a_daemon_by_its_token(isolated: Path) -> None:
    """Without a subreaper (psutil, no /proc), the token scan finds the daemon the command detached:
    it is ended after its grace, not left running and not waited for until the timeout."""
    pidfile = isolated / "daemon.pid"
    start = time.monotonic()
    env = {**os.environ, **PORTABLE}
    p = run(seq_hooks("run", "--timeout", "30", "--", *fixture("daemon.py", pidfile, 60)), env=env)
    assert p.returncode == 0
    assert time.monotonic() - start < 15
    assert not alive(int(pidfile.read_text()))


def test_a_journal_that_cannot_be_written_does_not_change_the_result(isolated: Path) -> None:
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    journal_path = isolated / ".git" / "seq-hooks" / "journal.jsonl"
    journal_path.unlink()
    journal_path.mkdir()  # appending to it now fails
    p = run(seq_hooks("run", "--", "sh", "-c", "exit 3"))
    assert p.returncode == 3
    assert "could not write the journal" in p.stderr and "Traceback" not in p.stderr


def test_limits_flags_beat_environment_beat_hook_beat_settings() -> None:
    hook = HookSettings(timeout=30.0, memory_limit_mb=300)
    s = Settings(timeout=60.0, memory_limit_mb=1000, kill_after=2.0, max_procs=5)
    assert runner.limits(s) == Limits(60.0, 2.0, signal.SIGTERM, 1000, 5, 0.25)
    assert runner.limits(s, hook)[:4] == (30.0, 2.0, signal.SIGTERM, 300)
    from_env = s._replace(timeout=10.0, from_env=frozenset({"timeout"}))
    assert runner.limits(from_env, hook)[:4] == (10.0, 2.0, signal.SIGTERM, 300)
    assert runner.limits(from_env, hook, timeout=1.0, memory_limit_mb=0, kill_signal=signal.SIGINT,
                         kill_after=0.5, max_procs=0) == Limits(1.0, 0.5, signal.SIGINT, 0, 0, 0.25)


@pytest.mark.parametrize(("interval", "gap"), [(5.0, 0.25), (0.1, 0.1), (0.0, 0.25)])
def test_the_sampling_gap_is_at_most_a_quarter_second(interval: float, gap: float) -> None:
    assert runner.limits(Settings(check_interval=interval)).check_interval == gap


def test_the_pipeline_deadline_cuts_the_timeout() -> None:
    limits = Limits(timeout=100.0)
    assert runner.within_deadline(limits, None) == limits
    assert runner.within_deadline(limits, time.time() - 1) is None
    cut = runner.within_deadline(limits, time.time() + 10)
    assert cut is not None and 9 < cut.timeout <= 10
    cut = runner.within_deadline(Limits(timeout=0.0), time.time() + 10)
    assert cut is not None and cut.timeout > 9  # "none" is cut too
    assert runner.within_deadline(Limits(timeout=5.0), time.time() + 10) == Limits(timeout=5.0)


def test_a_passed_pipeline_deadline_does_not_start_a_nested_command(isolated: Path) -> None:
    stamp = isolated / "ran"
    inner = (
        f"SEQ_HOOKS_DEADLINE={time.time() - 5:.3f} {sys.executable} -m seq_hooks run -- touch "
        f"{stamp}"
    )
    p = run(seq_hooks("run", "--", "sh", "-c", inner))
    assert p.returncode == 124
    assert "the pipeline deadline (pipeline_timeout) has passed: not starting" in p.stderr
    assert not stamp.exists()
    # outside a verified holder an inherited deadline is not trusted: the command runs
    env = {**os.environ, "SEQ_HOOKS_DEADLINE": f"{time.time() - 5:.3f}"}
    assert run(seq_hooks("run", "--", "touch", stamp), env=env).returncode == 0 and stamp.exists()


def test_names_that_are_not_utf8_run_like_any_other(isolated: Path) -> None:
    name = b"caf\xe9.txt"
    here = isolated / os.fsdecode(b"d\xe9")
    here.mkdir()
    (here / os.fsdecode(name)).write_bytes(b"x")
    cmd = [os.fsencode(a) for a in seq_hooks("run", "--json", "--")] + [b"ls", name]
    p = subprocess.run(cmd, cwd=os.fsencode(here), capture_output=True, check=False, timeout=60)
    assert p.returncode == 0, p.stderr
    record = json.loads(p.stdout)
    assert record["argv"] == ["ls", os.fsdecode(name)] and record["stdout"].startswith("caf")
    log = Path(record["log"]).read_bytes()
    assert b"# command: ls '" + name + b"'" in log and b"# cwd: " + os.fsencode(here) in log
    [last] = json.loads(run(seq_hooks("history", "--json", "-n", "1")).stdout)["runs"]
    assert (
        last["argv"] == ["ls", os.fsdecode(name)] and last["cwd"] == str(here) and last["exit"] == 0
    )
    # nested under a holder, with the lock (tickets), and through the Python API
    nested = [os.fsencode(a) for a in seq_hooks("run", "--", "sh", "-c")] + [
        b"exec " + " ".join(seq_hooks("run", "--", "ls")).encode() + b" " + name]
    assert (
        subprocess.run(
            nested, cwd=os.fsencode(here), capture_output=True, check=False, timeout=60
        ).returncode
        == 0
    )
    code = (f"import os, seq_hooks; os.chdir({os.fsencode(here)!r}); "
            f"print(seq_hooks.run(['ls', {os.fsdecode(name)!r}]).exit_code)")
    assert run([sys.executable, "-c", code]).stdout.strip() == "0"
