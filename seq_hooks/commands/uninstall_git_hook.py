"""`seq-hooks uninstall-git-hook [--hook-type T ...]`: remove our git hooks, restore what was there
before."""
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
        "only this hook (repeatable; default: every one of ours)",
        "T",
    ),
)
SUMMARY = (
    "Removes the git hooks seq-hooks installed and renames the hooks they kept back into place "
    "(same bytes,\n"
    "same mode). A hook that `pre-commit install` moved to <type>.legacy is removed from there; "
    "pre-commit's\n"
    "own hook stays. Without --hook-type, atomic-mypy's daemons stop too."
)


def main(argv: list[str]) -> int:
    parsed = parse(
        argv,
        OPTIONS,
        prog="seq-hooks uninstall-git-hook",
        usage="[--hook-type T ...]",
        summary=SUMMARY,
    )
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
    if not parsed.texts("hook_type"):
        _stop_daemons()
    return OK


def _stop_daemons() -> None:
    """Nothing of ours keeps running once seq-hooks is taken out: atomic-mypy's daemons stop too."""
    from seq_hooks import context  # only to stop the daemons
    from seq_hooks.daemons import tend  # only to stop them

    stopped, left = tend.stop_all(context.load().state_dir)
    for r in stopped:
        if r.pid:
            sys.stdout.write(
                f"seq-hooks: stopped the {r.kind} daemon of {r.worktree} (pid {r.pid})\n"
            )
    for r in left:
        sys.stdout.write(
            f"seq-hooks: could not stop the {r.kind} daemon of {r.worktree} (pid {r.pid})\n"
        )
