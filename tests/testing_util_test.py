"""The tests' own helpers: the leak check finds a process a test left behind with its mark
removed."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from testing.util import processes_in, reap


@pytest.mark.parametrize("where", ["cwd", "argv"])
def test_a_process_without_the_mark_is_found_by_the_temp_dir(tmp_path: Path, where: str) -> None:
    """What a test starts under a cleaned environment (the demo strips SEQ_HOOKS_*) is still its
    own: found by its working directory or a path on its command line in the test's temp dir."""
    env = {k: v for k, v in os.environ.items() if k != "SEQ_HOOKS_TEST_SESSION"}
    inside = tmp_path / "deep" / "dir"
    inside.mkdir(parents=True)
    argv = ["sleep", "60"] if where == "cwd" else ["sh", "-c", "sleep 60", str(inside / "x.status")]
    proc = subprocess.Popen(argv, cwd=inside if where == "cwd" else "/", env=env)
    try:
        assert proc.pid in processes_in(tmp_path)
        assert proc.pid not in processes_in(tmp_path.with_name(tmp_path.name + "0"))  # a sibling's
    finally:
        reap(proc)
    assert proc.pid not in processes_in(tmp_path)
