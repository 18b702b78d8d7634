"""`atomic-ruff`: `ruff check` once per file (or per --batch N files) through the project lock."""
from __future__ import annotations

from collections.abc import Sequence

from seq_hooks.hooks import atomic
from seq_hooks.hooks.atomic import Spec

# --force-exclude: ruff's own excludes apply to the file names pre-commit passes (as in ruff-pre-commit)
SPEC = Spec(
    hook_id="atomic-ruff",
    tool="ruff",
    summary="Run `ruff check` on each file (or batch) in turn through the project lock. Default args: --fix.",
    fixed_args=("check", "--force-exclude"),
    types=("python", "pyi", "jupyter"),
    dashdash=True,
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
