from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks import config
from seq_hooks.daemons import DIR as daemons_dir
from seq_hooks.daemons import tend
from seq_hooks.process import proctree
from testing.util import alive, git_repo, processes_in

_CLEARED = (
    "SEQ_HOOKS_HOME",
    "SEQ_HOOKS_HOLDER",
    "SEQ_HOOKS_RUN",
    "SEQ_HOOKS_DEADLINE",
    "SEQ_HOOKS_TIMEOUT",
    "SEQ_HOOKS_MEMORY_LIMIT_MB",
    "SEQ_HOOKS_MAX_WAIT",
    "SEQ_HOOKS_MAX_PROCS",
    "SEQ_HOOKS_PIPELINE_TIMEOUT",
    "SEQ_HOOKS_KILL_AFTER",
    "SEQ_HOOKS_PYTHON",
    "TIMEOUT",
    "MEMORY_LIMIT_MB",
    "PIPELINE_TIMEOUT",
    "CHECK_INTERVAL",
    "XDG_STATE_HOME",
    "GIT_DIR",
    "GIT_INDEX_FILE",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "PRE_COMMIT",
    "SEQ_HOOKS_PORTABLE",
    "SEQ_HOOKS_NO_SUBREAPER",
    "SEQ_HOOKS_SLOTS",
    "SEQ_HOOKS_MEMORY_BUDGET_MB",
    # every variable settings come from
    *(name for names in config.ENV_NAMES.values() for name in names),
)


def _ours(tmp_path: Path) -> list[int]:
    """Live processes that carry this test session's mark, or run in or from the test's temp dir:
    everything the test started, at any depth, also under an environment cleaned of the mark."""
    mark = str(os.getpid())
    marked = [
        p.pid
        for p in proctree.processes()
        if p.env("SEQ_HOOKS_TEST_SESSION") == mark and alive(p.pid)
    ]
    return sorted({*marked, *processes_in(tmp_path)})


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test runs in a fresh git repository, with a private HOME that must stay empty, no
    inherited seq-hooks settings, and no process left behind."""
    home = tmp_path / "home"
    home.mkdir()
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SEQ_HOOKS_TEST_SESSION", str(os.getpid()))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.invalid")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path.parent / "pre-commit-cache"))
    repo = git_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    yield repo
    for daemons in {p.parent for p in tmp_path.rglob(f"{daemons_dir}/*.json")}:
        tend.stop_all(str(daemons.parent))  # atomic-mypy's daemons: by the pid in their records
    deadline = time.monotonic() + 5
    while (left := _ours(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.02)
    named = [f"{pid} {proctree.cmdline(pid)[:200]}" for pid in left]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, "the test left processes behind:\n" + "\n".join(named)
    written = [str(p.relative_to(home)) for p in home.rglob("*")]
    assert not written, f"the test wrote to $HOME: {written}"


@pytest.fixture
def one_at_a_time(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`slots = 1`: the plain lock, one unit at a time, for what every seq-hooks the test starts
    does. The default is a slot per CPU; a test of waiting behind a holder, of arrival order or of
    units that never overlap means one at a time, and says so with this fixture."""
    monkeypatch.setenv("SEQ_HOOKS_SLOTS", "1")
