"""seq-hooks: one unit at a time, supervised, for every heavy command in a project."""
from __future__ import annotations

from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from seq_hooks.runner import Result as RunResult

__all__ = ["RunResult", "__version__", "run"]


def __getattr__(name: str) -> str:
    """`__version__`: the installed package's, whose one owner is pyproject.toml (read only when
    asked: importlib stays off the run path)."""
    if name != "__version__":
        raise AttributeError(f"module 'seq_hooks' has no attribute {name!r}")
    # importlib: off the run path (~6 ms)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("seq-hooks")
    except PackageNotFoundError:
        return "unknown (not installed)"


def run(argv: list[str], **kwargs: Any) -> RunResult:
    """Run ``argv`` through the project's queue and supervisor; see ``seq_hooks.api.run``."""
    from seq_hooks.api import run as run_queued  # the API: only for its callers

    return run_queued(argv, **kwargs)
