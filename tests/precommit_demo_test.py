"""The demo (demo/run runs demo/demo.py in .venv): it must run start to end, show that no units
overlapped, and leave nothing running."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testing.util import processes_in

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_runs_and_cleans_up(tmp_path: Path) -> None:
    caches = tmp_path / "caches"
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "PIP_CACHE_DIR": str(caches / "pip"),
        "VIRTUALENV_OVERRIDE_APP_DATA": str(caches / "virtualenv"),
        "RUSTUP_HOME": str(caches / "rustup"),
        "CARGO_HOME": str(caches / "cargo"),
    }
    # as in a user's shell: Python writes __pycache__ in the project
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    p = subprocess.run([sys.executable, str(ROOT / "demo" / "demo.py")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "1. what happened (pre-commit exit 1)" in out
    assert "lint_me.py" in out and "format_me.py" in out
    assert "typed_wrong.py:1: error: Incompatible types in assignment" in out
    assert "FAILED tests/test_broken.py::test_add_is_wrong" in out
    assert out.count("Passed") >= 4  # the four runs at once all passed
    assert "20 units from 4 worktrees" in out
    assert "units over the slots: 0." in out
    assert "stopped the mypy daemon of" in out  # atomic-mypy's daemon, by `seq-hooks clean`
    assert not processes_in(tmp_path), "the demo left processes running"
    assert not list(tmp_path.glob("seq-hooks-demo-*"))  # the temp dir is gone
