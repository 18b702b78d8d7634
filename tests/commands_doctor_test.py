from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from seq_hooks.commands import doctor
from testing.queue import STATE, finished_run, plant_ticket, start_with_token
from testing.util import alive, end_orphan, fixture, git, reap, run, seq_hooks, tickets, wait_for_file, wait_until


def doctor_run(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(seq_hooks("doctor"), env={**os.environ, **(env or {})})


def lines(out: str, topic: str) -> list[str]:
    return [line for line in out.splitlines() if f" {topic} " in line]


def test_fresh_repo_is_healthy(isolated: Path) -> None:
    p = doctor_run()
    assert p.returncode == 0, p.stdout
    assert p.stdout.startswith(f"seq-hooks doctor: {isolated}\n") and p.stdout.endswith("healthy\n")
    assert "does not exist yet" in p.stdout
    assert "git hook" in p.stdout and "not installed" in p.stdout  # information, not a failure
    memory = lines(p.stdout, "memory")[0]
    assert "2048 MB per unit" in memory and "enforced by sampling" in memory and "the machine offers" in memory
    assert not (isolated / STATE).exists()  # doctor changes nothing, not even by making the state dir


def test_finds_stale_ticket_and_leftover_process_but_spares_the_live_and_the_foreign(isolated: Path) -> None:
    gate = isolated / "gate"
    holder = subprocess.Popen(seq_hooks("run", "-q", "--", *fixture("gate.py", isolated / "h.pid", gate,
                                                                    isolated / "order", "holder")))
    planted: list[subprocess.Popen[bytes]] = []
    try:
        wait_for_file(isolated / "h.pid")
        qdir = isolated / STATE / "locks" / "default"
        stale = plant_ticket(qdir, 99, ["python", "crashed.py"], os.urandom(8).hex(), granted=False)
        ended = os.urandom(8).hex()
        finished_run(isolated, ended)
        planted.append(start_with_token(isolated, "leftover", ended))
        planted.append(start_with_token(isolated, "foreign", os.urandom(8).hex()))  # another project's run
        p = doctor_run()
        assert p.returncode == 1, p.stdout
        [ticket] = lines(p.stdout, "stale ticket")
        assert f"lock default: {stale.name}" in ticket and "crashed.py" in ticket and "PROBLEM" in ticket
        [left] = lines(p.stdout, "leftover processes")
        assert f"run {ended[:12]}" in left and f"pid {planted[0].pid} " in left and "in the journal" in left
        assert str(planted[1].pid) not in p.stdout and str(holder.pid) not in p.stdout
        assert p.stdout.count("fix: seq-hooks clean") == 2
        assert p.stdout.endswith("2 problems found\n")
        assert all(alive(x.pid) for x in planted) and stale.exists()  # it reports; clean acts
        gate.touch()
        assert holder.wait(30) == 0
        assert tickets(qdir) == [stale]
    finally:
        gate.touch()
        for x in [holder, *planted]:
            reap(x)


def test_finds_what_a_killed_runner_left(isolated: Path) -> None:
    runner = subprocess.Popen(seq_hooks("run", "-q", "--", *fixture("pidfile.py", isolated / "child.pid", 60)))
    child = int(wait_for_file(isolated / "child.pid"))
    try:
        runner.send_signal(signal.SIGKILL)  # the runner dies holding the lock; its command runs on
        runner.wait(10)
        wait_until(lambda: not alive(runner.pid), what="the runner to be gone")
        assert alive(child)
        p = doctor_run()
        assert p.returncode == 1
        assert "died while holding the lock" in lines(p.stdout, "stale ticket")[0]
        [left] = lines(p.stdout, "leftover processes")
        assert f"pid {child} " in left and "its runner died (ticket default/" in left
    finally:
        reap(runner)
        end_orphan(child)


def test_a_live_no_lock_run_is_left_alone(isolated: Path) -> None:
    runner = subprocess.Popen(seq_hooks("run", "-q", "--no-lock", "--", *fixture("pidfile.py", isolated / "c.pid", 60)))
    try:
        child = int(wait_for_file(isolated / "c.pid"))
        p = doctor_run()
        assert p.returncode == 0, p.stdout
        [info] = lines(p.stdout, "unknown run")
        assert f"pid {child} " in info and f"live pid {runner.pid}" in info and "left alone" in info
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(20)
        reap(runner)


def test_configuration_errors_and_state_dir_mode(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\ntimeout = 10\nbogus = 1\n")
    p = doctor_run()
    assert p.returncode == 1
    [cfg] = lines(p.stdout, "configuration")
    assert "unknown key 'bogus'" in cfg and "PROBLEM" in cfg
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\ntimeout = 10\n")
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    (isolated / STATE).chmod(0o755)
    p = doctor_run()
    assert p.returncode == 1
    assert f"{isolated / 'pyproject.toml'}: [tool.seq-hooks] parses" in lines(p.stdout, "configuration")[0]
    [state] = lines(p.stdout, "state dir")
    assert "mode 0755: others can read" in state
    assert f"fix: chmod 700 {isolated / STATE}" in p.stdout
    (isolated / STATE).chmod(0o700)
    p = doctor_run()
    assert p.returncode == 0 and "yours, mode 0700" in p.stdout
    assert "1 run logs" in lines(p.stdout, "logs")[0]


def test_state_dir_override_must_be_absolute(isolated: Path) -> None:
    p = doctor_run({"SEQ_HOOKS_HOME": "relative/state"})
    assert p.returncode == 1
    assert "SEQ_HOOKS_HOME must be an absolute path, got 'relative/state'" in lines(p.stdout, "state dir")[0]


def test_git_hook_installed_or_not(isolated: Path) -> None:
    assert "not installed" in lines(doctor_run().stdout, "git hook")[0]
    assert run(seq_hooks("install-git-hook")).returncode == 0
    p = doctor_run()
    assert p.returncode == 0
    assert "pre-commit: ours, in " in lines(p.stdout, "git hook")[0]
    hook = isolated / ".git" / "hooks" / "pre-commit"
    hook.chmod(0o644)
    p = doctor_run()
    assert p.returncode == 1 and "is ours but not executable" in lines(p.stdout, "git hook")[0]
    hook.chmod(0o755)
    elsewhere = isolated / "my-hooks"
    git(isolated, "config", "core.hooksPath", "my-hooks")
    p = doctor_run()
    assert f"not installed in {elsewhere} (core.hooksPath my-hooks)" in lines(p.stdout, "git hook")[0]


CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: tests
        name: tests
        entry: uv run pytest -x
        language: system
        types: [python]
      - id: types
        name: types
        entry: mypy
        language: system
        require_serial: true
      - id: wrapped
        name: wrapped
        entry: seq-hooks run -- pylint
        language: system
"""


def test_pre_commit_hooks_that_fan_out(isolated: Path) -> None:
    (isolated / ".pre-commit-config.yaml").write_text(CONFIG)
    p = doctor_run()
    assert p.returncode == 1
    found = lines(p.stdout, "pre-commit")
    assert "local hook 'tests' fans out" in found[0] and "`uv`" in found[0]
    assert "fix: add `require_serial: true` to it in .pre-commit-config.yaml, or use seq-hooks' atomic-pytest" \
           in p.stdout
    assert "parsed with PyYAML" in found[-1]
    assert not [f for f in found if "'types'" in f or "'wrapped'" in f]
    (isolated / ".pre-commit-config.yaml").write_text(CONFIG.replace("types: [python]", "require_serial: true"))
    p = doctor_run()
    assert p.returncode == 0
    assert "no heavy hook fans out (3 run serially; parsed with PyYAML)" in lines(p.stdout, "pre-commit")[0]


def test_pre_commit_without_pyyaml_reads_text(isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (isolated / ".pre-commit-config.yaml").write_text(CONFIG)
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    assert doctor.main([]) == 1
    found = lines(capsys.readouterr().out, "pre-commit")
    assert "local hook 'tests' fans out" in found[0]
    assert "PyYAML is not installed: read as text, best effort" in found[-1]


def test_remote_hook_manifest_from_pre_commit_cache(isolated: Path, tmp_path: Path) -> None:
    hooks = tmp_path / "hook-repo"
    hooks.mkdir()
    git(hooks, "init", "-q", "-b", "main")
    (hooks / ".pre-commit-hooks.yaml").write_text(
        "- id: slow-types\n  name: slow types\n  entry: mypy\n  language: system\n"
        "- id: tidy\n  name: tidy\n  entry: echo\n  language: system\n"
        "- id: careful\n  name: careful\n  entry: pytest\n  language: system\n  require_serial: true\n")
    git(hooks, "add", ".")
    git(hooks, "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "hooks")
    rev = git(hooks, "rev-parse", "HEAD").stdout.strip()
    (isolated / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: slow-types\n      - id: tidy\n"
        "      - id: careful\n")
    p = doctor_run()
    assert "not checked (hook repo not in pre-commit's cache" in p.stdout
    installed = run([sys.executable, "-m", "pre_commit", "install-hooks"], cwd=isolated)
    assert installed.returncode == 0, installed.stderr
    p = doctor_run()
    assert p.returncode == 1
    found = lines(p.stdout, "pre-commit")
    assert f"hook from {hooks} 'slow-types' fans out" in found[0]
    assert "light hooks that fan out over the CPUs: tidy" in p.stdout
    assert "careful" not in p.stdout


def test_the_guides_environment_variables(isolated: Path) -> None:
    p = doctor_run({"TIMEOUT": "600", "CHECK_INTERVAL": "5", "MEMORY_LIMIT_MB": "1024"})
    assert p.returncode == 0
    env = lines(p.stdout, "environment")
    assert any("TIMEOUT=600 (the guides' name, honoured as a fallback) -> timeout = 600" in e for e in env)
    assert any("CHECK_INTERVAL=5" in e and "at least every 0.25 s" in e for e in env)
    assert any("MEMORY_LIMIT_MB=1024" in e and "whole process tree" in e for e in env)
    assert "1024 MB per unit" in lines(p.stdout, "memory")[0]
    p = doctor_run({"TIMEOUT": "600", "SEQ_HOOKS_TIMEOUT": "60"})
    assert "TIMEOUT=600 is ignored: SEQ_HOOKS_TIMEOUT wins" in p.stdout
    p = doctor_run({"PIPELINE_TIMEOUT": "soon"})
    assert p.returncode == 1
    assert "environment variable PIPELINE_TIMEOUT must be a number, got 'soon'" in p.stdout
    (isolated / ".env.development").write_text("# from the guide\nMEMORY_LIMIT_MB=2048\nCHECK_INTERVAL=5\nOTHER=1\n")
    p = doctor_run()
    assert ".env.development sets MEMORY_LIMIT_MB, CHECK_INTERVAL: seq-hooks reads the environment" in p.stdout
