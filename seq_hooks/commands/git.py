"""`seq-hooks git [OPTIONS] -- ARGS`: git under the project's `git` lock, so concurrent git commands
in one repository (and its worktrees) take turns instead of failing on index.lock.

Inside a git hook, or under a `git` lock our ancestor holds, git runs at once (supervised, without
the lock): the git command that started the hook holds the lock, or the index, and waits for the
hook to end.
"""
from __future__ import annotations

import os
import sys

from seq_hooks import context, envnames, gitwords, runner
from seq_hooks.config import GIT_LOCK
from seq_hooks.errors import Reason, UsageError
from seq_hooks.lock import markers
from seq_hooks.options import Option, parse
from seq_hooks.process import proctree
from seq_hooks.runner import Request, execute

LOCK = GIT_LOCK
OPTIONS = (
    Option(
        ("--max-wait",),
        "max_wait",
        "float",
        "give up (exit 75) after waiting S seconds for the git lock",
        "S",
    ),
    Option(
        ("--timeout",),
        "timeout",
        "float",
        "kill git and its hooks after S seconds (default: only the pipeline_timeout)",
        "S",
    ),
    Option(("-q", "--quiet"), "quiet", help="no notes from seq-hooks while waiting"),
)
USAGE_LINE = "[OPTIONS] -- GIT-ARGS..."
SUMMARY = (
    "Runs git under the project's `git` lock; output and exit status are git's. Inside a git hook, "
    "or under\n"
    "a held `git` lock, git runs at once. `seq-hooks git status` (no options) works without `--` "
    "too."
)
# set by git for the hooks it runs: GIT_INDEX_FILE for the commit hooks, GIT_DIR in linked worktrees
HOOK_ENV = ("GIT_INDEX_FILE", "GIT_DIR")


def _git_ancestor(root: str) -> int | None:
    """A git process among our ancestors working in this worktree: we run inside its hook (even when
    a hook manager cleaned GIT_* out of the environment)."""
    for pid in proctree.ancestors(limit=64):
        if pid <= 1:
            return None
        p = proctree.process(pid)
        cwd = p.cwd() if p.name() == "git" else None
        if cwd is not None:
            cwd = os.path.realpath(cwd)
            if cwd == root or cwd.startswith(root.rstrip(os.sep) + os.sep):
                return pid
    return None


def direct_reason(state_dir: str, root: str, env: dict[str, str]) -> str | None:
    """Why git must run at once here, or None when it takes the git lock."""
    if envnames.HOLDER in env:
        held = [m for m in markers.verified(state_dir, env) if m.lock_id.split("/")[0] == LOCK]
        if held:
            return f"under the git lock held by pid {held[0].pid}"
    if proctree.use_proc():
        # the process tree decides: GIT_DIR or GIT_INDEX_FILE exported by a user or a script (a bare
        # dotfiles repository, a temporary index) is no hook, and git commands there still contend
        # for the same locks
        pid = _git_ancestor(root)
        return None if pid is None else f"inside a git hook of pid {pid}"
    for name in HOOK_ENV:  # without /proc, git's hook variables are the only sign
        if env.get(name):
            return f"inside a git hook ({name} is set)"
    return None


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(our options, git's arguments): `seq-hooks git [OPTIONS] -- ARGS`, or `seq-hooks git
    ARGS`."""
    if argv and not argv[0].startswith("-"):
        return [], argv
    if "--" not in argv:
        if argv and argv[0] in ("-h", "--help"):
            return argv, []
        raise UsageError("put git's arguments after -- (seq-hooks git [OPTIONS] -- ARGS)")
    at = argv.index("--")
    return argv[: at + 1], argv[at + 1 :]


def main(argv: list[str]) -> int:
    ours, args = _split(argv)
    parsed = parse(ours, OPTIONS, prog="seq-hooks git", usage=USAGE_LINE, summary=SUMMARY)
    if not args:
        raise UsageError("no git arguments given (seq-hooks git -- ARGS)")
    return run_git(
        args,
        prog="seq-hooks git",
        max_wait=parsed.number("max_wait"),
        timeout=parsed.number("timeout"),
        quiet=parsed.flag("quiet"),
    )


def run_git(
    args: list[str],
    *,
    prog: str,
    max_wait: float | None = None,
    timeout: float | None = None,
    quiet: bool = False,
) -> int:
    """Runs `git ARGS` under the project's git lock (at once inside a git hook or a held git lock):
    git's exit status. `seq-hooks git` and `git-safe ARGS` both come here."""
    ctx = context.load(gitwords.working_dir(args))
    s = ctx.settings
    why = direct_reason(ctx.state_dir, ctx.project.root, dict(os.environ))
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    request = Request(
        argv=["git", *args],
        # a commit's hooks are a whole pipeline: bounded by pipeline_timeout, each unit inside by
        # its own limits
        limits=runner.limits(
            s,
            timeout=s.pipeline_timeout if timeout is None else timeout,
            memory_limit_mb=0,
            max_procs=0,
        ),
        lock=None if why else LOCK,
        max_wait=max_wait if max_wait is not None else s.max_wait,
        quiet=quiet,
        direct=interactive,  # git's editor and pager need the terminal itself
    )
    result = execute(request, settings=s, state_dir=ctx.state_dir, root=ctx.project.root)
    if result.message and result.reason != Reason.EXIT:
        sys.stderr.write(f"{prog}: {result.message}\n")
    return result.exit_code
