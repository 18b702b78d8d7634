"""seq-hooks: one unit at a time, supervised, for every heavy command in a project."""
from __future__ import annotations

from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from seq_hooks.runner import Result as RunResult

__version__ = "0.1.0"
__all__ = ["RunResult", "__version__", "run"]


def run(argv: list[str], **kwargs: Any) -> RunResult:
    """Run ``argv`` through the project's queue and supervisor; see ``seq_hooks.api.run``."""
    from seq_hooks.api import run as run_queued

    return run_queued(argv, **kwargs)
