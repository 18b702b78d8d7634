"""pre-commit's `hook-impl` with the chain's stash in place of its own: the git hook's chain, when
the interpreter that installed it has pre-commit.

pre-commit stashes unstaged edits its own way: `git checkout -- .` over the whole tree, and again
after the hooks when its patch no longer applies, wiping what any other writer saved meanwhile
(docs/design.md, "A shared working tree"). Here its `_unstaged_changes_cleared` is the chain's stash
(sharedtree.stash), at the very moment pre-commit would look for unstaged edits, in its own process:
no save can land between a check and pre-commit's look, and the look is one `git diff-files` in
place of pre-commit's `write-tree` and `diff-index`, so a commit without unstaged edits pays nothing
more. Everything else is pre-commit's own: the checks before its stash (unmerged paths, an unstaged
configuration), intent-to-add files, the legacy hook, the hooks.

    PYTHON -m seq_hooks.sharedtree.precommit hook-impl ARGS...   (an interpreter that has seq-hooks
    and pre-commit) PYTHON -m seq_hooks.sharedtree.precommit kept-hook KEPT -- ARGS...
    (pre-commit's generated hook KEPT, kept by
        ours: the `hook-impl` arguments it would pass, read from it)
"""
from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator

from seq_hooks import envnames, githook
from seq_hooks.errors import FAILED, USAGE, FatalError
from seq_hooks.sharedtree import changes


@contextlib.contextmanager
def _stashed(_patch_dir: str) -> Iterator[None]:
    """The chain's stash around pre-commit's hooks (pre-commit runs at the worktree's top)."""
    found = changes.to_stash(os.getcwd(), os.environ)
    if not found:
        yield
        return
    from seq_hooks import context  # only with files to stash
    from seq_hooks.sharedtree import stash  # only with files to stash

    try:
        ctx = context.load()
        held = stash.stash(
            ctx.project.root, ctx.state_dir, os.environ.get(envnames.RUN, ""), os.environ, found
        )
    except FatalError as e:  # said our way, not as pre-commit's "unexpected error"
        sys.stderr.write(f"seq-hooks: {e.message}\n")
        raise SystemExit(e.code) from None
    try:
        yield
    finally:
        if held is not None:
            stash.restore(held)


def kept_hook(argv: list[str]) -> list[str]:
    """`kept-hook KEPT -- ARGS...`: the arguments pre-commit's generated hook KEPT would pass for
    ARGS."""
    if len(argv) < 3 or argv[0] != "kept-hook" or argv[2] != "--":
        raise FatalError("usage: kept-hook KEPT -- ARGS...", USAGE)
    impl = githook.pre_commit_hook_impl(argv[1])
    if impl is None:
        raise FatalError(
            f"{argv[1]} is no longer pre-commit's generated hook: install-git-hook again", FAILED
        )
    return [*impl, "--", *argv[3:]]


def main(argv: list[str]) -> int:
    if argv[:1] == ["kept-hook"]:  # pre-commit's hook kept by ours: what it would run
        try:
            argv = kept_hook(argv)
        except FatalError as e:
            sys.stderr.write(f"seq-hooks: {e.message}\n")
            return e.code
    # pre-commit is untyped and not our dependency: imported by name, only in an interpreter that
    # has it
    own = importlib.import_module("pre_commit.staged_files_only")
    run = importlib.import_module("pre_commit.main").main
    if hasattr(own, "_unstaged_changes_cleared"):  # pre-commit 2.x to 4.x
        setattr(own, "_unstaged_changes_cleared", _stashed)  # noqa: B010 (a module mypy cannot see)
        return int(run(argv))
    # a pre-commit laid out otherwise: the stash around all of it, as `run --stash` does
    with _stashed(""):
        return int(run(argv))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
