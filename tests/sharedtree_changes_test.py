from __future__ import annotations

import os
from pathlib import Path

from seq_hooks.sharedtree import changes
from testing.util import git


def _base(repo: Path) -> None:
    for name, text in (
        ("m.txt", "m\n"),
        ("d.txt", "d\n"),
        ("u.txt", "u\n"),
        ("same.txt", "same\n"),
    ):
        (repo / name).write_text(text)
    (repo / "l").symlink_to("m.txt")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base", "--no-verify")


def test_unstaged_names_modified_deleted_and_typechanged_files_not_intent_to_add(
    isolated: Path,
) -> None:
    _base(isolated)
    (isolated / "m.txt").write_text("m\nedit\n")
    (isolated / "d.txt").unlink()
    (isolated / "l").unlink()
    (isolated / "l").write_text("now a file\n")
    (isolated / "new.txt").write_text("new\n")
    git(isolated, "add", "-N", "new.txt")
    found = changes.unstaged(str(isolated), os.environ)
    assert not found.blocked
    assert sorted(c.path for c in found.changes) == [b"d.txt", b"l", b"m.txt"]
    link = next(c for c in found.changes if c.path == b"l")
    assert link.index_mode == "120000"




def test_nothing_to_stash_where_pre_commit_refuses_by_itself(isolated: Path) -> None:
    """An unstaged .pre-commit-config.yaml, or unmerged paths: pre-commit says so before it would
    stash."""
    _base(isolated)
    (isolated / "m.txt").write_text("m\nedit\n")
    assert [c.path for c in changes.to_stash(str(isolated), os.environ)] == [b"m.txt"]
    (isolated / ".pre-commit-config.yaml").write_text("repos: []\n")
    git(isolated, "add", ".pre-commit-config.yaml")
    (isolated / ".pre-commit-config.yaml").write_text("repos: []\n# edited\n")
    assert changes.to_stash(str(isolated), os.environ) == []
