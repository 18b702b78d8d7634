"""`atomic-ruff`: `ruff check --fix` on each unit of files through the project lock (`--no-fix`:
only report).

The shape of both ruff hooks (this one and `atomic-ruff-format`): `spec`.
"""
from __future__ import annotations

from collections.abc import Sequence

from seq_hooks.hooks import atomic
from seq_hooks.hooks.atomic import Spec

# files per unit: ruff starts in ~8 ms and checks a file in ~0.4 ms, so per-file units cost ~20x a
# batch; 200 keeps an --all-files run in sub-second units that let other worktrees take their turn
# (docs/hooks.md, "Units")
RUFF_BATCH = 200


def spec(hook_id: str, subcommand: str, summary: str, default_args: tuple[str, ...] = ()) -> Spec:
    # --force-exclude: ruff's own excludes apply to the file names pre-commit passes (as in
    # ruff-pre-commit)
    return Spec(
        hook_id=hook_id,
        tool="ruff",
        summary=summary,
        fixed_args=(subcommand, "--force-exclude"),
        types=("python", "pyi", "jupyter"),
        dashdash=True,
        default_args=default_args,
        batch=RUFF_BATCH,
    )


SPEC = spec(
    "atomic-ruff",
    "check",
    "Run `ruff check` on each file (or batch) in turn through the project lock. "
    "Default args: --fix (give --no-fix to only report).",
    ("--fix",),
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
