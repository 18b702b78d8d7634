"""What `seq-hooks run` runs: a `--shell` string, a bare command found where the hooks find their
tools, and what `--verbose` says before it runs. Nothing here is imported for a plain run."""
from __future__ import annotations

import os
import shlex
import time

from seq_hooks import context, runner, toolenv
from seq_hooks.errors import FatalError
from seq_hooks.process.jobcontrol import signal_name
from seq_hooks.process.spawn import which
from seq_hooks.process.supervisor import Limits

SHELL_NOTE = "--shell: the command is one string, run with sh -c"
_SHELL_SYNTAX = frozenset(" ;&|<>()$`*?[]{}~'\"\\\n\t")


def shell(words: list[str]) -> list[str]:
    """`--shell`: the words are one shell command line (the guides' legacy `wait_all.sh "cmd;
    cmd"`)."""
    return ["sh", "-c", " ".join(words)]


def looks_like_shell(word: str) -> bool:
    """Whether a "command" that was not found is really a shell command line given as one word."""
    return any(c in _SHELL_SYNTAX for c in word)


def not_found_hint(argv: list[str]) -> str:
    return (f"; it looks like a shell command line: to run it with sh -c, use "
            f"seq-hooks run --shell -- {shlex.quote(argv[0])}") if looks_like_shell(argv[0]) else ""


def in_project(argv: list[str], ctx: context.Context, limits: Limits) -> tuple[list[str], str]:
    """The command with its tool looked up as the hooks do it (the configured interpreter, .venv,
    venv, the uv environment, then PATH), and where it was found; the command as it is when none has
    it."""
    prepare = runner.preparer(
        limits, settings=ctx.settings, state_dir=ctx.state_dir, root=ctx.project.root
    )
    try:
        tool = toolenv.find(argv[0], root=ctx.project.root, settings=ctx.settings, prepare=prepare)
    except FatalError as e:
        return (
            argv,
            f"not found in the project's environment either ({e.message.split(' (looked in ')[-1]}",
        )
    return [*tool.argv, *argv[1:]], tool.source


def _seconds(s: float) -> str:
    return "none" if s == 0 else f"{s:g}s"


def _cap(limits: Limits, state_dir: str) -> str:
    """The timeout the command really gets: its own, or what is left of the pipeline deadline of the
    run it is nested in (`seq-hooks run` inside a git hook, a hook's unit), whichever comes
    first."""
    deadline = runner.inherited_deadline(state_dir, dict(os.environ))
    if deadline is None:
        return _seconds(limits.timeout)
    at = time.strftime("%H:%M:%S", time.localtime(deadline))
    cut = runner.within_deadline(limits, deadline)
    if cut is None:
        return f"none left: the pipeline deadline ({at}) has passed"
    if cut.timeout == limits.timeout:
        return f"{_seconds(limits.timeout)} (within the pipeline deadline {at})"
    return (
        f"{cut.timeout:.2f}s (what is left of the pipeline deadline {at}; its own "
        f"{_seconds(limits.timeout)})"
    )


def describe(request: runner.Request, *, found: str | None, state_dir: str) -> list[str]:
    """What --verbose says before the command runs: the command and its executable, the lock, the
    limits."""
    argv = request.argv
    exe = argv[0] if os.sep in argv[0] else which(argv[0], os.environ.get("PATH", os.defpath))
    where = f", {found}" if found else ""
    lines = [f"about to run: {shlex.join(argv)} (executable: {exe or 'not found on PATH'}{where})"]
    if request.notes and request.notes[0] == SHELL_NOTE:
        lines.append("--shell: the command line runs with sh -c")
    lock = (
        "no lock (--no-lock)"
        if request.lock is None
        else f"lock {request.lock!r} (queue in {state_dir})"
    )
    lim = request.limits
    signame = signal_name(lim.kill_signal)
    lines.append(
        f"{lock}; limits: timeout {_cap(lim, state_dir)} (then {signame}, SIGKILL "
        f"{lim.kill_after:g}s later), "
        f"memory {f'{lim.memory_limit_mb} MB' if lim.memory_limit_mb else 'none'} for the whole "
        "tree, "
        f"processes {lim.max_procs or 'no limit'}, retries {request.retry}; threads "
        f"{f'capped at {request.threads}' if request.threads else 'not capped'}"
    )
    return lines
