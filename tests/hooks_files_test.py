"""Which files a hook run checks: pre-commit's as given; by hand, named or listed by git, by
identify type."""
from __future__ import annotations

from pathlib import Path

import pytest

from seq_hooks.errors import USAGE, FatalError
from seq_hooks.hooks import files
from testing.util import git


def write(repo: Path, name: str, text: str = "x = 1\n") -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_listed_files_are_tracked_and_untracked_but_not_ignored(isolated: Path) -> None:
    for name in ("a.py", "sub/b.py", "ignored.py", "notes.txt"):
        write(isolated, name)
    write(isolated, ".gitignore", "ignored.py\n")
    git(isolated, "add", "a.py")
    assert sorted(files.listed_files(str(isolated))) == [
        ".gitignore",
        "a.py",
        "notes.txt",
        "sub/b.py",
    ]
    assert files.listed_files(str(isolated), "sub") == ["sub/b.py"]


def test_matches_by_identify_tag(isolated: Path) -> None:
    write(isolated, "a.py")
    write(isolated, "s.pyi", "x: int\n")
    assert files.matches("a.py", ["python"]) and not files.matches("a.py", ["pyi"])
    assert files.matches("s.pyi", ["python", "pyi"])
    assert files.matches("anything-at-all", ["file"])
    assert not files.matches("gone.py", ["python"])


def test_select_by_hand_expands_directories_and_filters_by_type(isolated: Path) -> None:
    for name in ("a.py", "sub/b.py", "sub/c.txt", "d.txt"):
        write(isolated, name)
    root = str(isolated)
    assert sorted(files.select([], ["python"], root, under_pre_commit=False)) == [
        "a.py",
        "sub/b.py",
    ]
    assert files.select(["sub", "d.txt", "gone.py"], ["python"], root, under_pre_commit=False) == \
        ["sub/b.py", "gone.py"]  # a named file that is gone stays: its unit says it was skipped


def test_select_under_pre_commit_takes_the_files_as_given(isolated: Path) -> None:
    write(isolated, "d.txt")
    assert files.select(["d.txt"], ["python"], str(isolated), under_pre_commit=True) == ["d.txt"]


def test_outside_git_without_files_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(FatalError) as e:
        files.select([], ["python"], str(plain), under_pre_commit=False)
    assert e.value.code == USAGE and "not a git repository" in e.value.message
