"""What `status`, `doctor` and `clean` say about the shared working tree: a commit that has files at
their index version now (or a dead one's stash not put back yet), and the snapshots kept under
refs/seq-hooks/kept/."""
from __future__ import annotations

import os
import time

from seq_hooks import sharedtree
from seq_hooks.errors import FatalError
from seq_hooks.records import NamedTuple
from seq_hooks.sharedtree import record, snapshot
from seq_hooks.sharedtree.recover import git_env


class Stashed(NamedTuple):
    """A commit that has (or had, when it died) files at their index version."""

    pid: int
    since: float
    top: str
    ref: str
    files: list[str]
    live: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "since": self.since,
            "top": self.top,
            "ref": self.ref,
            "files": self.files,
            "live": self.live,
        }


class Kept(NamedTuple):
    ref: str
    files: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"ref": self.ref, "files": self.files}


def stashed(state_dir: str) -> list[Stashed]:
    """The commits with files at their index version now (live), and dead ones not put back yet."""
    out = []
    for path in sharedtree.records(state_dir):
        data = record.read(path)
        if data is None:
            continue
        entries = data.get("files")
        out.append(
            Stashed(
                int(str(data.get("pid", 0))),
                float(str(data.get("since", 0))),
                str(data.get("top", "")),
                str(data.get("ref", "")),
                [str(e.get("path")) for e in entries] if isinstance(entries, list) else [],
                record.live(path),
            )
        )
    return out


def kept(top: str) -> list[Kept]:
    """The snapshots kept under refs/seq-hooks/kept/, with the files each holds."""
    env = git_env()
    try:
        refs = [r for r in snapshot.refs(top, env) if r.startswith(snapshot.KEPT_REFS)]
        return [Kept(r, [os.fsdecode(p) for p in snapshot.paths(top, env, r)]) for r in refs]
    except (FatalError, OSError):
        return []


def _files(names: list[str], most: int = 5) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def stashed_line(s: Stashed, now: float | None = None) -> str:
    n = len(s.files)
    what = (
        f"{n} file{'s' if n != 1 else ''} at {'their' if n != 1 else 'its'} index version: "
        f"{_files(s.files)}"
    )
    if s.live:
        held = (now or time.time()) - s.since
        return (
            f"tree stashed by the commit in pid {s.pid} for {held:.1f}s, {what} (in {s.top}; saves "
            "to them "
            f"win over the commit's unstaged edits, which are then kept under a ref)"
        )
    return (
        f"stash of a dead commit (pid {s.pid}), {what} (in {s.top}): the next seq-hooks command "
        "puts back "
        f"what nobody saved since"
    )


def kept_line(k: Kept) -> str:
    return (f"kept {k.ref}: {_files(k.files)} (get one back from the top of the worktree: git show "
            f"{k.ref}:PATH > PATH; drop it: git update-ref -d {k.ref})")
