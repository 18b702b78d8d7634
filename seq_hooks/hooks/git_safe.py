"""git-safe: fails when another git operation on THIS repository is live; reports (and with
--fix-stale removes) a stale lock file.

Live means a process has one of the repository's lock files open (found through /proc/*/fd, psutil
elsewhere), or a lock file exists while a git command that changes the index or HEAD runs in this
worktree. The git command that runs us as its hook (an ancestor: `git commit -a` keeps index.lock
until the hooks are done) is not "another" operation. Git processes in other repositories never
count: each one is matched to its repository through its working directory or GIT_DIR. Another
worktree's index is its own: its lock is only a note. A merge, rebase, cherry-pick, revert or bisect
that waits for the user (no git process running it) is a note, since concluding it is exactly what a
commit in progress may be doing; `--strict` makes it a failure.

With git arguments (`git-safe add .`, `git-safe -- commit -m x`: the guides' git-safe.sh ran git) it
runs that git command under the project's git lock, as `seq-hooks git` does; under pre-commit, words
without `--` are file names and only the check runs.
"""
from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence

from seq_hooks import gitwords, project
from seq_hooks.entry import guard
from seq_hooks.errors import FAILED, OK, FatalError, UsageError
from seq_hooks.options import Option, parse
from seq_hooks.process import proctree
from seq_hooks.records import NamedTuple

OPTIONS = (
    Option(
        ("--fix-stale",),
        "fix_stale",
        help="remove stale lock files (only when no process is using them)",
    ),
    Option(
        ("--strict",),
        "strict",
        help="also fail on a merge, rebase, cherry-pick, revert or bisect in progress",
    ),
)
USAGE_LINE = "[--fix-stale] [--strict] | git-safe [--] GIT-ARGS..."
SUMMARY = (
    "Fails, naming the process, when another git operation on this repository is live; reports a "
    "stale\n"
    "index.lock with the command that clears it. With git arguments (`git-safe add .`, `git-safe "
    "-- commit\n"
    "-m x`) it runs that git command under the project's git lock instead, as `seq-hooks git` does."
)
# lock files of one worktree (in its git dir) and of the whole repository (in the common dir)
WORKTREE_LOCKS = ("index.lock", "HEAD.lock")
SHARED_LOCKS = ("packed-refs.lock", "config.lock", "shallow.lock")
# git commands that write the index, HEAD or the working tree: another one of these running is a
# conflict
WRITERS = frozenset(
    {
        "add",
        "am",
        "apply",
        "checkout",
        "checkout-index",
        "cherry-pick",
        "commit",
        "merge",
        "mv",
        "pull",
        "read-tree",
        "rebase",
        "reset",
        "restore",
        "revert",
        "rm",
        "stash",
        "switch",
        "update-index",
        "bisect",
        "sparse-checkout",
    }
)
IN_PROGRESS = (
    ("MERGE_HEAD", "a merge"), ("rebase-merge", "a rebase"), ("rebase-apply", "a rebase or am"),
    ("CHERRY_PICK_HEAD", "a cherry-pick"), ("REVERT_HEAD", "a revert"), ("BISECT_LOG", "a bisect"),
)



class Repo(NamedTuple):
    git_dir: str  # this worktree's
    common_dir: str


class Proc(NamedTuple):
    """A running git process of this repository."""

    pid: int
    command: str
    git_dir: str  # the worktree git dir it works in
    writer: bool  # its subcommand changes the index, HEAD or the working tree


class Scan(NamedTuple):
    openers: dict[str, list[int]]  # lock path -> pids that have it open
    gits: list[Proc]  # running git processes of this repository (any worktree)


def find_repo() -> Repo:
    found = project.find()
    if found.git_dir is None or found.common_dir is None:
        raise FatalError(
            "not in a git repository (git-safe checks the repository around the working directory)",
            FAILED,
        )
    return Repo(os.path.realpath(found.git_dir), found.common_dir)


def git_dir_of(cwd: str, git_dir_env: str | None) -> tuple[str, str] | None:
    """(git dir, common dir) of the repository a git process running in `cwd` works in (with its own
    GIT_DIR)."""
    found = project.find(cwd, {"GIT_DIR": git_dir_env} if git_dir_env else {})
    if found.git_dir is None or found.common_dir is None:
        return None
    return os.path.realpath(found.git_dir), found.common_dir


def scan(paths: set[str], repo: Repo) -> Scan:
    """Who has one of `paths` open, and the git processes working in this repository."""
    openers: dict[str, list[int]] = {}
    gits: list[Proc] = []
    for p in proctree.processes():
        for target in p.open_files() if paths else ():
            if target in paths:
                openers.setdefault(target, []).append(p.pid)
        if p.name() != "git":
            continue
        cwd, argv = p.cwd(), p.argv()
        if cwd is None or argv is None:
            continue
        dirs = git_dir_of(cwd, p.env("GIT_DIR"))
        if dirs is not None and dirs[1] == repo.common_dir:
            gits.append(
                Proc(p.pid, " ".join(argv), dirs[0], gitwords.subcommand(argv[1:]) in WRITERS)
            )
    return Scan(openers, gits)


class LockFile(NamedTuple):
    path: str
    shared: bool  # in the common dir: every worktree uses it
    mine: bool  # this worktree's (or shared): live means a conflict
    ident: tuple[int, int, int]  # device, inode, mtime: the very file we looked at
    uid: int  # its owner: another user's processes cannot be inspected


def lock_files(repo: Repo) -> list[LockFile]:
    out = [(os.path.join(repo.git_dir, n), False, True) for n in WORKTREE_LOCKS]
    out += [(os.path.join(repo.common_dir, n), True, True) for n in SHARED_LOCKS]
    others = [repo.common_dir] if repo.common_dir != repo.git_dir else []
    try:
        others += [os.path.join(repo.common_dir, "worktrees", n)
                   for n in sorted(os.listdir(os.path.join(repo.common_dir, "worktrees")))]
    except OSError:
        pass
    out += [
        (os.path.join(d, "index.lock"), False, False)
        for d in others
        if os.path.realpath(d) != repo.git_dir
    ]
    found = []
    for path, shared, mine in out:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        found.append(
            LockFile(path, shared, mine, (st.st_dev, st.st_ino, st.st_mtime_ns), st.st_uid)
        )
    return found


def _ident(st: os.stat_result | None) -> tuple[int, int, int] | None:
    return None if st is None else (st.st_dev, st.st_ino, st.st_mtime_ns)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


class Finding(NamedTuple):
    failure: bool
    text: str


def _show(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _who(pid: int, command: str | None = None) -> str:
    cmd = " ".join((command if command is not None else proctree.cmdline(pid)).split())
    if len(cmd) > 100:
        cmd = cmd[:97] + "..."
    return f"pid {pid} ({cmd or '?'})"


def check(repo: Repo, *, fix_stale: bool, strict: bool) -> list[Finding]:
    files = lock_files(repo)
    found = scan({f.path for f in files}, repo)
    mine = set(proctree.ancestors())
    out: list[Finding] = []
    named: set[int] = set()
    for lf in files:
        finding, pids = _check_lock(lf, found, mine, repo, fix_stale)
        out.append(finding)
        named.update(pids)
    for g in found.gits:
        if g.pid not in mine and g.pid not in named and g.git_dir == repo.git_dir and g.writer:
            out.append(
                Finding(
                    True,
                    f"{_who(g.pid, g.command)} is running in this worktree: wait for it to end",
                )
            )
    for name, what in IN_PROGRESS:
        path = os.path.join(repo.git_dir, name)
        if os.path.lexists(path):
            verdict = "git-safe --strict fails on it" if not strict else "finish or abort it first"
            out.append(
                Finding(
                    strict, f"{_show(path)}: {what} is in progress in this worktree ({verdict})"
                )
            )
    return out


def _check_lock(
    lf: LockFile, found: Scan, mine: set[int], repo: Repo, fix_stale: bool
) -> tuple[Finding, list[int]]:
    """What one existing lock file means, and the pids it names."""
    return _in_use(lf, found, mine) or (_stale(lf, repo, fix_stale), [])


def _in_use(lf: LockFile, found: Scan, mine: set[int]) -> tuple[Finding, list[int]] | None:
    """The lock file is live: held open by a process, or there while a git writer of its worktree
    runs (`git commit -a` keeps its lock file after closing it, during its hooks); a note when that
    is our own git."""
    shown = _show(lf.path)
    holders = found.openers.get(lf.path, [])
    writers = [
        g for g in found.gits if g.writer and (lf.shared or g.git_dir == os.path.dirname(lf.path))
    ]
    where = "this repository" if lf.mine else "another worktree of this repository"
    if others := [p for p in holders if p not in mine]:
        who = ", ".join(_who(p) for p in others)
        return Finding(
            lf.mine, f"{shown}: held open by {who}: another git operation is live in {where}"
        ), others
    if own := [p for p in holders if p in mine] or [g.pid for g in writers if g.pid in mine]:
        return Finding(
            False, f"{shown}: belongs to the git command that runs this hook ({_who(own[0])})"
        ), own
    if writers:
        who = ", ".join(_who(g.pid, g.command) for g in writers)
        text = f"{shown}: exists while {who} is running: another git operation is live in {where}"
        return Finding(lf.mine, text), [g.pid for g in writers]
    return None


def _stale(lf: LockFile, repo: Repo, fix_stale: bool) -> Finding:
    """A lock file nobody uses: reported, or removed with --fix-stale; another user's is never
    touched."""
    shown = _show(lf.path)
    if lf.uid != os.geteuid() and os.geteuid() != 0:
        return Finding(
            lf.mine,
            f"{shown}: belongs to uid {lf.uid}, whose processes git-safe cannot see: remove it "
            "by hand once no git command of that user runs",
        )
    if fix_stale:
        return _remove_stale(lf, repo)
    return Finding(
        lf.mine,
        f"{shown}: stale (no process has it open and no git command of this repository "
        f"runs); remove it with: rm -f {shlex.quote(lf.path)}  (or: git-safe --fix-stale)",
    )


def _remove_stale(lf: LockFile, repo: Repo) -> Finding:
    shown = _show(lf.path)
    # look again right before removing: a git command may have taken the lock since the scan
    again = scan({lf.path}, repo)
    if (
        again.openers.get(lf.path)
        or any(g.writer for g in again.gits)
        or _ident(_lstat(lf.path)) != lf.ident
    ):
        return Finding(lf.mine, f"{shown}: in use again (a git command started): not removed")
    try:
        os.unlink(lf.path)
    except FileNotFoundError:
        pass
    except OSError as e:
        return Finding(True, f"{shown}: stale, but cannot remove it: {e.strerror}")
    return Finding(False, f"{shown}: removed (stale: no process had it open)")


def _main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog="git-safe", usage=USAGE_LINE, summary=SUMMARY, command=True)
    git_args = _git_command(
        parsed.rest, dashdash="--" in argv[: len(argv) - len(parsed.rest or ())]
    )
    if git_args is not None:
        if parsed.flag("fix_stale") or parsed.flag("strict"):
            raise UsageError(
                "--fix-stale and --strict are for the check alone, not with a git command"
            )
        from seq_hooks.commands.git import run_git  # the runner and the lock: only to run git

        return run_git(git_args, prog="git-safe")
    repo = find_repo()
    findings = check(repo, fix_stale=parsed.flag("fix_stale"), strict=parsed.flag("strict"))
    for f in findings:
        sys.stdout.write(f"git-safe: {f.text}\n")
    return FAILED if any(f.failure for f in findings) else OK


def _git_command(words: list[str] | None, *, dashdash: bool) -> list[str] | None:
    """The git command to run (the guides' `git-safe.sh add .`), or None: only the check. Under
    pre-commit the words without `--` are file names (a configuration with pass_filenames), which do
    not matter here."""
    if not words and dashdash:
        raise UsageError(
            "no git arguments after -- (git-safe -- ARGS runs git ARGS under the git lock, as "
            "seq-hooks git -- ARGS does)"
        )
    if not words or (not dashdash and os.environ.get("PRE_COMMIT") == "1"):
        return None
    return words


def main(argv: Sequence[str] | None = None) -> int:
    return guard("git-safe", _main, sys.argv[1:] if argv is None else argv, program=argv is None)


if __name__ == "__main__":
    raise SystemExit(main())
