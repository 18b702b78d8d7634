"""`atomic-ruff-format`: `ruff format` once per file (or per --batch N files) through the project lock."""
from __future__ import annotations

import sys
from collections.abc import Sequence

from seq_hooks.cli import guard
from seq_hooks.hooks.atomic import Spec, run

SPEC = Spec(
    hook_id="atomic-ruff-format",
    tool="ruff",
    summary="Run `ruff format` on each file (or batch) in turn through the project lock.",
    fixed_args=("format", "--force-exclude"),
    types=("python", "pyi", "jupyter"),
    dashdash=True,
)


def _main(argv: list[str]) -> int:
    return run(SPEC, argv)


def main(argv: Sequence[str] | None = None) -> int:
    return guard(SPEC.hook_id, _main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
