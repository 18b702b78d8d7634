"""Exit codes (GNU timeout compatible) and the one user-facing exception."""
from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
MAX_WAIT = 75
SIGNALLED = 128  # + N: ended by signal N, as a shell reports it
TIMEOUT = 124
INTERNAL = 125
NOT_EXECUTABLE = 126
NOT_FOUND = 127
KILLED = 137
INTERRUPTED = 130  # SIGINT (Ctrl-C): SIGNALLED + 2
BROKEN_PIPE = 141  # our reader went away (SIGPIPE): SIGNALLED + 13


def signalled(signum: int) -> int:
    """The exit code of a process ended by signal `signum`, as a shell reports it."""
    return SIGNALLED + signum


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


def on_file(error: OSError, path: str) -> OSError:
    """`error` naming `path` when it names no file (a failed os.write names none), so that the sentence made of it
    (entry.guard: a full disk) says which file could not be written."""
    if error.filename is None:
        error.filename = path
    return error
