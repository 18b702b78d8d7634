"""A dead commit's stash, put back by the next seq-hooks command; and what status, doctor and clean
show.

A commit killed while it had the tree stashed (SIGKILL, power loss, a closed terminal) leaves its
record in the state dir with no flock on it, and its snapshot under refs/seq-hooks/stash/. The next
seq-hooks command in the project ends what is left of that commit's processes (by its run token: a
hook still running could write over what we put back), then settles the stash the way a live commit
does: each file gets the committer's version back where it still holds the index version the commit
wrote; any other file stays as it is, and the snapshot is kept under refs/seq-hooks/kept/ with one
line per file saying so.
"""
from __future__ import annotations

import os
import sys
import time

from seq_hooks import envnames, sharedtree
from seq_hooks.errors import FatalError
from seq_hooks.process import proctree
from seq_hooks.records import TYPE_CHECKING
from seq_hooks.sharedtree import changes, record, snapshot
from seq_hooks.sharedtree.files import Content, State
from seq_hooks.sharedtree.stash import settle

if TYPE_CHECKING:
    from collections.abc import Mapping

# the variables that point git at one repository: a command run inside another repository's hook
# carries them
_GIT_PLACES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
)
GRACE = 2.0  # seconds a dead commit's leftover processes get between TERM and KILL


def git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in _GIT_PLACES}


def recover(state_dir: str) -> list[str]:
    """Settles every dead commit's stash in the state dir; the lines it printed. Cheap when there is
    none."""
    paths = sharedtree.records(state_dir)
    lines: list[str] = []
    for path in paths:
        held = record.claim(path)
        if held is None:
            continue
        if held.data.get("token") == os.environ.get(envnames.RUN):
            held.abandon()  # we are what is left of that commit: its runner's successor settles it
            continue
        try:
            lines += _settle(held.data)
        except (OSError, FatalError) as e:
            held.abandon()
            sys.stderr.write(
                f"seq-hooks: cannot put back the stash of a dead commit ({path}): "
                f"{e.message if isinstance(e, FatalError) else e}; its snapshot stays under "
                f"{held.data.get('ref')}\n"
            )
            continue
        held.release()
    return lines


def _settle(data: dict[str, object]) -> list[str]:
    top, ref, tree, token = (str(data.get(k, "")) for k in ("top", "ref", "tree", "token"))
    entries_raw = data.get("files")
    if not (top and ref and tree and isinstance(entries_raw, list)):
        raise FatalError("the record is damaged")
    if token:
        mine = set(proctree.ancestors())
        proctree.end([p for p in proctree.pids_with_token(token) if p not in mine], GRACE)
    env = git_env()
    blobs = snapshot.read_blobs(top, env, [str(e["blob"]) for e in entries_raw if e.get("blob")])
    entries = []
    for e in entries_raw:
        kind, executable, _digest = e["mine"]
        data_bytes = blobs.get(str(e.get("blob") or ""), b"")
        entries.append(
            (
                os.fsencode(e["path"]),
                State(*e["wrote"]),
                Content(kind, bool(executable), data_bytes),
            )
        )
    name = ref.rsplit("/", 1)[-1]
    _unlock(top, env, [ref, snapshot.KEPT_REFS + name])
    when = time.strftime("%H:%M:%S", time.localtime(float(str(data.get("since", 0)))))
    sys.stderr.write(
        f"seq-hooks: a commit (pid {data.get('pid')}, {when}) died with {len(entries)} file(s) of "
        f"{top} at their index version: putting back what nobody saved since\n"
    )
    return settle(
        top, env, name, ref, tree, entries, why=f" (from the dead commit {data.get('pid')})"
    )


def _unlock(top: str, env: Mapping[str, str], refs: list[str]) -> None:
    """A `git update-ref` killed with the commit leaves `<ref>.lock` behind, and git then refuses
    the ref: ours only (their writer is dead and its processes ended), never another lock of the
    repository."""
    common = changes.git(["rev-parse", "--git-common-dir"], top, env).decode().strip()
    for ref in refs:
        try:
            os.unlink(os.path.join(top, common, ref + ".lock"))
        except FileNotFoundError:
            pass
