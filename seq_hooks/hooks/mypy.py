"""`atomic-mypy`: mypy over all the files in one unit by default (--batch N: N files per unit,
sharing the cache).

mypy's own follow_imports setting stays: with the default ("normal") a unit also reports errors in
the modules its file imports (printed once: later units leave out the lines already shown), and
later units load those modules from the cache. --follow-imports=silent would report each error by
its own file only, but it defeats mypy's cache: 0.3 s instead of 0.1 s per file on a warm cache
(rich 13.7.1, docs/performance.md). When mypy comes from elsewhere than the project's interpreter,
it is pointed at that interpreter (--python-executable) so the project's installed packages are
found.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from seq_hooks import context
from seq_hooks.config import HookSettings
from seq_hooks.hooks import atomic, units
from seq_hooks.hooks.atomic import Job, Spec
from seq_hooks.options import Option
from seq_hooks.runner import Request, Result, execute
from seq_hooks.toolenv import Tool


def _runs_in(tool: Tool, python: str) -> bool:
    if len(tool.argv) > 1:  # python -m mypy
        return tool.argv[0] == python
    return os.path.dirname(tool.argv[0]) == os.path.dirname(python)


def adjust(job: Job, tool: Tool) -> list[str]:
    args = list(job.tool_args)
    if (
        tool.python
        and not _runs_in(tool, tool.python)
        and not any(a.startswith("--python-executable") for a in args)
    ):
        args.append(f"--python-executable={tool.python}")
    return args


def note(text: str) -> None:
    sys.stderr.write(f"{SPEC.hook_id}: {text}\n")


def daemon(job: Job, tool: Tool, tool_args: list[str], hook: HookSettings) -> units.Via | None:
    """Each unit through the worktree's mypy daemon (daemons/mypyd.py), unless `daemon = false` in
    the hook's table or --no-daemon; None when plain mypy runs."""
    from seq_hooks.daemons import mypyd, tend  # only for mypy

    if job.flags.get("no_daemon") or hook.daemon is False:
        return None
    setup = mypyd.plan(
        tool.argv, tool_args, mypyd.IDLE_S if hook.daemon_idle_s is None else hook.daemon_idle_s
    )
    if isinstance(setup, str):
        note(f"daemon: off ({setup}); plain mypy")
        return None
    expired: list[bool] = []

    def via(request: Request, files: list[str], ctx: context.Context) -> Result:
        if not expired:
            tend.expire(ctx.state_dir)  # once per hook run: the idle daemons of every worktree stop
            expired.append(True)

        def run(r: Request) -> Result:
            return execute(r, settings=ctx.settings, state_dir=ctx.state_dir, root=ctx.project.root)

        return mypyd.run_unit(
            setup,
            request,
            files,
            state_dir=ctx.state_dir,
            settings=ctx.settings,
            execute=run,
            note=note,
        )

    return via


SPEC = Spec(
    hook_id="atomic-mypy",
    tool="mypy",
    summary="Run mypy on the files (all in one unit, or --batch N per unit) through the project "
            "lock.",
    types=("python", "pyi"),
    dashdash=True,
    adjust=adjust,
    dedupe=True,
    extra=(
        Option(
            ("--no-daemon",),
            "no_daemon",
            help="run plain mypy for each unit, not the worktree's mypy "
            "daemon (also: daemon = false in the hook's table)",
        ),
    ),
    via=daemon,
    # all in one unit: mypy checks what each file imports anyway; per file it did that 4 times
    # (docs/hooks.md)
    batch=0,
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
