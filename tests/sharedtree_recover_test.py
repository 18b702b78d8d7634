"""A commit killed (SIGKILL) while it has the tree stashed: the next seq-hooks command ends what is
left of it and puts back what nobody saved since, or keeps it under a ref and says so."""
from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from seq_hooks.process import proctree
from seq_hooks.sharedtree import record
from testing.sharedtree import Scene, assert_nothing_lost, status
from testing.util import git, run, seq_hooks, wait_until

WRITER = "the other writer's save\n"


def _holder_pid(repo: Path) -> int:
    """The pid in the commit's stash record: the process that holds the stash (pre-commit, in the
    git hook's chain; its parent is the seq-hooks run that holds the lock)."""
    folder = repo / ".git" / "seq-hooks" / record.DIR
    wait_until(lambda: any(folder.glob("*.json")), what="the stash record")
    return int(json.loads(next(folder.glob("*.json")).read_text())["pid"])


def _kill(holder: int, what: str) -> None:
    """SIGKILL to the stash's holder (pre-commit), to the seq-hooks run above it, or to the run and
    every process under it (power loss, a closed terminal)."""
    info = proctree.info(holder)
    runner = info.ppid if info is not None else holder
    targets = {
        "holder": [holder],
        "runner": [runner],
        "tree": [runner, *proctree.descendants(runner)],
    }[what]
    for target in targets:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it had finished: the commit ended by itself


@pytest.mark.parametrize("trial", range(2))
@pytest.mark.parametrize("moment", ["after-stash", "hooks", "restore"])
@pytest.mark.parametrize("what", ["holder", "runner", "tree"])
def test_a_killed_commits_stash_is_put_back_by_the_next_command(
    isolated: Path, what: str, moment: str, trial: int
) -> None:
    """pre-commit killed (its hook lives on: the run puts the stash back when the tree has ended),
    the run above it killed (pre-commit lives on and puts it back itself), or the whole tree (the
    next command puts it back)."""
    rng = random.Random(f"{what}-{moment}-{trial}")
    scene = Scene(isolated)
    scene.pre_commit_config()
    assert run(seq_hooks("install-git-hook")).returncode == 0
    saves = list(scene.mine.items())
    commit = scene.commit(scene.env(dict(os.environ), fix="fixme.txt" if trial else None))
    pid = _holder_pid(isolated)
    if moment == "after-stash":
        time.sleep(rng.uniform(0, 0.05))
    else:
        scene.ready()
        if trial:  # another writer saves a file the commit never touches and a stashed one
            for name in ("untouched.txt", "stashed.txt"):
                text = (isolated / name).read_text() + WRITER
                (isolated / name).write_text(text)
                saves.append((name, text))
        if moment == "restore":
            scene.go()
            scene.done()
            time.sleep(rng.uniform(0, 0.05))
    _kill(pid, what)
    if what != "tree":
        scene.go()  # what lives on finishes
    commit.wait(60)
    # the next command: ends the dead commit's leftovers, settles its stash
    after = status(isolated)
    assert after.returncode == 0, after.stderr
    output = commit.communicate(timeout=60)[0] + after.stderr
    assert_nothing_lost(isolated, output, saves)
    if moment != "restore" and what != "runner":
        assert "died with" in output
    assert not [
        line for line in status(isolated).stdout.splitlines() if line.startswith("stashed ")
    ]


def test_a_ref_lock_left_by_a_killed_settling_does_not_stop_the_next(isolated: Path) -> None:
    """A commit killed inside its own `git update-ref` leaves `<ref>.lock`: the next command removes
    ours (never another lock of the repository) and puts the files back."""
    from seq_hooks.sharedtree import changes, stash

    (isolated / "a.txt").write_text("a\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    (isolated / "a.txt").write_text("a\nunstaged\n")
    state = str(isolated / ".git" / "seq-hooks")
    s = stash.stash(
        str(isolated), state, "dead-token", os.environ, changes.to_stash(str(isolated), os.environ)
    )
    assert s is not None and (isolated / "a.txt").read_text() == "a\n"
    s.held.abandon()  # the commit dies here, with its record and its stash ref
    refs = isolated / ".git" / "refs" / "seq-hooks"
    (refs / "kept").mkdir(parents=True, exist_ok=True)
    for lock in (refs / "stash" / f"{s.name}.lock", refs / "kept" / f"{s.name}.lock"):
        lock.write_text("left by a killed git update-ref\n")
    after = status(isolated)
    assert after.returncode == 0 and "died with" in after.stderr, after.stderr
    assert (isolated / "a.txt").read_text() == "a\nunstaged\n"
    assert not git(isolated, "for-each-ref", "refs/seq-hooks/").stdout
    assert not list(refs.rglob("*.lock"))
