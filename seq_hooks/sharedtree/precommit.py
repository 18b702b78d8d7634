"""pre-commit's `hook-impl` with its own stash left out: the git hook's chain, after `seq-hooks run --stash`.

The chain has put every file with unstaged edits at its index version before pre-commit starts. pre-commit then
looks for unstaged edits itself, a fraction of a second later (its start-up); a save another writer made in
between would make it stash that file its own way: `git checkout -- .` over the whole tree, and again after the
hooks when its patch no longer applies, wiping what was saved meanwhile (docs/design.md, "A shared working tree").
Run this way, pre-commit leaves such a save where it is (the hooks see it, as they see a save made while they
run). Everything else is pre-commit's own: the checks before its stash (unmerged paths, an unstaged
configuration), intent-to-add files, the legacy hook, the hooks.

    PYTHON -m seq_hooks.sharedtree.precommit hook-impl ARGS...   (an interpreter that has pre-commit)
"""
from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def _left_alone(_patch_dir: str) -> Iterator[None]:
    yield


def main(argv: list[str]) -> int:
    # pre-commit is untyped and not our dependency: imported by name, only in its own interpreter
    stash = importlib.import_module("pre_commit.staged_files_only")
    if hasattr(stash, "_unstaged_changes_cleared"):  # pre-commit 2.x to 4.x; otherwise its own stash stays
        setattr(stash, "_unstaged_changes_cleared", _left_alone)  # noqa: B010 (a module mypy cannot see)
    return int(importlib.import_module("pre_commit.main").main(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
