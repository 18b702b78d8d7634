from __future__ import annotations

import os
import time
from pathlib import Path

from seq_hooks.sharedtree import record, snapshot, view
from testing.util import git


def test_stashed_lists_live_and_dead_commits(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    held = record.create(
        state,
        "a",
        {
            "pid": 42,
            "since": time.time() - 2,
            "top": "/repo",
            "ref": "refs/x",
            "files": [{"path": "src/app.py"}, {"path": "README.md"}],
        },
    )
    [s] = view.stashed(state)
    assert (s.pid, s.top, s.files, s.live) == (42, "/repo", ["src/app.py", "README.md"], True)
    line = view.stashed_line(s)
    assert "pid 42" in line and "2 files at their index version: src/app.py, README.md" in line
    held.abandon()
    [s] = view.stashed(state)
    assert not s.live and "dead commit" in view.stashed_line(s)
    assert s.as_dict()["live"] is False


def test_kept_lists_kept_snapshots_with_their_files(isolated: Path) -> None:
    (isolated / "a.txt").write_text("a\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    tree = git(isolated, "write-tree").stdout.strip()
    snapshot.set_ref(str(isolated), os.environ, snapshot.KEPT_REFS + "20261203-1", tree)
    snapshot.set_ref(str(isolated), os.environ, snapshot.STASH_REFS + "20261203-2", tree)
    [k] = view.kept(str(isolated))
    assert k == view.Kept(snapshot.KEPT_REFS + "20261203-1", ["a.txt"])
    assert f"git show {k.ref}:PATH > PATH" in view.kept_line(k)
    assert view.kept(str(isolated.parent)) == []  # outside a repository: nothing, no error
