"""`seq-hooks run [OPTIONS] -- CMD [ARGS...]`: wait for the project lock, run CMD supervised,
release."""
from __future__ import annotations

import os
import signal
import sys

from seq_hooks import context, runner
from seq_hooks.config import DEFAULT_LOCK
from seq_hooks.errors import Reason, UsageError
from seq_hooks.options import Option, Parsed, parse
from seq_hooks.process.spawn import which
from seq_hooks.runner import Request, Result, execute

OPTIONS = (
    Option(
        ("--timeout",), "timeout", "float", "kill the whole tree after S seconds (0 = none)", "S"
    ),
    Option(
        ("--kill-after",),
        "kill_after",
        "float",
        "grace before SIGKILL once the kill signal is sent",
        "S",
    ),
    Option(
        ("--kill-signal",), "kill_signal", "str", "signal sent on timeout (default TERM)", "SIG"
    ),
    Option(
        ("--memory-limit",),
        "memory_limit",
        "int",
        "whole-tree resident memory limit (0 = none)",
        "MB",
    ),
    Option(("--max-procs",), "max_procs", "int", "most live processes in the tree (0 = none)", "N"),
    Option(
        ("--retry",), "retry", "int", "run again up to N more times after a failure or timeout", "N"
    ),
    Option(
        ("--max-wait",),
        "max_wait",
        "float",
        "give up (exit 75) after waiting S seconds for the lock",
        "S",
    ),
    Option(("--lock",), "lock", "str", "the queue to join (default: default)", "NAME"),
    Option(("--no-lock",), "no_lock", help="supervise only, do not queue"),
    Option(
        ("--pipeline",),
        "pipeline",
        help="CMD is a whole pipeline (a git hook's chain): its timeout is pipeline_timeout",
    ),
    Option(
        ("--stash",),
        "stash",
        help="put the files with unstaged edits at their index version while CMD runs "
        "and back after, never over another writer's save (the git hook runs pre-commit so)",
    ),
    Option(("--json",), "json", help="capture the output and print one JSON result object"),
    Option(("--log",), "log", "str", "write the run's log to FILE", "FILE"),
    Option(("-q", "--quiet"), "quiet", help="no notes from seq-hooks, only the command's output"),
    Option(("--shell",), "shell", help="CMD is one shell command line: run it with sh -c"),
    Option(
        ("--threads",),
        "threads",
        "int",
        "cap the tools' own threads and workers in the unit (0 = leave them)",
        "N",
    ),
    Option(
        ("-v", "--verbose"),
        "verbose",
        help="say what is about to run (lock, limits, executable), and a summary after",
    ),
)
USAGE_LINE = "[OPTIONS] [--] CMD [ARGS...]"
SUMMARY = (
    "Wait for the project lock, run CMD with its whole process tree supervised, release the lock.\n"
    "seq-hooks' options come before CMD; every word from CMD on is the command's own\n"
    "(`seq-hooks run pytest -q --timeout 5`: -q and --timeout go to pytest). `--` before CMD is "
    "optional."
)


def parse_signal(raw: str) -> int:
    name = raw.upper()
    if name.isdigit():
        number = int(name)
        # not 0, nor those the C library keeps for itself (32, 33 on Linux)
        if number in signal.valid_signals():
            return number
    else:
        name = name if name.startswith("SIG") else "SIG" + name
        if name in signal.Signals.__members__:
            return int(signal.Signals[name])
    raise UsageError(f"--kill-signal: unknown signal {raw!r}")


def _lock_name(given: str | None) -> str:
    """--lock NAME, "default" when not given; an empty name is refused (by markers.check_name), not
    defaulted."""
    return DEFAULT_LOCK if given is None else given


def main(argv: list[str]) -> int:
    parsed = parse(
        argv, OPTIONS, prog="seq-hooks run", usage=USAGE_LINE, summary=SUMMARY, command=True
    )
    command = _command(parsed)
    ctx = context.load()
    s = ctx.settings
    limits = runner.limits(
        s,
        timeout=s.pipeline_timeout
        if parsed.flag("pipeline") and parsed.number("timeout") is None
        else parsed.number("timeout"),
        kill_after=parsed.number("kill_after"),
        kill_signal=parse_signal(kill) if (kill := parsed.text("kill_signal")) else None,
        memory_limit_mb=parsed.integer("memory_limit"),
        max_procs=parsed.integer("max_procs"),
    )
    max_wait = parsed.number("max_wait")
    threads = parsed.integer("threads")
    request = Request(
        argv=command,
        limits=limits,
        lock=None if parsed.flag("no_lock") else _lock_name(parsed.text("lock")),
        retry=parsed.integer("retry") or 0,
        max_wait=s.max_wait if max_wait is None else max_wait,
        capture=parsed.flag("json"),
        log_path=parsed.text("log"),
        quiet=parsed.flag("quiet"),
        threads=s.threads if threads is None else threads,
        stash=parsed.flag("stash"),
    )
    verbose = parsed.flag("verbose") or s.verbose
    request = _prepared(
        request, ctx, shell=parsed.flag("shell"), verbose=verbose and not parsed.flag("quiet")
    )
    result = execute(request, settings=s, state_dir=ctx.state_dir, root=ctx.project.root)
    report(result, as_json=parsed.flag("json"), quiet=parsed.flag("quiet"), verbose=verbose)
    return result.exit_code


def _command(parsed: Parsed) -> list[str]:
    command = parsed.rest
    if not command:
        raise UsageError("no command given (usage: seq-hooks run [OPTIONS] -- CMD [ARGS...])")
    if parsed.flag("no_lock") and parsed.text("lock") is not None:
        raise UsageError("--lock and --no-lock do not go together")
    return command


def _prepared(request: Request, ctx: context.Context, *, shell: bool, verbose: bool) -> Request:
    """The request with --shell applied and a bare command looked up in the project's environment
    when PATH has none (or the project asks for it: project_tools); with --verbose, says what is
    about to run."""
    name = request.argv[0]
    lookup = not shell and bool(name) and os.sep not in name and (
        ctx.settings.project_tools or which(name, os.environ.get("PATH", os.defpath)) is None)
    if not (shell or lookup or verbose):
        return request  # the plain path: nothing to look up, nothing to say
    from seq_hooks.commands import command_line  # shlex, toolenv: only off the plain path

    found = None
    if shell:
        request = request._replace(
            argv=command_line.shell(request.argv), notes=(command_line.SHELL_NOTE,)
        )
    elif lookup:
        argv, found = command_line.in_project(request.argv, ctx, request.limits)
        request = request._replace(argv=argv)
    if verbose:
        for line in command_line.describe(request, found=found, state_dir=ctx.state_dir):
            sys.stderr.write(f"seq-hooks run: {line}\n")
        sys.stderr.flush()
    return request


def report(result: Result, *, as_json: bool, quiet: bool, verbose: bool) -> None:
    if as_json:
        import json  # only for --json: off the plain path

        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
        sys.stdout.flush()
        return
    if result.message and (not quiet or result.reason != Reason.EXIT):
        hint = ""
        if result.reason == Reason.NOT_FOUND:
            from seq_hooks.commands.command_line import not_found_hint  # only when not found

            hint = not_found_hint(result.argv)
        sys.stderr.write(f"seq-hooks run: {result.message}{hint}\n")
    if verbose:
        sys.stderr.write(
            f"seq-hooks run: exit {result.exit_code} ({result.reason}) in "
            f"{result.duration_s:.2f}s, "
            f"waited {result.waited_s:.2f}s, peak {result.peak_rss_mb:.1f} MB, log {result.log}\n"
        )

