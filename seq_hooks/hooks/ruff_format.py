"""`atomic-ruff-format`: `ruff format` on each unit of files through the project lock."""
from __future__ import annotations

from collections.abc import Sequence

from seq_hooks.hooks import atomic, ruff

SPEC = ruff.spec("atomic-ruff-format", "format",
                 "Run `ruff format` on each file (or batch) in turn through the project lock.")


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
