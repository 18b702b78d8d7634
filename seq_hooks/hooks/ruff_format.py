"""`atomic-ruff-format`: `ruff format` once per file (or per --batch N files) through the project lock."""
from __future__ import annotations

from collections.abc import Sequence

from seq_hooks.hooks import atomic
from seq_hooks.hooks.atomic import Spec

SPEC = Spec(
    hook_id="atomic-ruff-format",
    tool="ruff",
    summary="Run `ruff format` on each file (or batch) in turn through the project lock.",
    fixed_args=("format", "--force-exclude"),
    types=("python", "pyi", "jupyter"),
    dashdash=True,
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
