"""`atomic -- TOOL [ARGS...]`: any tool, once per file (or per --batch N files), through the project lock.

Under pre-commit: `args: [--, TOOL, ARGS...]`; end ARGS with `--` when one of them names an existing file
(`args: [--, python, scripts/check.py, --]`), so that it is not taken for a file to check.
"""
from __future__ import annotations

from collections.abc import Sequence

from seq_hooks.hooks import atomic
from seq_hooks.hooks.atomic import Spec

SPEC = Spec(
    hook_id="atomic",
    tool=None,
    summary="Run TOOL on each file (or batch) in turn through the project lock: TOOL [ARGS...] FILE...",
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
