"""`atomic -- TOOL [ARGS...]`: any tool, once per file (or per --batch N files), through the project
lock.

Under pre-commit: `args: [--, TOOL, ARGS...]` (`args: [--, ruff, format]`; pre-commit appends the
files). Every word after TOOL up to the first existing file is the tool's: by hand `atomic -- ruff
check --fix a.py` runs `ruff check --fix a.py`. End ARGS with `--` when one of them names an
existing file (`args: [--, python, scripts/check.py, --]`), so that it is not taken for a file to
check.
"""
from __future__ import annotations

from collections.abc import Sequence

from seq_hooks.hooks import atomic
from seq_hooks.hooks.atomic import Spec

SPEC = Spec(
    hook_id="atomic",
    tool=None,
    summary=(
        "Run TOOL on each file (or batch) in turn through the project lock: TOOL [ARGS...] "
        "FILE...\n"
        "Every word after TOOL up to the first existing file is the tool's, the files start at the "
        "first\n"
        "one: `atomic -- ruff check --fix a.py b.py` runs `ruff check --fix` on a.py and b.py; in "
        "a\n"
        "pre-commit config, `args: [--, ruff, format]`. End ARGS with `--` when one of them is an "
        "existing\n"
        "file: `atomic -- python scripts/check.py -- a.py`."
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
