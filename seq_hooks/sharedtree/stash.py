"""A commit's stash that loses nobody's save: the files with unstaged edits go to their index
version while the hook chain runs, and come back one by one, each only where nobody else has saved
meanwhile.

pre-commit stashes by itself when it finds unstaged edits: it checks the index version out over the
whole tree and, when its patch no longer applies afterwards, checks out the whole tree again, wiping
every save that any other process made meanwhile. The git hook's chain therefore stashes first, and
pre-commit finds nothing to stash. The story (docs/design.md, "A shared working tree"):

1. `git diff-files` names the files with unstaged edits (sharedtree.changes, the check every commit
   pays); nothing else in the tree is ever written.
2. The committer's versions are read and written into the object store as they are, under
   `refs/seq-hooks/stash/<name>`, and a record naming them is written and flocked in the state dir:
   a commit killed from here on loses nothing (sharedtree.recover). A ref or record that cannot be
   written stops the commit (exit 2) before the tree is touched.
3. Each file is put at its index version, only if it still holds what was read (else: put back what
   was done, read again, start over; a few times).
4. The chain runs; then each file gets the committer's version back, only if it still holds the
   index version that was put there. A file that changed meanwhile (a hook's fix, another writer's
   save) stays as it is: the last writer wins, the snapshot moves to `refs/seq-hooks/kept/<name>`,
   and one line per file says so, with the command that gets the committer's version back.
"""
from __future__ import annotations

import os
import shlex
import sys
import time

from seq_hooks.errors import FAILED, USAGE, FatalError
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.sharedtree import files, record, snapshot
from seq_hooks.sharedtree.changes import Change
from seq_hooks.sharedtree.files import GONE, LINK, Content

if TYPE_CHECKING:
    from collections.abc import Mapping

# reads of the tree before giving up when files keep being saved while the commit stashes them
ATTEMPTS = 3


class Stashed(NamedTuple):
    """One file at its index version for the commit: what the committer had, and what we put
    there."""

    path: bytes  # from the top of the worktree
    mine: Content  # the committer's version (kept in the snapshot)
    wrote: Content  # the index version, as we wrote it


class Stash(NamedTuple):
    top: str
    env: Mapping[str, str]
    name: str
    ref: str
    tree: str
    files: list[Stashed]
    held: record.Held


def stash(
    top: str, state_dir: str, token: str, env: Mapping[str, str], changes: list[Change]
) -> Stash | None:
    """Puts these files with unstaged edits (changes.to_stash) at their index version; None when
    there is nothing to do after all (then nothing was written anywhere)."""
    for attempt in range(1, ATTEMPTS + 1):
        done = _attempt(top, state_dir, token, env, changes, attempt)
        if done is not _AGAIN:
            return done if isinstance(done, Stash) else None
    raise FatalError(
        "files kept being saved while the commit stashed its unstaged edits; nothing was changed: "
        "commit again when the other writers are done",
        FAILED,
    )


_AGAIN = object()


def _attempt(top: str, state_dir: str, token: str, env: Mapping[str, str],
             changes: list[Change], attempt: int) -> Stash | object | None:
    mine = {c.path: files.read(os.path.join(top.encode(), c.path)) for c in changes}
    index = snapshot.index_versions(top, env, changes)
    # a file whose bytes are its index version already (only its stat changed) needs nothing
    todo = [p for p in mine if mine[p] != index[p]]
    if not todo:
        return None
    ids = snapshot.store(top, env, {p: mine[p] for p in todo})
    if ids is None:
        return _AGAIN
    tree = snapshot.tree(top, env, {p: mine[p] for p in todo}, ids, record.folder(state_dir))
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{attempt}"
    ref = snapshot.STASH_REFS + name
    try:
        snapshot.set_ref(top, env, ref, tree)
    except FatalError as e:
        raise FatalError(
            f"cannot keep a snapshot of the unstaged edits under {ref} ({e.message}); the commit "
            "stops "
            f"before touching the working tree",
            USAGE,
        ) from None
    stashed = [Stashed(p, mine[p], index[p]) for p in todo]
    try:
        held = record.create(state_dir, name, _record(top, token, ref, tree, stashed, ids))
    except FatalError:
        snapshot.keep(top, env, ref, None, tree)
        raise
    result = Stash(top, env, name, ref, tree, stashed, held)
    done = 0
    try:
        for f in stashed:
            if not files.replace(os.path.join(top.encode(), f.path), f.mine.state(), f.wrote):
                # saved again since we read it: put back what was done, and read the tree again
                restore(result._replace(files=stashed[:done]))
                return _AGAIN
            done += 1
    # a write that failed, an interrupt: what was done goes back before the error shows
    except BaseException:
        restore(result._replace(files=stashed[:done]))
        raise
    return result


def _record(top: str, token: str, ref: str, tree: str, stashed: list[Stashed],
            ids: dict[bytes, str]) -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "token": token,
        "since": round(time.time(), 3),
        "top": top,
        "ref": ref,
        "tree": tree,
        "files": [
            {
                "path": os.fsdecode(f.path),
                "mine": list(f.mine.state()),
                "wrote": list(f.wrote.state()),
                "blob": ids.get(f.path, ""),
            }
            for f in stashed
        ],
    }


def restore(s: Stash) -> list[str]:
    """Puts each committer's version back where the file still holds what we wrote; keeps the
    snapshot under a ref when something could not be put back. Returns (and prints) one line per
    file kept."""
    try:
        kept = settle(
            s.top,
            s.env,
            s.name,
            s.ref,
            s.tree,
            [(f.path, f.wrote.state(), f.mine) for f in s.files],
        )
    except BaseException:
        s.held.abandon()  # the record stays: the next seq-hooks command settles what is left
        raise
    s.held.release()
    return kept


def settle(top: str, env: Mapping[str, str], name: str, ref: str, tree: str,
           entries: list[tuple[bytes, files.State, Content]], why: str = "") -> list[str]:
    """The way back, for a live commit and for a dead one's recovery: (path, what we wrote, the
    committer's)."""
    kept = []
    for path, wrote, mine in entries:
        at = os.path.join(top.encode(), path)
        try:
            if files.replace(at, wrote, mine) or files.state(at) == mine.state():
                continue
            reason = ""
        except OSError as e:  # a full disk, a directory now in the way: kept like a save, with why
            reason = f" (it could not be written: {e.strerror or e})"
        kept.append((path, mine, reason))
    kept_ref = snapshot.KEPT_REFS + name if kept else None
    snapshot.keep(top, env, ref, kept_ref, tree)
    lines = [
        kept_line(kept_ref, path, mine, why + reason) for path, mine, reason in kept if kept_ref
    ]
    for line in lines:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return lines


def kept_line(ref: str, path: bytes, mine: Content, why: str = "") -> str:
    shown = quote(path)
    what = "your deletion of" if mine.kind == GONE else "your unstaged edits to"
    if mine.kind == GONE:
        back = f"rm {shown}"
    elif mine.kind == LINK:
        back = f"git restore --source={ref} -- {shown}"
    else:
        back = f"git show {quote(ref.encode() + b':' + path)} > {shown}"
    return (
        f"seq-hooks: kept {what} {shown}{why}: it changed while the commit had it at its index "
        "version (a "
        "hook's fix or another writer's save, which stays); get them back (from the top of the "
        "worktree): "
        f"{back}"
    )


def quote(path: bytes) -> str:
    """A path for a shell command line; a name that is not UTF-8 in bash's $'...' form, byte for
    byte."""
    try:
        return shlex.quote(path.decode())
    except UnicodeDecodeError:
        return (
            "$'"
            + "".join(chr(b) if 32 <= b < 127 and b not in b"'\\" else f"\\x{b:02x}" for b in path)
            + "'"
        )
