"""`seq-hooks install-git-hook [--hook-type T ...]`: run the repository's git hooks under the
project lock."""
from __future__ import annotations

import sys

from seq_hooks import githook
from seq_hooks.errors import OK
from seq_hooks.options import Option, parse

OPTIONS = (
    Option(
        ("-t", "--hook-type"),
        "hook_type",
        "append",
        f"the hook to install (repeatable; default pre-commit): {', '.join(githook.HOOK_TYPES)}",
        "T",
    ),
)
SUMMARY = (
    "Installs a git hook in the repository's hooks folder (core.hooksPath when set, else the git "
    "common dir's,\n"
    "shared by every worktree) that runs the hook chain under the project lock: the hook that was "
    "there before\n"
    f"(kept as <type>{githook.BACKUP}), else pre-commit for that stage. Installing again changes "
    "nothing;\n"
    "seq-hooks uninstall-git-hook restores what was there, byte for byte."
)


def main(argv: list[str]) -> int:
    parsed = parse(
        argv,
        OPTIONS,
        prog="seq-hooks install-git-hook",
        usage="[--hook-type T ...]",
        summary=SUMMARY,
    )
    types = githook.hook_types(parsed.texts("hook_type"), ("pre-commit",))
    loc = githook.locate()
    python, pre_commit_python = githook.installer_python()
    for t in types:
        sys.stdout.write(f"seq-hooks: {githook.install(loc, t, python, pre_commit_python)}\n")
    if loc.hooks_path is not None:
        sys.stdout.write(
            f"seq-hooks: core.hooksPath is set ({loc.hooks_path}): the hooks went to "
            f"{loc.hooks_dir}\n"
        )
    return OK
