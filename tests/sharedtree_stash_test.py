"""A commit's stash with another writer in the tree: through a real `git commit`, pre-commit and the seq-hooks git
hook, the other writer saves at a controlled instant; nothing anyone saved is lost."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from testing.sharedtree import Scene, assert_nothing_lost
from testing.util import PY, run, seq_hooks

BIN = Path(sys.executable).parent

WRITER = "the other writer's save\n"


def _save(path: Path, line: str = WRITER) -> str:
    """The other writer reads the file as it is now, adds a line, saves it (by rewriting it in place, as many
    tools do): what it saved."""
    text = path.read_text() + line
    path.write_text(text)
    return text


@pytest.mark.parametrize("target", ["untouched.txt", "stashed.txt"])
@pytest.mark.parametrize("hook", ["fixing", "plain"])
@pytest.mark.parametrize("instant", ["before", "hooks", "restore"])
def test_another_writers_save_during_a_commit_is_never_lost(isolated: Path, instant: str, hook: str,
                                                             target: str) -> None:
    scene = Scene(isolated)
    scene.pre_commit_config()
    assert run(seq_hooks("install-git-hook")).returncode == 0
    saves = list(scene.mine.items())
    path = isolated / target
    if instant == "before":  # saved before the commit: the commit stashes it too
        first = _save(path, "the other writer's first save\n")
        saves = [(p, t) for p, t in saves if p != target] + [(target, first)]
    commit = scene.commit(scene.env(dict(os.environ), fix="fixme.txt" if hook == "fixing" else None))
    scene.ready()
    if instant in ("before", "hooks"):  # while the hooks run, what it reads is the index version
        saves.append((target, _save(path)))
        scene.go()
    else:  # the moment the hooks are done: the commit puts the tree back
        scene.go()
        scene.done()
        saves.append((target, _save(path)))
    output = commit.communicate(timeout=120)[0]
    if hook == "fixing":
        assert commit.returncode == 1, output  # a hook that modifies files still fails the commit
    assert_nothing_lost(isolated, output, saves)


@pytest.mark.parametrize("installer", ["pre-commit", "prek"])
@pytest.mark.parametrize("target", ["untouched.txt", "stashed.txt"])
def test_through_pre_commits_or_preks_own_installed_hook(isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                                         installer: str, target: str) -> None:
    """`pre-commit install` (or `prek install`) first, then `seq-hooks install-git-hook`: the kept hook is their
    script, the chain still stashes first."""
    monkeypatch.setenv("PREK_HOME", str(isolated.parent / "prek-home"))
    scene = Scene(isolated)
    scene.pre_commit_config()
    tool = [PY, "-m", "pre_commit"] if installer == "pre-commit" else [str(BIN / "prek")]
    installed = run([*tool, "install"], cwd=isolated)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert run(seq_hooks("install-git-hook")).returncode == 0
    assert (isolated / ".git/hooks/pre-commit.seq-hooks-orig").exists()
    commit = scene.commit(scene.env(dict(os.environ), fix="fixme.txt"))
    scene.ready()
    saves = [*scene.mine.items(), (target, _save(isolated / target))]
    scene.go()
    output = commit.communicate(timeout=120)[0]
    assert commit.returncode == 1, output
    assert "hold" in output
    assert_nothing_lost(isolated, output, saves)
