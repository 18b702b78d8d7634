"""Which tracked files have unstaged edits: the check every commit through the git hook's chain
pays, so it imports nothing but the spawn helper (docs/design.md, "A shared working tree")."""
from __future__ import annotations

from seq_hooks.errors import USAGE, FatalError
from seq_hooks.process.spawn import exchange
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping

LINK_MODE, GITLINK_MODE = "120000", "160000"
# pre-commit (and prek) refuse to run when their configuration has unstaged edits: stashing it would
# hide that
CONFIGS = (b".pre-commit-config.yaml", b".pre-commit-config.yml")


class Change(NamedTuple):
    """A path whose working-tree version differs from the index (git diff-files)."""

    path: bytes  # from the top of the worktree
    index_mode: str  # "100644", "100755", "120000"
    index_sha: str


class Unstaged(NamedTuple):
    changes: list[Change]
    blocked: bool  # unmerged paths: pre-commit refuses before it stashes, and so do we


def git(args: list[str], top: str, env: Mapping[str, str], data: bytes = b"") -> bytes:
    done = exchange(["git", "-C", top, *args], data, env=env)  # git changes directory itself
    if done.code != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {why[-1] if why else f'exit {done.code}'}")
    return done.stdout


class GitError(FatalError):
    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


def unstaged(top: str, env: Mapping[str, str]) -> Unstaged:
    """Tracked files whose working-tree version is not the index's (submodules and intent-to-add
    files aside: pre-commit leaves those to git)."""
    out = git(["diff-files", "-z", "--raw", "--ignore-submodules=all", "--no-renames"], top, env)
    fields = out.split(b"\0")
    changes: list[Change] = []
    blocked = False
    for head, path in zip(fields[0::2], fields[1::2], strict=False):
        src_mode, _dst_mode, src_sha, _dst_sha, status = head[1:].decode().split(" ")
        if status == "U":
            blocked = True
        elif status in ("M", "D", "T") and src_mode != GITLINK_MODE:
            changes.append(Change(path, src_mode, src_sha))
    return Unstaged(changes, blocked)


def to_stash(top: str, env: Mapping[str, str]) -> list[Change]:
    """The files the chain puts at their index version: none when pre-commit would refuse before its
    own stash (unmerged paths, an unstaged configuration), so that it still does, with its own
    words."""
    found = unstaged(top, env)
    if found.blocked or any(c.path in CONFIGS for c in found.changes):
        return []
    return found.changes
