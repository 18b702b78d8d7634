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


class Reason:
    """How a unit ended: the `reason` of a supervised run, of a `runner.Result` (`run --json`) and
    of a journal record, each word spelled here only, beside the exit codes they go with
    (docs/commands.md lists them)."""

    EXIT = "exit"  # the command exited by itself, with its own status
    SIGNAL = "signal"  # a signal seq-hooks did not send ended it (SIGNALLED + N)
    TIMEOUT = "timeout"  # seq-hooks ended it at its timeout or the pipeline deadline (TIMEOUT)
    MEMORY = "memory"  # at its memory limit (KILLED)
    PROCS = "procs"  # at its process limit (KILLED)
    # the user (or a signal to seq-hooks) interrupted it (SIGNALLED + N)
    INTERRUPTED = "interrupted"
    NOT_FOUND = "not-found"  # it never started: no such command (NOT_FOUND)
    NOT_EXECUTABLE = "not-executable"  # it never started: not executable (NOT_EXECUTABLE)
    # why its detached daemons were ended after it exited (the unit keeps its own reason)
    DETACHED = "detached"

    # what a unit reports
    ALL = (EXIT, SIGNAL, TIMEOUT, MEMORY, PROCS, INTERRUPTED, NOT_FOUND, NOT_EXECUTABLE)
    BY_ITSELF = (EXIT, SIGNAL)  # ended without seq-hooks ending it: its peak is what it needed
    AT_A_LIMIT = (TIMEOUT, MEMORY, PROCS)  # ended by seq-hooks at one of its limits
    NOT_STARTED = (NOT_FOUND, NOT_EXECUTABLE)


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
    """`error` naming `path` when it names no file (a failed os.write names none), so that the
    sentence made of it (entry.guard: a full disk) says which file could not be written."""
    if error.filename is None:
        error.filename = path
    return error
