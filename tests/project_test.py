from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from seq_hooks import project
from seq_hooks.errors import FatalError
from testing.util import git


def test_finds_the_repository_from_a_subdirectory(isolated: Path) -> None:
    sub = isolated / "a" / "b"
    sub.mkdir(parents=True)
    p = project.find(str(sub))
    assert p.root == str(isolated) and p.common_dir == str(isolated / ".git")


def test_a_linked_worktree_shares_the_common_dir(isolated: Path) -> None:
    (isolated / "f").write_text("x")
    git(isolated, "add", "f")
    git(isolated, "commit", "-qm", "init")
    wt = isolated.parent / "wt"
    git(isolated, "worktree", "add", "-q", str(wt))
    p = project.find(str(wt))
    assert p.root == str(wt) and p.common_dir == str(isolated / ".git")
    assert p.git_dir is not None and p.git_dir != p.common_dir
    expected = git(wt, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
    assert p.common_dir == os.path.realpath(expected)


def test_outside_git_state_is_in_xdg_keyed_by_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    p = project.find(str(plain))
    assert p.common_dir is None
    state = project.state_dir(p)
    assert state.startswith(str(tmp_path / "xdg" / "seq-hooks" / "dirs" / "plain-"))
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert project.state_dir(project.find(str(tmp_path))) != state


def test_seq_hooks_home_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQ_HOOKS_HOME", str(tmp_path / "mine"))
    assert project.state_dir(project.find()) == str(tmp_path / "mine")


def test_an_open_state_dir_is_made_private_and_a_foreign_one_refused(isolated: Path) -> None:
    state = isolated / ".git" / "seq-hooks"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    project.state_dir(project.find())
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    (isolated / "file").write_text("")
    with pytest.raises(FatalError, match="not a directory"):
        project.ensure_private_dir(str(isolated / "file"))


def test_open_private_does_not_follow_a_planted_symlink(isolated: Path) -> None:
    target = isolated / "target"
    target.write_text("keep")
    link = isolated / "journal.jsonl"
    link.symlink_to(target)
    with pytest.raises(FatalError, match="cannot open"):
        project.open_private(str(link))
    assert target.read_text() == "keep"
