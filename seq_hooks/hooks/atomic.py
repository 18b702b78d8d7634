"""The one atomic runner behind every hook: run a tool once per unit (a file, or a batch) through
the lock.

A hook run reads its words (`words`), picks its files (`files`), finds the tool (`toolenv`), cuts
the files into units and runs them one after another through the project's queue (`units`).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from seq_hooks import context, runner, toolenv
from seq_hooks.config import HookSettings, Settings
from seq_hooks.entry import guard
from seq_hooks.errors import OK
from seq_hooks.hooks import files, units
from seq_hooks.hooks.words import COMMON_OPTIONS, Syntax, Words, split_words, texts
from seq_hooks.options import Option
from seq_hooks.process.supervisor import Limits
from seq_hooks.records import NamedTuple


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
    # identify tags (any of them) for files found or given by hand
    types: tuple[str, ...] = ("file",)
    ok_codes: frozenset[int] = frozenset({0})
    dashdash: bool = False  # the tool takes `--` before file names (ruff, mypy; pytest does not)
    extra: tuple[Option, ...] = ()  # flag options of this hook only
    # the files to run (atomic-pytest: the matching tests)
    plan: Callable[[Job], list[str]] | None = None
    adjust: Callable[[Job, toolenv.Tool], list[str]] | None = None  # the tool's final options
    # drop `path:line: ...` lines an earlier unit printed (mypy reports imported modules too)
    dedupe: bool = False
    # before the user's options, which may undo them (ruff: --fix / --no-fix)
    default_args: tuple[str, ...] = ()
    # files per unit unless --batch or the hook's table says otherwise (0: all; docs/hooks.md)
    batch: int = 1
    # another way to run each unit (atomic-mypy: its daemon), given the tool and its final options;
    # None: execute
    via: Callable[[Job, toolenv.Tool, list[str], HookSettings], units.Via | None] | None = None


def syntax(spec: Spec) -> Syntax:
    usage = ("[OPTIONS] -- TOOL [ARGS...] [-- FILES...]" if spec.tool is None
             else f"[OPTIONS] [{spec.tool.upper()} OPTIONS] [FILES...]")
    return Syntax(
        spec.hook_id, usage, spec.summary, (*COMMON_OPTIONS, *spec.extra), spec.tool is None
    )


def run(spec: Spec, argv: list[str]) -> int:
    words = split_words(syntax(spec), argv)
    ctx = context.load()
    hook = ctx.settings.hooks.get(spec.hook_id, HookSettings())
    under_pre_commit = os.environ.get("PRE_COMMIT") == "1"
    verbose = bool(words.values["verbose"])
    job = _job(spec, words, ctx, hook, under_pre_commit)
    tool_name = spec.tool or words.tool_cmd[0]
    if not job.files:  # e.g. a change with no matching test file: the tool is not even looked up
        if verbose or not under_pre_commit:
            sys.stdout.write(f"{spec.hook_id}: no files to run {tool_name} on\n")
        return OK
    limits = runner.limits(ctx.settings, hook)
    tool = _find_tool(tool_name, spec.tool is None, ctx, limits)
    if verbose:
        sys.stdout.write(f"{spec.hook_id}: {tool.name} from {tool.source}: {' '.join(tool.argv)}\n")
    tool_args = spec.adjust(job, tool) if spec.adjust is not None else job.tool_args
    head = [*tool.argv, *tool_args, *(["--"] if spec.dashdash else [])]
    cut = batches(job.files, _batch_size(words, hook, spec.batch))
    via = spec.via(job, tool, tool_args, hook) if spec.via is not None else None
    plan = units.Plan(
        spec.hook_id,
        head,
        cut,
        limits,
        spec.ok_codes,
        spec.dashdash,
        spec.dedupe,
        tool.source,
        runner.unit_threads(ctx.settings, hook),
        via,
    )
    show = units.Show(verbose, verbose or sys.stdout.isatty(), under_pre_commit and not verbose,
                      bool(words.values["fail_fast"]))
    return units.run_units(plan, ctx, show)


def _job(
    spec: Spec, words: Words, ctx: context.Context, hook: HookSettings, under_pre_commit: bool
) -> Job:
    """The files to run and the tool's options so far."""
    chosen = files.select(words.files, texts(words, "types") or spec.types, ctx.project.root,
                          under_pre_commit=under_pre_commit)
    given = [*words.tool_args, *(hook.args or ())]
    tool_args = [*spec.fixed_args, *_defaults_not_given(spec.default_args, given), *given]
    flags = {opt.dest: bool(words.values.get(opt.dest)) for opt in spec.extra}
    job = Job(chosen, ctx.settings, ctx.project.root, flags, tool_args)
    return job._replace(files=spec.plan(job)) if spec.plan is not None else job


def _defaults_not_given(defaults: tuple[str, ...], given: list[str]) -> list[str]:
    """The hook's default options the user did not give, in either sense (`--fix` / `--no-fix`):
    ruff refuses a flag given twice, and pre-commit configurations carry `args: [--fix]`."""
    said = {word.partition("=")[0] for word in given}
    return [d for d in defaults if d not in said and "--no-" + d[2:] not in said]


def _batch_size(words: Words, hook: HookSettings, default: int) -> int:
    """Files per unit: --batch, else `batch` in the hook's table, else the hook's own default; 0
    means all."""
    given = words.values["batch"]
    if isinstance(given, int):
        return given
    return hook.batch if hook.batch is not None else default


def batches(names: list[str], size: int) -> list[list[str]]:
    size = size or len(names)
    return [names[i : i + size] for i in range(0, len(names), size)]


def _find_tool(name: str, generic: bool, ctx: context.Context, limits: Limits) -> toolenv.Tool:
    if generic and os.sep in name:
        return toolenv.Tool(name, (name,), "the path given", None)

    prepare = runner.preparer(
        limits, settings=ctx.settings, state_dir=ctx.state_dir, root=ctx.project.root
    )
    return toolenv.find(name, root=ctx.project.root, settings=ctx.settings, prepare=prepare)


def main(spec: Spec, argv: Sequence[str] | None = None) -> int:
    """A hook's console script: `def main(argv=None) -> int: return atomic.main(SPEC, argv)`."""
    return guard(spec.hook_id, lambda args: run(spec, args), sys.argv[1:] if argv is None else argv,
                 program=argv is None)
