"""The one atomic runner behind every hook: run a tool once per unit (a file, or a batch) through the lock.

Each unit goes through `runner.execute` in this process (lock "default", supervisor, log, journal), so units of
every hook, worktree and terminal of the project queue in one FIFO line, and a unit nested under an installed
git hook queues on the holder's child queue. A unit's failure does not stop the others unless --fail-fast.

Words on the command line: our own options (before any `--`), then the tool's options and the file names
that pre-commit appends. A word that names an existing path is a file (even with a leading dash); any other
word starting with `-` is a tool option; a plain word right after a tool option is that option's value
(`--select E501`); after `--` every word is a file. The generic hook takes `-- TOOL [ARGS...] [-- FILES]`.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, TextIO

from seq_hooks import config, context, logfile, toolenv
from seq_hooks.config import HookSettings, Settings
from seq_hooks.errors import FAILED, OK, USAGE, FatalError, UsageError
from seq_hooks.options import HelpRequested, Option, convert, render_help
from seq_hooks.runner import Request, Result, execute, new_token
from seq_hooks.supervisor import Limits

COMMON_OPTIONS = (
    Option(("--batch",), "batch", "int", "files per unit (default 1, or `batch` in config; 0 = all in one)", "N"),
    Option(("--fail-fast",), "fail_fast", help="stop after the first unit that fails"),
    Option(("--verbose",), "verbose", help="a line per unit, every unit's output, and which tool was used"),
    Option(("--type",), "types", "append", "by hand: only files with this identify tag (repeatable)", "TAG"),
)


class Job(NamedTuple):
    """What a hook run has to do, handed to a Spec's `plan` and `adjust`."""

    files: list[str]  # paths relative to the working directory, in order
    settings: Settings
    root: str  # the project's top directory
    flags: dict[str, bool]  # the hook's extra flag options (atomic-pytest --all)
    tool_args: list[str]  # the tool's options so far (config args, then command-line args)


class Spec(NamedTuple):
    hook_id: str
    tool: str | None  # None: the generic hook, TOOL follows `--`
    summary: str
    fixed_args: tuple[str, ...] = ()  # right after the tool: ("check", "--force-exclude")
    types: tuple[str, ...] = ("file",)  # identify tags (any of them) for files found or given by hand
    ok_codes: frozenset[int] = frozenset({0})
    dashdash: bool = False  # the tool takes `--` before file names (ruff, mypy; pytest does not)
    extra: tuple[Option, ...] = ()  # flag options of this hook only
    plan: Callable[[Job], list[str]] | None = None  # the files to run (atomic-pytest: the matching tests)
    adjust: Callable[[Job, toolenv.Tool], list[str]] | None = None  # the tool's final options
    dedupe: bool = False  # drop `path:line: ...` lines an earlier unit printed (mypy reports imported modules too)


class Words(NamedTuple):
    values: dict[str, object]  # our options by dest (read with the helpers below)
    tool_cmd: list[str]  # the generic hook's TOOL [ARGS...] head; [] for the others
    tool_args: list[str]
    files: list[str]


def split_words(spec: Spec, argv: list[str]) -> Words:
    """Our options, the tool's options and the file names (see the module docstring for the rules)."""
    options = (*COMMON_OPTIONS, *spec.extra)
    ours = {name: opt for opt in options for name in opt.names}
    values: dict[str, object] = {opt.dest: [] if opt.kind == "append" else None for opt in options}
    tool_cmd: list[str] = []
    tool_args: list[str] = []
    files: list[str] = []
    generic = spec.tool is None
    stage = "ours"  # ours -> tool (generic, after the first --) -> files (after the last --)
    value_may_follow = False
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if stage == "files":
            files.append(word)
            continue
        if word == "--":
            if generic and stage == "ours":
                if i >= len(argv):
                    raise UsageError(f"no tool after -- (usage: {spec.hook_id} -- TOOL [ARGS...])")
                tool_cmd = [argv[i]]
                i += 1
                stage = "tool"
                if "--" in argv[i:]:  # `-- TOOL ARGS -- FILES`: ARGS are the tool's, whatever they look like
                    end = argv.index("--", i)
                    tool_args += argv[i:end]
                    i = end + 1
                    stage = "files"
            else:
                stage = "files"
            continue
        if stage == "ours" and word in ("-h", "--help"):
            raise HelpRequested(render_help(spec.hook_id, _usage(spec), spec.summary, options))
        name, eq, inline = word.partition("=")
        opt = ours.get(name) if stage == "ours" else None
        if opt is not None:
            if opt.kind == "flag":
                if eq:
                    raise UsageError(f"{name} takes no value")
                values[opt.dest] = True
                continue
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"{name} needs a value")
                inline = argv[i]
                i += 1
            value = convert(opt, name, inline)
            current = values[opt.dest]
            if isinstance(current, list):
                current.append(str(value))
            else:
                values[opt.dest] = value
            continue
        if generic and stage == "ours":
            raise UsageError(f"unexpected {word!r} (usage: {spec.hook_id} -- TOOL [ARGS...])")
        if os.path.lexists(word):
            files.append(word)
            value_may_follow = False
        elif word.startswith("-") and word != "-":
            tool_args.append(word)
            value_may_follow = not eq and not files
        elif value_may_follow:
            tool_args.append(word)
            value_may_follow = False
        else:
            files.append(word)  # a file that is gone: skipped with a note
    if generic and not tool_cmd:
        raise UsageError(f"no tool given (usage: {spec.hook_id} -- TOOL [ARGS...])")
    return Words(values, tool_cmd, tool_args, files)


def _texts(words: Words, dest: str) -> list[str]:
    v = words.values.get(dest)
    return [str(x) for x in v] if isinstance(v, list) else []


def _usage(spec: Spec) -> str:
    if spec.tool is None:
        return "[OPTIONS] -- TOOL [ARGS...] [-- FILES...]"
    return f"[OPTIONS] [{spec.tool.upper()} OPTIONS] [FILES...]"


def listed_files(root: str, under: str = ".") -> list[str]:
    """Tracked and untracked-but-not-ignored files, relative to the working directory."""
    from seq_hooks.spawn import output

    got = output(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", under])
    if got.code != 0:
        if under == "." and not os.path.isdir(os.path.join(root, ".git")) and not os.path.exists(".git"):
            raise FatalError("no files given, and this is not a git repository to list them from", USAGE)
        raise FatalError(f"git ls-files failed: {got.stderr.strip() or f'exit {got.code}'}")
    seen: dict[str, None] = {}
    for name in got.stdout.split("\0"):
        if name:
            seen.setdefault(name, None)
    return list(seen)


def _matches(path: str, types: Sequence[str]) -> bool:
    if "file" in types:
        return True
    from identify.identify import tags_from_path

    try:
        return bool(tags_from_path(path).intersection(types))
    except ValueError:  # gone since it was listed
        return False


def select_files(words: Words, spec: Spec, root: str, under_pre_commit: bool) -> list[str]:
    """pre-commit's files as they are (it filtered them already); by hand, the files given or listed, by type."""
    types = _texts(words, "types") or list(spec.types)
    if words.files and under_pre_commit:
        return list(words.files)
    if not words.files:
        return [f for f in listed_files(root) if _matches(f, types)]
    out: list[str] = []
    for f in words.files:
        if os.path.isdir(f) and not os.path.islink(f):
            out += [g for g in listed_files(root, f) if _matches(g, types)]
        elif not os.path.lexists(f) or _matches(f, types):
            out.append(f)
    return out


def _safe_name(path: str) -> str:
    """A file name that no tool can take for an option."""
    return "./" + path if path.startswith("-") else path


def _unit_name(files: list[str]) -> str:
    return files[0] if len(files) == 1 else f"{files[0]} (+{len(files) - 1} more)"


def _why(result: Result) -> str:
    if result.reason == "exit":
        return f"exit {result.exit_code}"
    if result.reason == "signal":
        return f"killed by signal {result.exit_code - 128} (exit {result.exit_code})"
    return f"{result.reason}: {result.message}" if result.message else f"{result.reason} (exit {result.exit_code})"


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _limits(settings: Settings, hook: HookSettings) -> Limits:
    """Per-hook values override the [tool.seq-hooks] ones; SEQ_HOOKS_* environment variables override both."""
    env = config.from_env(os.environ)

    def pick(key: str, hook_value: float | None, default: float) -> float:
        if key in env:
            return float(env[key])
        return default if hook_value is None else hook_value

    return Limits(
        timeout=pick("timeout", hook.timeout, settings.timeout),
        kill_after=settings.kill_after,
        memory_limit_mb=int(pick("memory_limit_mb", hook.memory_limit_mb, settings.memory_limit_mb)),
        max_procs=settings.max_procs,
        check_interval=min(settings.check_interval, 0.25) if settings.check_interval > 0 else 0.25,
    )


def _write(stream: TextIO, text: str) -> None:
    if text:
        stream.write(text if text.endswith("\n") else text + "\n")


def _find_tool(spec: Spec, words: Words, ctx: context.Context) -> toolenv.Tool:
    name = spec.tool or words.tool_cmd[0]
    if spec.tool is None and os.sep in name:
        return toolenv.Tool(name, (name,), "the path given", None)
    return toolenv.find(name, root=ctx.project.root, settings=ctx.settings, state_dir=ctx.state_dir)


def run(spec: Spec, argv: list[str]) -> int:
    words = split_words(spec, argv)
    ctx = context.load()
    hook = ctx.settings.hooks.get(spec.hook_id, HookSettings())
    verbose = bool(words.values["verbose"])
    under_pre_commit = os.environ.get("PRE_COMMIT") == "1"
    flags = {opt.dest: bool(words.values.get(opt.dest)) for opt in spec.extra}

    tool_args = [*spec.fixed_args, *words.tool_args, *(hook.args or ())]
    files = select_files(words, spec, ctx.project.root, under_pre_commit)
    job = Job(files, ctx.settings, ctx.project.root, flags, tool_args)
    if spec.plan is not None:
        job = job._replace(files=spec.plan(job))
    if not job.files:  # e.g. a change with no matching test file: the tool is not even looked up
        if verbose or not under_pre_commit:
            sys.stdout.write(f"{spec.hook_id}: no files to run {spec.tool or words.tool_cmd[0]} on\n")
        return OK
    tool = _find_tool(spec, words, ctx)
    if verbose:
        sys.stdout.write(f"{spec.hook_id}: {tool.name} from {tool.source}: {' '.join(tool.argv)}\n")
    if spec.adjust is not None:
        tool_args = spec.adjust(job, tool)

    batch = words.values["batch"]
    size = batch if isinstance(batch, int) else (hook.batch if hook.batch is not None else 1)
    size = size or len(job.files)
    units = [job.files[i : i + size] for i in range(0, len(job.files), size)]
    head = [*tool.argv, *tool_args, *(["--"] if spec.dashdash else [])]
    return _run_units(spec.hook_id, spec, units, head, _limits(ctx.settings, hook), ctx,
                      verbose=verbose, progress=verbose or sys.stdout.isatty(),
                      quiet_when_ok=under_pre_commit and not verbose, fail_fast=bool(words.values["fail_fast"]),
                      source=tool.source)


def _dedupe(text: str, shown: set[str]) -> str:
    """The output without the diagnostic lines (`path:line: error: ...`) that an earlier unit already printed."""
    kept: list[str] = []
    dropped = 0
    for line in text.splitlines():
        head, _, rest = line.partition(": ")
        if rest and ":" in head and head.rsplit(":", 1)[-1].isdigit():
            if line in shown:
                dropped += 1
                continue
            shown.add(line)
        kept.append(line)
    if dropped:
        kept.append(f"({dropped} line{'s' * (dropped != 1)} shown above by an earlier unit)")
    return "\n".join(kept)


def _log_path(prog: str, ctx: context.Context) -> str:
    """One log for the whole hook run, a section per unit: creating a file per unit costs ~0.4 ms on ext4."""
    log_dir = logfile.log_dir(ctx.settings, ctx.state_dir, ctx.project.root)
    return logfile.default_path(log_dir, new_token(), time.time(), label=prog)


def _run_units(prog: str, spec: Spec, units: list[list[str]], head: list[str], limits: Limits,
               ctx: context.Context, *, verbose: bool, progress: bool, quiet_when_ok: bool, fail_fast: bool,
               source: str) -> int:
    out, err = sys.stdout, sys.stderr
    start = time.monotonic()
    log_path = _log_path(prog, ctx)
    failed: list[tuple[str, str]] = []
    shown: set[str] = set()
    passed = skipped = modified = 0
    waited = 0.0
    ran = 0
    for n, unit in enumerate(units, 1):
        present = [f for f in unit if os.path.lexists(f)]
        for f in unit:
            if f not in present:
                err.write(f"{prog}: {f}: skipped (the file no longer exists)\n")
        if not present:
            skipped += 1
            continue
        before = [_stat(f) for f in present]
        argv = [*head, *(present if spec.dashdash else [_safe_name(f) for f in present])]
        request = Request(argv, limits, lock="default", max_wait=ctx.settings.max_wait, capture=True,
                          log_path=log_path)
        result = execute(request, settings=ctx.settings, state_dir=ctx.state_dir, root=ctx.project.root)
        ran += 1
        waited += result.waited_s
        ok = result.exit_code in spec.ok_codes and result.reason == "exit"
        changed = [f for f, b in zip(present, before, strict=True) if _stat(f) != b]
        name = _unit_name(present)
        if ok:
            passed += 1
            modified += bool(changed)
            state = "MODIFIED" if changed else "ok"
        else:
            failed.append((name, _why(result)))
            state = "FAIL"
        if progress:
            why = "" if ok else f"  ({_why(result)})"
            out.write(f"{prog}: [{n}/{len(units)}] {state:<8} {name}  {result.duration_s:.2f}s  "
                      f"{result.peak_rss_mb:.0f} MB{why}\n")
        if verbose or not ok or changed:
            out.flush()
            _write(out, _dedupe(result.stdout, shown) if spec.dedupe else result.stdout)
            _write(err, result.stderr)
            err.flush()
        if result.reason == "interrupted":
            _summary(prog, out, units, ran, passed, failed, skipped, modified, start, waited, source)
            return result.exit_code
        if failed and fail_fast:
            left = len(units) - n
            if left:
                err.write(f"{prog}: --fail-fast: {left} unit{'s' * (left != 1)} not run\n")
            break
    if failed or modified or not quiet_when_ok:  # pre-commit fails a hook that modified files: say which
        _summary(prog, out, units, ran, passed, failed, skipped, modified, start, waited, source)
    return FAILED if failed else OK


def _summary(prog: str, out: TextIO, units: list[list[str]], ran: int, passed: int, failed: list[tuple[str, str]],
             skipped: int, modified: int, start: float, waited: float, source: str) -> None:
    files = sum(len(u) for u in units)
    parts = [f"{passed} passed"]
    if modified:
        parts.append(f"{modified} modified")
    if failed:
        parts.append(f"{len(failed)} failed")
    if skipped:
        parts.append(f"{skipped} skipped")
    not_run = len(units) - ran - skipped
    if not_run:
        parts.append(f"{not_run} not run")
    line = (f"{prog}: {len(units)} unit{'s' * (len(units) != 1)} ({files} file{'s' * (files != 1)}): "
            f"{', '.join(parts)} in {time.monotonic() - start:.2f}s (waited {waited:.2f}s for the lock; "
            f"{source})")
    _write(out, line)
    for name, why in failed:
        _write(out, f"{prog}: failed: {name}: {why}")
    out.flush()


def main(spec: Spec, argv: Sequence[str] | None = None) -> int:
    """A hook's console script: `def main(argv=None) -> int: return atomic.main(SPEC, argv)`."""
    from seq_hooks.entry import guard

    return guard(spec.hook_id, lambda args: run(spec, args), sys.argv[1:] if argv is None else argv)
