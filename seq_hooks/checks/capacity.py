"""The capacity check: how many units each lock runs at once and within what memory, and what fits
this machine."""
from __future__ import annotations

from seq_hooks.checks import INFO, WARNING, Finding, Scene
from seq_hooks.config import DEFAULT_LOCK
from seq_hooks.lock import capacity
from seq_hooks.process import machine

DEFAULTS_WHY = (
    'the defaults: slots = "auto", a slot per CPU, so agents committing at once run side by side; '
    'memory_budget_mb = "auto", half the memory, so together they stay bounded; slots = 1 for one '
    'at '
    "a time"
)


def recommend(cpus: int, total_mb: int) -> str:
    """The setting that fits a machine: slots where there is more than one CPU, always with a memory
    budget."""
    if cpus <= 1:
        return "slots = 1 (one CPU: running units side by side would only make each slower)"
    return (
        f'slots = "auto" ({cpus} here) and memory_budget_mb = "auto" '
        f'({capacity.auto_budget_mb(total_mb)} MB '
        "here), the defaults"
    )


def capacity_check(scene: Scene) -> list[Finding]:
    s = scene.settings
    cpus, total = machine.usable_cpus(), machine.memory_total_mb()
    out = []
    names = [DEFAULT_LOCK, *sorted(n for n in s.locks if n != DEFAULT_LOCK)]
    for name in names:
        cap = capacity.for_lock(s, name)
        what = f"lock {name!r}: {cap.slots} slot{'s' if cap.slots != 1 else ''}"
        if cap.exclusive:
            what += " (one unit at a time)"
        else:
            what += f", memory budget {cap.budget_mb} MB" if cap.budget_mb else ", no memory budget"
        if capacity.at_defaults(s, name):
            what += f" ({DEFAULTS_WHY})"
        if cap.slots > cpus:
            out.append(
                Finding(
                    WARNING,
                    "capacity",
                    f"{what}: more slots than the {cpus} CPUs this process may use; "
                    "units that need a CPU each only slow each other down",
                    'slots = "auto"',
                )
            )
        elif cap.budget_mb > total:
            out.append(
                Finding(
                    WARNING,
                    "capacity",
                    f"{what}: the budget is over the {total} MB this machine has",
                    'memory_budget_mb = "auto"',
                )
            )
        elif cap.slots > 1 and not cap.budget_mb:
            out.append(
                Finding(
                    WARNING,
                    "capacity",
                    f"{what}: units run side by side without a memory budget",
                    f'memory_budget_mb = "auto" ({capacity.auto_budget_mb(total)} MB here)',
                )
            )
        else:
            out.append(Finding(INFO, "capacity", what))
    best = recommend(cpus, total)
    out.append(
        Finding(
            INFO,
            "capacity",
            f"this machine: {cpus} CPU{'s' if cpus != 1 else ''} this process may use, "
            f"{total} MB of memory; recommended: {best}",
        )
    )
    return out
