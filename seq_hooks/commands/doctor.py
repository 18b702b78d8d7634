"""`seq-hooks doctor`: checks the setup and the machine, and says how to fix each problem found.

The guides' ensure-sequential.sh, done properly: it changes nothing (its `chmod` and hook rewriting
are the job of `install-git-hook` and `clean`), reads the queue without taking it, and finds
leftover processes by run token only. Exit 0 when healthy, 1 when any problem was found. The checks
live in seq_hooks/checks/.
"""
from __future__ import annotations

import sys
from collections.abc import Callable

from seq_hooks import config, display, project
from seq_hooks.checks import (
    INFO,
    OK,
    PROBLEM,
    WARNING,
    Finding,
    Scene,
    environment,
    memory,
    precommit,
    setup,
    threads,
)
from seq_hooks.checks.capacity import capacity_check
from seq_hooks.checks.daemons import daemon_check
from seq_hooks.checks.guides import leftover_calls
from seq_hooks.config import Settings
from seq_hooks.errors import FAILED, UsageError
from seq_hooks.errors import OK as EXIT_OK
from seq_hooks.options import Option, parse

OPTIONS: tuple[Option, ...] = ()
SUMMARY = (
    "Check the configuration, the state directory, stale queue entries, leftover processes of dead "
    "runs, "
    "the git hook, a commit's stash and kept snapshots, the pre-commit configuration, memory "
    "enforcement, "
    "each lock's slots and memory budget (and the setting that fits this machine), atomic-mypy's "
    "daemons "
    "and the guides' environment variables. Changes nothing; exit 1 when something needs fixing."
)

CHECKS: tuple[Callable[[Scene], list[Finding]], ...] = (
    setup.configuration,
    setup.state_dir,
    setup.logs,
    setup.queues,
    setup.git_hook,
    setup.shared_tree,
    precommit.fan_out,
    threads.fan_out,
    memory.memory,
    capacity_check,
    daemon_check,
    environment.variables,
    leftover_calls,
)


def scene(cwd: str | None = None) -> Scene:
    proj = project.find(cwd)
    settings, config_error = Settings(), None
    try:
        settings = config.load(proj.root)
    except UsageError as e:
        config_error = e.message
    state, state_error, usable = "", None, False
    try:
        state = project.state_path(proj, settings.scope)
    except UsageError as e:
        state_error = e.message
    else:
        usable = setup.state_dir_usable(state)[0]
    return Scene(proj.root, settings, config_error, state, state_error, usable)


def run_checks(cwd: str | None = None) -> tuple[str, list[Finding]]:
    where = scene(cwd)
    return where.root, [f for check in CHECKS for f in check(where)]


def render(root: str, findings: list[Finding], colour: bool) -> str:
    codes = {OK: "32", INFO: "2", WARNING: "33", PROBLEM: "31;1"}
    width = max(len(f.topic) for f in findings)
    clean = display.clean  # what the findings quote from the state dir never drives the terminal
    lines = [f"seq-hooks doctor: {clean(root)}"]
    for f in findings:
        label = display.paint(
            f"{f.level.upper() if f.level == PROBLEM else f.level:<8}", codes[f.level], colour
        )
        lines.append(f"  {label} {clean(f.topic):<{width}}  {clean(f.text)}")
        if f.fix:
            lines.append(f"  {'':<8} {'':<{width}}  fix: {clean(f.fix)}")
    problems = sum(1 for f in findings if f.level == PROBLEM)
    lines.append(
        f"{problems} problem{'s' if problems != 1 else ''} found" if problems else "healthy"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parse(argv, OPTIONS, prog="seq-hooks doctor", usage="", summary=SUMMARY)
    root, findings = run_checks()
    sys.stdout.write(render(root, findings, display.use_colour(sys.stdout)))
    return FAILED if any(f.level == PROBLEM for f in findings) else EXIT_OK
