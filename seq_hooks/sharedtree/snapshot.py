"""The git side of a commit's stash: the index versions of the files with unstaged edits as a
checkout writes them, and the snapshot of the committer's own versions, kept as a tree under a ref
so that no `git gc` drops it.

Every call is git plumbing, one process for many files, with the caller's environment (inside a git
hook that is the commit's own index, GIT_INDEX_FILE).
"""
from __future__ import annotations

import hashlib
import os

from seq_hooks.records import TYPE_CHECKING
from seq_hooks.sharedtree.changes import LINK_MODE, Change, git
from seq_hooks.sharedtree.files import FILE, GONE, LINK, Content

if TYPE_CHECKING:
    from collections.abc import Mapping

STASH_REFS = "refs/seq-hooks/stash/"
KEPT_REFS = "refs/seq-hooks/kept/"
_EXEC_MODE = "100755"


def index_versions(top: str, env: Mapping[str, str], changes: list[Change]) -> dict[bytes, Content]:
    """Each path's index version as `git checkout` writes it (smudge filters, end-of-line
    conversion)."""
    request = b"".join(b"%s %s\n" % (c.index_sha.encode(), c.path) for c in changes)
    out = git(["cat-file", "--batch", "--filters"], top, env, request)
    datas = _batch(out, [c.index_sha for c in changes])
    if datas is None:
        # git before 2.4x gives the blob's size, not the converted one, in front of converted bytes:
        # one by one
        datas = [
            git(["cat-file", "--filters", f"--path={os.fsdecode(c.path)}", c.index_sha], top, env)
            for c in changes
        ]
    return {
        c.path: Content(
            LINK if c.index_mode == LINK_MODE else FILE, c.index_mode == _EXEC_MODE, data
        )
        for c, data in zip(changes, datas, strict=True)
    }


def _batch(out: bytes, ids: list[str]) -> list[bytes] | None:
    """The contents in `cat-file --batch` output, in order; None when a header is not where its size
    says."""
    datas = []
    at = 0
    for i in ids:
        line_end = out.find(b"\n", at)
        head = out[at:line_end].split(b" ")
        if line_end < 0 or len(head) != 3 or head[0].decode() != i:
            return None
        size = int(head[2])
        datas.append(out[line_end + 1: line_end + 1 + size])
        at = line_end + 2 + size
        if out[at - 1: at] != b"\n":
            return None
    return datas if at == len(out) else None


def blob_id(data: bytes, length: int) -> str:
    """The blob id git gives these bytes (sha1, or sha256 in a repository of that object format)."""
    h = hashlib.sha1 if length == 40 else hashlib.sha256
    return h(b"blob %d\0" % len(data) + data).hexdigest()


def store(
    top: str, env: Mapping[str, str], contents: dict[bytes, Content]
) -> dict[bytes, str] | None:
    """Writes the committer's versions into the object store, exactly as they are (no filters);
    their blob ids. None when a file was saved again between our read and git's (the caller reads
    again)."""
    files = [p for p, c in contents.items() if c.kind == FILE]
    ids: dict[bytes, str] = {}
    if files:
        out = git(["hash-object", "-w", "--no-filters", "--stdin-paths"], top, env,
                   b"".join(p + b"\n" for p in files))
        for path, sha in zip(files, out.decode().split(), strict=True):
            if blob_id(contents[path].data, len(sha)) != sha:
                return None
            ids[path] = sha
    for path, c in contents.items():
        if c.kind == LINK:
            ids[path] = git(["hash-object", "-w", "--stdin"], top, env, c.data).decode().strip()
    return ids


def tree(top: str, env: Mapping[str, str], contents: dict[bytes, Content], ids: dict[bytes, str],
         scratch: str) -> str:
    """A tree holding the committer's versions at their paths (a deleted file is absent from it),
    made in a scratch index in the private directory `scratch`."""
    lines = []
    for path, c in contents.items():
        if c.kind != GONE:
            mode = LINK_MODE if c.kind == LINK else _EXEC_MODE if c.executable else "100644"
            lines.append(b"%s %s\t%s\0" % (mode.encode(), ids[path].encode(), path))
    index = os.path.join(scratch, f".index-{os.getpid()}")
    for name in (index, index + ".lock"):  # a dead commit's, with our pid
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
    in_scratch = {**env, "GIT_INDEX_FILE": index}
    try:
        git(["update-index", "-z", "--add", "--index-info"], top, in_scratch, b"".join(lines))
        return git(["write-tree"], top, in_scratch).decode().strip()
    finally:
        for name in (index, index + ".lock"):
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass


def set_ref(top: str, env: Mapping[str, str], ref: str, target: str) -> None:
    git(["update-ref", "--no-deref", ref, target], top, env)


def keep(
    top: str, env: Mapping[str, str], stash_ref: str, kept_ref: str | None, target: str
) -> None:
    """The stash ref goes; the snapshot stays under `kept_ref` when something could not be put
    back."""
    # gone already when a settling that was killed is settled again
    commands = f"delete {stash_ref}\n"
    if kept_ref is not None:
        commands = f"update {kept_ref} {target}\n" + commands
    git(["update-ref", "--no-deref", "--stdin"], top, env, commands.encode())


def read_blobs(top: str, env: Mapping[str, str], ids: list[str]) -> dict[str, bytes]:
    """The raw bytes of these blobs (one that is missing is left out)."""
    out = git(["cat-file", "--batch"], top, env, b"".join(i.encode() + b"\n" for i in ids))
    blobs = {}
    at = 0
    for i in ids:
        line_end = out.index(b"\n", at)
        head = out[at:line_end].split(b" ")
        if head[-1] == b"missing":
            at = line_end + 1
            continue
        size = int(head[2])
        blobs[i] = out[line_end + 1: line_end + 1 + size]
        at = line_end + 2 + size
    return blobs


def refs(top: str, env: Mapping[str, str]) -> list[str]:
    """The snapshots under refs/seq-hooks/ (stash/: a commit's own while it lasts; kept/: what could
    not be put back), oldest first (their names begin with the time)."""
    out = git(["for-each-ref", "--format=%(refname)", "refs/seq-hooks/"], top, env)
    return sorted(out.decode().splitlines(), key=lambda r: r.rsplit("/", 1)[-1])


def paths(top: str, env: Mapping[str, str], ref: str) -> list[bytes]:
    """The files a snapshot holds."""
    return [p for p in git(["ls-tree", "-r", "-z", "--name-only", ref], top, env).split(b"\0") if p]
