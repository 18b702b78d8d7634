"""Exit codes (GNU timeout compatible) and the one user-facing exception."""
from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
MAX_WAIT = 75
TIMEOUT = 124
INTERNAL = 125
NOT_EXECUTABLE = 126
NOT_FOUND = 127
KILLED = 137


class FatalError(Exception):
    """A whole, actionable sentence for the user, and the exit code that goes with it."""

    def __init__(self, message: str, code: int = INTERNAL) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(FatalError):
    """Bad flags, bad configuration: exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)
