"""atomic-mypy: mypy pointed at the project's interpreter, and an imported module's errors printed
once."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from seq_hooks.config import Settings
from seq_hooks.hooks import mypy as mypy_hook
from seq_hooks.hooks.atomic import Job
from testing.util import run
from tests.toolenv_test import bare_hook_env, exe, find, venv

BIN = Path(sys.executable).parent
__all__ = ["bare_hook_env"]  # the fixture, used by name


def hook(name: str, *args: object) -> list[str]:
    return [str(BIN / name), *(str(a) for a in args)]


def env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "PRE_COMMIT"}, **extra}


def write(repo: Path, name: str, text: str = "x = 1\n") -> Path:
    path = repo / name
    path.write_text(text, encoding="utf-8")
    return path


def test_mypy_from_elsewhere_is_pointed_at_the_projects_interpreter(
    isolated: Path, bare_hook_env: Path
) -> None:
    venv(isolated, ".venv")
    exe(bare_hook_env / "mypy")
    tool = find("mypy", isolated)
    job = Job([], Settings(), str(isolated), {}, ["--strict"])
    args = mypy_hook.adjust(job, tool)
    assert args == ["--strict", f"--python-executable={isolated / '.venv' / 'bin' / 'python'}"]
    # the user's own choice stays
    job = job._replace(tool_args=["--python-executable=/opt/py"])
    assert mypy_hook.adjust(job, tool) == ["--python-executable=/opt/py"]
    # mypy in the project's own venv already runs there: nothing to add
    exe(isolated / ".venv" / "bin" / "mypy")
    assert mypy_hook.adjust(job._replace(tool_args=[]), find("mypy", isolated)) == []


def test_mypy_shows_an_imported_modules_error_once(isolated: Path) -> None:
    write(isolated, "base.py", 'value: int = "one"\n')
    for name in ("a.py", "b.py", "c.py"):
        write(isolated, name, "import base\n\nx: int = base.value\n")
    p = run(
        hook("atomic-mypy", "--batch", "1", "base.py", "a.py", "b.py", "c.py"),
        env=env(PRE_COMMIT="1"),
    )
    assert p.returncode == 1
    assert p.stdout.count('base.py:1: error: Incompatible types in assignment') == 1
    assert p.stdout.count("(1 line shown above by an earlier unit)") == 3
    # each unit that saw the error failed, as mypy itself says
    assert "4 units (4 files): 0 passed, 4 failed" in p.stdout


def test_by_default_one_unit_names_the_file_that_failed(isolated: Path) -> None:
    write(isolated, "base.py", 'value: int = "one"\n')
    for name in ("a.py", "b.py", "c.py"):
        write(isolated, name, "import base\n\nx: int = base.value\n")
    p = run(hook("atomic-mypy", "a.py", "b.py", "base.py", "c.py"), env=env(PRE_COMMIT="1"))
    assert p.returncode == 1
    assert "1 unit (4 files): 0 passed, 1 failed" in p.stdout
    assert [line for line in p.stdout.splitlines() if ": failed: " in line] == [
        "atomic-mypy: failed: base.py: exit 1"
    ]
