from __future__ import annotations

from pathlib import Path

from testing.doctor import doctor_run, lines


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
