"""How a unit ended: the `reason` of a supervised run, of a `runner.Result` (`run --json`) and of a journal record,
each word spelled here only (docs/commands.md lists them for users)."""
from __future__ import annotations

EXIT = "exit"  # the command exited by itself, with its own status
SIGNAL = "signal"  # a signal seq-hooks did not send ended it (exit 128+N)
TIMEOUT = "timeout"  # seq-hooks ended it at its timeout or the pipeline deadline (exit 124)
MEMORY = "memory"  # at its memory limit (exit 137)
PROCS = "procs"  # at its process limit (exit 137)
INTERRUPTED = "interrupted"  # the user (or a signal to seq-hooks) interrupted it (exit 128+N)
NOT_FOUND = "not-found"  # it never started: no such command (exit 127)
NOT_EXECUTABLE = "not-executable"  # it never started: not executable (exit 126)
DETACHED = "detached"  # why its detached daemons were ended after it exited (the unit keeps the command's reason)

ALL = (EXIT, SIGNAL, TIMEOUT, MEMORY, PROCS, INTERRUPTED, NOT_FOUND, NOT_EXECUTABLE)  # what a unit reports
BY_ITSELF = (EXIT, SIGNAL)  # ended without seq-hooks ending it: its peak is what it needed
AT_A_LIMIT = (TIMEOUT, MEMORY, PROCS)  # ended by seq-hooks at one of its limits
NOT_STARTED = (NOT_FOUND, NOT_EXECUTABLE)
