"""doctor's check for what still calls the guides' scripts: a warning while they exist, a problem
once gone."""
from __future__ import annotations

import shutil
from pathlib import Path

from seq_hooks.checks import OK, PROBLEM, WARNING, Scene
from seq_hooks.checks.guides import leftover_calls
from seq_hooks.config import Settings
from testing.util import FIXTURES


def scene(root: Path) -> Scene:
    return Scene(str(root), Settings(), None, "", None, False)


def test_a_call_is_a_warning_while_the_script_exists_and_a_problem_once_it_is_gone(
    isolated: Path,
) -> None:
    assert [f.level for f in leftover_calls(scene(isolated))] == [OK]
    shutil.copytree(FIXTURES / "guides" / "scripts", isolated / "scripts")
    (isolated / "Makefile").write_text("test:\n\t./scripts/safe-run.sh pytest\n")
    [found] = leftover_calls(scene(isolated))
    assert found.level == WARNING and found.text.startswith(
        "Makefile:2: ./scripts/safe-run.sh pytest (it works only"
    )
    assert found.fix == "seq-hooks migrate: seq-hooks run -- pytest"
    shutil.rmtree(isolated / "scripts")
    [found] = leftover_calls(scene(isolated))
    assert found.level == PROBLEM and "(scripts/safe-run.sh is gone: it fails)" in found.text
