"""Randomized trials: a committer's stash (`seq-hooks run --stash` around a hook, as the git hook
runs pre-commit) and another writer saving at random moments, with or without unstaged edits, with a
fixing or a plain hook. Nothing the other writer saved is lost, and neither are the committer's
unstaged edits.

The default run makes 20 trials (a few seconds); SHAREDTREE_TRIALS=100 makes the long variant:
    SHAREDTREE_TRIALS=100 .venv/bin/python -m pytest -q -p no:randomly
    tests/sharedtree_trials_test.py
"""
from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

from testing.sharedtree import Scene, assert_nothing_lost
from testing.util import git

TRIALS = int(os.environ.get("SHAREDTREE_TRIALS", "20"))
WINDOW = 0.25  # seconds over which the go and the saves are spread


def _trial(template: Scene, base: Path, rng: random.Random, seed: int) -> None:
    scene = template.copy(base)
    repo = scene.repo
    unstaged = rng.random() < 0.8
    if not unstaged:  # only staged changes: nothing to stash
        git(repo, "add", *scene.mine)
        scene.mine = {}
    fixing = rng.random() < 0.5
    env = scene.env(dict(os.environ), fix="fixme.txt" if fixing else None)
    targets = rng.sample(["untouched.txt", "stashed.txt"], rng.randint(1, 2))
    saves: list[tuple[str, str]] = []

    def writer() -> None:
        for name in targets:
            time.sleep(rng.uniform(0, WINDOW))
            text = (repo / name).read_text() + f"the other writer's save at {time.monotonic()}\n"
            (repo / name).write_text(text)
            saves.append((name, text))

    proc = scene.run_stash(env)
    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(rng.uniform(0, WINDOW))
    scene.go()
    output = proc.communicate(timeout=60)[0]
    thread.join(60)
    # the committer's edits are lost to nobody when the other writer read them and saved on top of
    # them
    carried = {
        name for name, text in saves if name in scene.mine and text.startswith(scene.mine[name])
    }
    mine = [(name, text) for name, text in scene.mine.items() if name not in carried]
    note = (
        f"(seed {seed}, trial {base.name}: unstaged={unstaged}, fixing={fixing}, targets={targets})"
    )
    assert proc.returncode in (0, 1), output + note
    assert_nothing_lost(repo, output + note, [*mine, *saves])


def test_randomized_trials_lose_nothing(isolated: Path) -> None:
    seed = int(os.environ.get("SHAREDTREE_SEED", str(time.time_ns())))
    rng = random.Random(seed)
    template = Scene(isolated)
    for i in range(TRIALS):
        _trial(template, isolated.parent / f"trial-{i}", rng, seed)
