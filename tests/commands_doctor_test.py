from __future__ import annotations

import os
from pathlib import Path

from seq_hooks import project
from testing.doctor import doctor_run, lines
from testing.queue import STATE
from testing.util import run, seq_hooks


def test_fresh_repo_is_healthy(isolated: Path) -> None:
    p = doctor_run()
    assert p.returncode == 0, p.stdout
    assert p.stdout.startswith(f"seq-hooks doctor: {isolated}\n") and p.stdout.endswith("healthy\n")
    assert "does not exist yet" in p.stdout
    assert "git hook" in p.stdout and "not installed" in p.stdout  # information, not a failure
    memory = lines(p.stdout, "memory")[0]
    assert (
        "2048 MB per unit" in memory
        and "enforced by sampling" in memory
        and "the machine offers" in memory
    )
    # doctor changes nothing, not even by making the state dir
    assert not (isolated / STATE).exists()


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
    assert (
        f"{isolated / 'pyproject.toml'}: [tool.seq-hooks] parses"
        in lines(p.stdout, "configuration")[0]
    )
    [state] = lines(p.stdout, "state dir")
    assert "mode 0755: others can read" in state
    assert (
        f"fix: chmod 700 {isolated / STATE} (runs use it as it is: {project.KEEPS_WHAT_IT_FINDS})"
        in p.stdout
    )
    # what doctor says is what happens: it stays
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    assert (isolated / STATE).stat().st_mode & 0o777 == 0o755
    (isolated / STATE).chmod(0o700)
    p = doctor_run()
    assert p.returncode == 0 and "yours, mode 0700" in p.stdout
    assert "2 run logs" in lines(p.stdout, "logs")[0]


def test_state_dir_override_must_be_absolute(isolated: Path) -> None:
    p = doctor_run({"SEQ_HOOKS_HOME": "relative/state"})
    assert p.returncode == 1
    assert (
        "SEQ_HOOKS_HOME must be an absolute path, got 'relative/state'"
        in lines(p.stdout, "state dir")[0]
    )


def test_fifos_where_files_are_expected_hang_nothing(isolated: Path) -> None:
    for name in (
        ".pre-commit-config.yaml",
        ".env",
        ".env.development",
        "pytest.ini",
        "pyproject.toml",
    ):
        os.mkfifo(isolated / name)  # nobody writes to them: opening one to read would wait forever
    p = run(seq_hooks("doctor"), timeout=60)
    assert p.returncode == 1, p.stdout
    [config] = lines(p.stdout, "configuration")
    assert "pyproject.toml: not a regular file (a FIFO or a device is never read)" in config
    assert ".pre-commit-config.yaml: not a regular file" in lines(p.stdout, "pre-commit")[0]


def test_a_state_dir_others_may_write_is_refused_by_doctor_as_by_a_run(isolated: Path) -> None:
    """Doctor's sentence is the run's (project.refusal): it used to say "chmod 700 (the next run
    also does it)" and call the dir usable, while every run refused it."""
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    (isolated / STATE).chmod(0o777)
    p = run(seq_hooks("run", "--", "true"))
    assert p.returncode == 125
    why = p.stderr.removeprefix("seq-hooks run: ").strip()
    assert why.startswith("refusing the state directory") and project.KEEPS_WHAT_IT_FINDS in why
    p = doctor_run()
    assert p.returncode == 1
    assert f"{why}: every seq-hooks command refuses it" in lines(p.stdout, "state dir")[0]
    assert (isolated / STATE).stat().st_mode & 0o777 == 0o777
