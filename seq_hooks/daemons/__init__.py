"""Resident tools that seq-hooks starts, records, and stops: today the mypy daemon of `atomic-mypy`.

`record`: the state of each daemon in the state dir (who, where, since when, what it cannot see
change); `mypyd`: starting, using, and giving up on a mypy daemon for one unit; `tend`: what every
command may do to the daemons cheaply (stop idle ones, make room, stop them all); `dmypy_serve`: the
daemon's own entry point, run by the project's interpreter.
"""
from __future__ import annotations

import os

DIR = "daemons"  # in the state dir: a record, a lock, a status file and a log per daemon


def any_recorded(state_dir: str) -> bool:
    """Whether any daemon has a record: one listing, so that a run with a budget imports the
    daemons' modules only when there are daemons to count."""
    try:
        return any(n.endswith(".json") for n in os.listdir(os.path.join(state_dir, DIR)))
    except OSError:
        return False
