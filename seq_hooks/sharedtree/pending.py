"""Whether any commit has (or a dead one had) files stashed: one directory listing, for every command.

Kept apart from `record` so that the check costs no import (json, fcntl) on the hot path
(docs/design.md, "The hot path").
"""
from __future__ import annotations

import os

DIR = "stashed"  # in the state dir: one record per commit that has files at their index version
SUFFIX = ".json"


def records(state_dir: str) -> list[str]:
    """The records in the state dir (live commits' and dead ones'); nothing when there are none."""
    try:
        names = os.listdir(os.path.join(state_dir, DIR))
    except OSError:
        return []
    return sorted(os.path.join(state_dir, DIR, n) for n in names if n.endswith(SUFFIX))
