"""`atomic-mypy`: mypy over all the files in one unit by default (--batch N: N files per unit, sharing the cache).

mypy's own follow_imports setting stays: with the default ("normal") a unit also reports errors in the modules
its file imports (printed once: later units leave out the lines already shown), and later units load those
modules from the cache. --follow-imports=silent would report each error by its own file only, but it defeats
mypy's cache: 0.3 s instead of 0.1 s per file on a warm cache (rich 13.7.1, docs/performance.md).
When mypy comes from elsewhere than the project's interpreter, it is pointed at that interpreter
(--python-executable) so the project's installed packages are found.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from seq_hooks.hooks import atomic
from seq_hooks.hooks.atomic import Job, Spec
from seq_hooks.toolenv import Tool


def _runs_in(tool: Tool, python: str) -> bool:
    if len(tool.argv) > 1:  # python -m mypy
        return tool.argv[0] == python
    return os.path.dirname(tool.argv[0]) == os.path.dirname(python)


def adjust(job: Job, tool: Tool) -> list[str]:
    args = list(job.tool_args)
    if tool.python and not _runs_in(tool, tool.python) and not any(a.startswith("--python-executable")
                                                                     for a in args):
        args.append(f"--python-executable={tool.python}")
    return args


SPEC = Spec(
    hook_id="atomic-mypy",
    tool="mypy",
    summary="Run mypy on the files (all in one unit, or --batch N per unit) through the project lock.",
    types=("python", "pyi"),
    dashdash=True,
    adjust=adjust,
    dedupe=True,
    batch=0,  # all in one unit: mypy checks what each file imports anyway; per file it did that 4 times (docs/hooks.md)
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
