"""`atomic-mypy`: mypy once per file by default (all units share mypy's cache), or --batch N files per unit.

A unit checks its own files: imported modules are analysed (from the cache after the first unit) but their
errors are left to their own unit (--follow-imports=silent), so an error is reported once, by the right file.
When mypy comes from elsewhere than the project's interpreter, it is pointed at that interpreter
(--python-executable) so the project's installed packages are found.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from seq_hooks.cli import guard
from seq_hooks.hooks.atomic import Job, Spec, run
from seq_hooks.toolenv import Tool


def _runs_in(tool: Tool, python: str) -> bool:
    if len(tool.argv) > 1:  # python -m mypy
        return tool.argv[0] == python
    return os.path.dirname(tool.argv[0]) == os.path.dirname(python)


def adjust(job: Job, tool: Tool) -> list[str]:
    args = list(job.tool_args)
    if not any(a.startswith("--follow-imports") for a in args):
        args.append("--follow-imports=silent")
    if tool.python and not _runs_in(tool, tool.python) and not any(a.startswith("--python-executable")
                                                                     for a in args):
        args.append(f"--python-executable={tool.python}")
    return args


SPEC = Spec(
    hook_id="atomic-mypy",
    tool="mypy",
    summary="Run mypy on each file (or batch) in turn through the project lock, sharing one cache.",
    types=("python", "pyi"),
    dashdash=True,
    adjust=adjust,
)


def _main(argv: list[str]) -> int:
    return run(SPEC, argv)


def main(argv: Sequence[str] | None = None) -> int:
    return guard(SPEC.hook_id, _main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
