"""Running a hook's units one after another through the lock, and saying how each went.

Each unit goes through `runner.execute` in this process (lock "default", supervisor, log, journal),
so units of every hook, worktree and terminal of the project queue in one FIFO line, and a unit
nested under an installed git hook queues on the holder's child queue. A unit's failure does not
stop the others unless --fail-fast.
"""
from __future__ import annotations

import os
import sys
import time

from seq_hooks import context, logfile
from seq_hooks.config import DEFAULT_LOCK
from seq_hooks.errors import FAILED, OK, Reason
from seq_hooks.process.supervisor import Limits
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.runner import Request, Result, execute, new_token

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO, TypeAlias

    # runs one unit (its request, its files) another way than `execute`: atomic-mypy's daemon
    Via: TypeAlias = Callable[[Request, list[str], context.Context], Result]


class Plan(NamedTuple):
    """What to run: `head` (tool and options) followed by each unit's files."""

    prog: str  # the hook id, which starts every line we print
    head: list[str]
    units: list[list[str]]
    limits: Limits
    ok_codes: frozenset[int]
    dashdash: bool  # the head ends with `--`: file names go as they are
    dedupe: bool  # leave out `path:line: ...` lines an earlier unit printed
    source: str  # where the tool came from, for the summary
    threads: int = 0  # the tools' thread and worker cap in each unit (`threads`); 0 = none
    # runs each unit another way than `execute` (atomic-mypy: through its daemon)
    via: Via | None = None


class Show(NamedTuple):
    verbose: bool
    progress: bool  # a line per unit
    quiet_when_ok: bool  # no summary when every unit passed (pre-commit)
    fail_fast: bool


class Done(NamedTuple):
    """How one unit went."""

    name: str  # its file, or `first (+N more)`
    state: str  # ok, MODIFIED, FAIL, skipped
    why: str  # for FAIL: exit 1, timeout: ..., ...
    waited: float
    # for FAIL: the unit's files the tool's output names (the ones that failed)
    named: tuple[str, ...] = ()


def run_units(plan: Plan, ctx: context.Context, show: Show) -> int:
    start = time.monotonic()
    log_path = _log_path(plan.prog, ctx)
    # the log, held from the first unit to the end: retention leaves it alone meanwhile
    held: list[int] = []
    try:
        return _run_all(plan, ctx, show, log_path, held, start)
    finally:
        for fd in held:
            os.close(fd)


def _run_all(
    plan: Plan, ctx: context.Context, show: Show, log_path: str, held: list[int], start: float
) -> int:
    shown: set[str] = set()  # the diagnostic lines printed so far (dedupe)
    done: list[Done] = []
    for n, unit in enumerate(plan.units, 1):
        present = _present(plan.prog, unit)
        if not present:
            done.append(Done(unit[0], "skipped", "", 0.0))
            continue
        if not held:
            held.append(logfile.hold(log_path))
        result, unit_done = _run_one(plan, present, ctx, log_path)
        done.append(unit_done)
        _report(plan, show, n, unit_done, result, shown)
        if result.reason == Reason.INTERRUPTED:
            _summary(plan, done, start)
            return result.exit_code
        if unit_done.state == "FAIL" and show.fail_fast:
            if left := len(plan.units) - n:
                sys.stderr.write(
                    f"{plan.prog}: --fail-fast: {left} unit{'s' * (left != 1)} not run\n"
                )
            break
    if not show.quiet_when_ok or any(d.state in ("FAIL", "MODIFIED") for d in done):
        _summary(plan, done, start)  # pre-commit fails a hook that modified files: say which
    return FAILED if any(d.state == "FAIL" for d in done) else OK


def _present(prog: str, unit: list[str]) -> list[str]:
    """The unit's files that still exist; a note for each one that is gone."""
    present = [f for f in unit if os.path.lexists(f)]
    for f in unit:
        if f not in present:
            sys.stderr.write(f"{prog}: {f}: skipped (the file no longer exists)\n")
    return present


def _run_one(
    plan: Plan, files: list[str], ctx: context.Context, log_path: str
) -> tuple[Result, Done]:
    before = [_stat(f) for f in files]
    argv = [*plan.head, *(files if plan.dashdash else [safe_name(f) for f in files])]
    request = Request(
        argv,
        plan.limits,
        lock=DEFAULT_LOCK,
        max_wait=ctx.settings.max_wait,
        capture=True,
        log_path=log_path,
        threads=plan.threads,
    )
    if plan.via is not None:
        result = plan.via(request, files, ctx)
    else:
        result = execute(
            request, settings=ctx.settings, state_dir=ctx.state_dir, root=ctx.project.root
        )
    changed = any(_stat(f) != b for f, b in zip(files, before, strict=True))
    if result.exit_code in plan.ok_codes and result.reason == Reason.EXIT:
        return result, Done(unit_name(files), "MODIFIED" if changed else "ok", "", result.waited_s)
    named = files_named(result.stdout + "\n" + result.stderr, files) if len(files) > 1 else ()
    return result, Done(unit_name(files), "FAIL", why(result), result.waited_s, named)


def files_named(output: str, files: list[str]) -> tuple[str, ...]:
    """The files that the tool's output names where it reports a problem: `path:line...` (ruff,
    mypy, most linters; ruff's ` --> path:line`), `FAILED path::test` and `ERROR path` (pytest)."""
    lines = [line.lstrip() for line in output.splitlines()]
    found: list[str] = []
    for f in files:
        marks = tuple(
            m
            for shown in {f, safe_name(f)}
            for m in (f"{shown}:", f"--> {shown}:", f"FAILED {shown}::", f"ERROR {shown}")
        )
        if any(line.startswith(marks) for line in lines):
            found.append(f)
    return tuple(found)


def _report(plan: Plan, show: Show, n: int, done: Done, result: Result, shown: set[str]) -> None:
    out, err = sys.stdout, sys.stderr
    if show.progress:
        note = f"  ({done.why})" if done.why else ""
        out.write(
            f"{plan.prog}: [{n}/{len(plan.units)}] {done.state:<8} {done.name}  "
            f"{result.duration_s:.2f}s  "
            f"{result.peak_rss_mb:.0f} MB{note}\n"
        )
    if show.verbose or done.state != "ok":
        out.flush()
        _write(out, dedupe(result.stdout, shown) if plan.dedupe else result.stdout)
        _write(err, result.stderr)
        err.flush()


def _summary(plan: Plan, done: list[Done], start: float) -> None:
    units = len(plan.units)
    files = sum(len(u) for u in plan.units)
    line = (f"{plan.prog}: {units} unit{'s' * (units != 1)} ({files} file{'s' * (files != 1)}): "
            f"{counts(done, units)} in {time.monotonic() - start:.2f}s (waited "
            f"{sum(d.waited for d in done):.2f}s for the lock; {plan.source})")
    lines = [line, *(f"{plan.prog}: failed: {name}: {d.why}" for d in done if d.state == "FAIL"
                     for name in d.named or (d.name,))]
    _write(sys.stdout, "\n".join(lines))
    sys.stdout.flush()


def counts(done: list[Done], units: int) -> str:
    """`3 passed (1 after modifying files), 1 failed, 1 skipped, 2 not run`: a unit whose tool fixed
    its files passed (pre-commit fails the hook for the modification itself)."""
    by_state = {s: sum(d.state == s for d in done) for s in ("ok", "MODIFIED", "FAIL", "skipped")}
    passed, modified = by_state["ok"] + by_state["MODIFIED"], by_state["MODIFIED"]
    parts = [f"{passed} passed"]
    if modified:
        parts[0] += (
            " after modifying files"
            if modified == passed
            else f" ({modified} after modifying files)"
        )
    for state, word in (("FAIL", "failed"), ("skipped", "skipped")):
        if by_state[state]:
            parts.append(f"{by_state[state]} {word}")
    if not_run := units - len(done):
        parts.append(f"{not_run} not run")
    return ", ".join(parts)


def dedupe(text: str, shown: set[str]) -> str:
    """The output without the diagnostic lines (`path:line: error: ...`) that an earlier unit
    already printed."""
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


def safe_name(path: str) -> str:
    """A file name that no tool can take for an option."""
    return "./" + path if path.startswith("-") else path


def unit_name(files: list[str]) -> str:
    return files[0] if len(files) == 1 else f"{files[0]} (+{len(files) - 1} more)"


def why(result: Result) -> str:
    if result.reason == Reason.EXIT:
        return f"exit {result.exit_code}"
    if result.reason == Reason.SIGNAL:
        return f"killed by signal {result.exit_code - 128} (exit {result.exit_code})"
    return (
        f"{result.reason}: {result.message}"
        if result.message
        else f"{result.reason} (exit {result.exit_code})"
    )


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _write(stream: TextIO, text: str) -> None:
    if text:
        stream.write(text if text.endswith("\n") else text + "\n")


def _log_path(prog: str, ctx: context.Context) -> str:
    """One log for the whole hook run, a section per unit: creating a file per unit costs ~0.4 ms on
    ext4."""
    log_dir = logfile.ready(ctx.settings, ctx.state_dir, ctx.project.root)
    return logfile.default_path(log_dir, new_token(), time.time(), label=prog)
