"""Check for what still calls the two bash guides' scripts: a git hook (live, or kept as
.seq-hooks-orig or .legacy), a pre-commit entry, a Makefile line. Once `scripts/*.sh` is deleted,
each of them fails."""
from __future__ import annotations

import glob
import os

from seq_hooks import guide_scripts
from seq_hooks.checks import OK, PROBLEM, WARNING, Finding, Scene

TOPIC = "guides' scripts"


def _missing(root: str, scripts: tuple[str, ...]) -> list[str]:
    """The scripts of `scripts` that are not in the project's scripts/ any more (`*.sh`: none
    is)."""
    return [
        s
        for s in scripts
        if not glob.glob(os.path.join(root, "scripts", s.removeprefix("scripts/")))
    ]


def _where(root: str, call: guide_scripts.Call) -> str:
    rel = os.path.relpath(call.path, root)
    return call.path if rel.startswith("..") else rel


def leftover_calls(scene: Scene) -> list[Finding]:
    out = []
    for c in guide_scripts.find(scene.root):
        gone = _missing(scene.root, c.scripts)
        level = PROBLEM if gone else WARNING
        why = (f"scripts/{gone[0].removeprefix('scripts/')} is gone: it fails" if gone else
               "it works only while the guides' scripts stay in scripts/")
        if c.line == 0:
            text = (
                f"{_where(scene.root, c)}: the guides' git hook calls {', '.join(c.scripts)} "
                f"({why})"
            )
        else:
            text = f"{_where(scene.root, c)}:{c.line}: {c.text.strip()} ({why})"
        fix = c.fix if c.new is None or c.line == 0 else f"seq-hooks migrate: {c.new.strip()}"
        out.append(Finding(level, TOPIC, text, fix))
    return out or [
        Finding(OK, TOPIC, "nothing calls the guides' scripts (git hooks, pre-commit, Makefiles)")
    ]
