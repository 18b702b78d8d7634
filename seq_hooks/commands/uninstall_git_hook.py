"""`seq-hooks uninstall-git-hook [--hook-type T ...]`: remove our git hooks, restore what was there before."""
from __future__ import annotations

import sys

from seq_hooks import githook
from seq_hooks.errors import OK
from seq_hooks.options import Option, parse

OPTIONS = (
    Option(("-t", "--hook-type"), "hook_type", "append", "only this hook (repeatable; default: every one of ours)",
           "T"),
)
SUMMARY = (
    "Removes the git hooks seq-hooks installed and renames the hooks they kept back into place (same bytes,\n"
    "same mode). A hook that `pre-commit install` moved to <type>.legacy is removed from there; pre-commit's\n"
    "own hook stays."
)


def main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog="seq-hooks uninstall-git-hook", usage="[--hook-type T ...]", summary=SUMMARY)
    loc = githook.locate()
    if parsed.texts("hook_type"):
        types = githook.hook_types(parsed.texts("hook_type"), ())
    else:
        types = [s.hook_type for s in githook.installed(loc)]
    done = 0
    for t in types:
        what = githook.uninstall(loc, t)
        if what is not None:
            sys.stdout.write(f"seq-hooks: {what}\n")
            done += 1
    if not done:
        sys.stdout.write(f"seq-hooks: no seq-hooks git hook in {loc.hooks_dir}: nothing to do\n")
    return OK
