"""atomic-ruff and atomic-ruff-format: one shape; atomic-ruff fixes by default, by hand as under
pre-commit."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from seq_hooks.hooks import ruff, ruff_format
from testing.util import run

BIN = Path(sys.executable).parent


def env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "PRE_COMMIT"}, **extra}


def test_both_hooks_share_the_ruff_shape() -> None:
    assert ruff.SPEC.fixed_args == ("check", "--force-exclude")
    assert ruff_format.SPEC.fixed_args == ("format", "--force-exclude")
    assert ruff.SPEC._replace(hook_id="", fixed_args=(), summary="", default_args=()) == \
        ruff_format.SPEC._replace(hook_id="", fixed_args=(), summary="")


def test_by_hand_atomic_ruff_fixes_as_its_help_says(isolated: Path) -> None:
    help_text = run([str(BIN / "atomic-ruff"), "--help"], env=env()).stdout
    assert "Default args: --fix" in help_text
    (isolated / "fixme.py").write_text("import os\n\nx = 1\n")
    p = run([str(BIN / "atomic-ruff"), "fixme.py"], env=env())
    assert p.returncode == 0, p.stdout + p.stderr
    assert "import os" not in (isolated / "fixme.py").read_text()
    assert "1 passed after modifying files" in p.stdout


def test_no_fix_only_reports(isolated: Path) -> None:
    (isolated / "fixme.py").write_text("import os\n\nx = 1\n")
    for environment in (env(), env(PRE_COMMIT="1")):
        p = run([str(BIN / "atomic-ruff"), "--no-fix", "fixme.py"], env=environment)
        assert p.returncode == 1, p.stdout + p.stderr
        assert "F401" in p.stdout
        assert (isolated / "fixme.py").read_text() == "import os\n\nx = 1\n"


def test_ruff_format_formats(isolated: Path) -> None:
    (isolated / "f.py").write_text("x = {'a':1}\n")
    p = run([str(BIN / "atomic-ruff-format"), "f.py"], env=env(PRE_COMMIT="1"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert (isolated / "f.py").read_text() == 'x = {"a": 1}\n'
    assert "1 passed after modifying files" in p.stdout
