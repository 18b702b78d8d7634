"""A working tree shared with other writers: a commit's stash that loses nobody's save
(docs/design.md).

The package itself answers what every command asks: whether any commit has (or a dead one had) files
stashed, one directory listing. It is here, not in a module of its own, so that the check costs the
hot path one module to load (not two, 0.4M instructions) and no other import (json, the stash's
modules), nor in every hook a live commit runs (docs/design.md, "The hot path").
"""
from __future__ import annotations

import fcntl
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


def orphaned(state_dir: str) -> list[str]:
    """The records no live process holds (sharedtree.record flocks each while its stash lasts): a
    dead commit's, to be settled. A commit's own hooks see its record held, and import nothing
    more."""
    out = []
    for path in records(state_dir):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            out.append(path)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return out
