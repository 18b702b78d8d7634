from __future__ import annotations

from pathlib import Path

from seq_hooks import config
from testing.doctor import doctor_run, lines


def test_the_guides_environment_variables(isolated: Path) -> None:
    p = doctor_run({"TIMEOUT": "600", "CHECK_INTERVAL": "5", "MEMORY_LIMIT_MB": "1024"})
    assert p.returncode == 0
    env = lines(p.stdout, "environment")
    assert any(
        "TIMEOUT=600 (the guides' name, honoured as a fallback) -> timeout = 600" in e for e in env
    )
    assert any(
        "CHECK_INTERVAL=5" in e and config.SETTINGS["check_interval"].meaning in e for e in env
    )
    assert any("MEMORY_LIMIT_MB=1024" in e and "whole process tree" in e for e in env)
    assert "1024 MB per unit" in lines(p.stdout, "memory")[0]
    p = doctor_run({"TIMEOUT": "600", "SEQ_HOOKS_TIMEOUT": "60"})
    assert "TIMEOUT=600 is ignored: SEQ_HOOKS_TIMEOUT wins" in p.stdout
    (isolated / ".env.development").write_text(
        "# from the guide\nMEMORY_LIMIT_MB=2048\nCHECK_INTERVAL=5\nOTHER=1\n"
    )
    p = doctor_run()
    assert (
        ".env.development sets MEMORY_LIMIT_MB=2048 -> memory_limit_mb (NOT in your environment); "
        "CHECK_INTERVAL=5 -> check_interval (NOT in your environment)"
    ) in p.stdout


def test_a_generic_name_that_does_not_parse_is_a_warning_not_a_problem(isolated: Path) -> None:
    p = doctor_run({"TIMEOUT": "30s"})
    assert p.returncode == 0, p.stdout
    [line] = lines(p.stdout, "environment")
    assert "warning" in line and "TIMEOUT=30s is ignored: it does not parse as timeout" in line
    assert "fix: set SEQ_HOOKS_TIMEOUT to configure seq-hooks" in p.stdout
    p = doctor_run({"SEQ_HOOKS_TIMEOUT": "30s"})  # our own name must be right
    assert p.returncode == 1 and "SEQ_HOOKS_TIMEOUT must be a number, got '30s'" in p.stdout


def test_the_universal_guides_names_are_explained(isolated: Path) -> None:
    p = doctor_run({"MAX_MEMORY_MB": "8192", "MAX_PROCESSES": "50", "VERBOSE": "1"})
    env = lines(p.stdout, "environment")
    assert any(
        "MAX_MEMORY_MB=8192 (the guides' name, honoured as a fallback) -> memory_limit_mb = 8192"
        in e
        for e in env
    )
    assert any(
        "MAX_PROCESSES=50 (the guides' name, honoured as a fallback) -> max_procs = 50: most live"
        in e
        for e in env
    )
    assert any("VERBOSE=1 (the guides' name, honoured as a fallback) -> verbose" in e for e in env)
    assert "8192 MB per unit" in lines(p.stdout, "memory")[0]
    p = doctor_run({"MAX_MEMORY_MB": "8192", "MEMORY_LIMIT_MB": "1024"})
    assert "MAX_MEMORY_MB=8192 is ignored: MEMORY_LIMIT_MB wins" in p.stdout


def test_env_files_are_listed_with_what_the_environment_has(isolated: Path) -> None:
    (isolated / ".env").write_text("MAX_MEMORY_MB=8192\nUNRELATED=1\n")
    (isolated / ".env.development").write_text(
        "# the universal guide\nexport MAX_PROCESSES=50         # 50 processes max\nexport "
        "TIMEOUT=1800\n"
    )
    p = doctor_run({"TIMEOUT": "1800"})
    assert p.returncode == 0
    env = lines(p.stdout, "environment")
    assert any(
        e.endswith(
            ".env sets MAX_MEMORY_MB=8192 -> memory_limit_mb (NOT in your environment). seq-hooks "
            "reads the environment, not this file"
        )
        for e in env
    )
    assert any(
        ".env.development sets MAX_PROCESSES=50 -> max_procs (NOT in your environment); "
        "TIMEOUT=1800 -> "
        "timeout (set here too)" in e
        for e in env
    )
    assert "fix: `set -a; . ./.env.development; set +a` in your shell" in p.stdout
