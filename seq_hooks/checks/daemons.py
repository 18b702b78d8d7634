"""`doctor`'s look at the resident daemons (atomic-mypy's mypy daemons): alive, idle, stopped, or
failed."""
from __future__ import annotations

import time

from seq_hooks import display, sizes
from seq_hooks.checks import INFO, OK, WARNING, Finding, Scene
from seq_hooks.daemons import mypyd, record
from seq_hooks.daemons.record import Record

TOPIC = "daemons"


def daemon_check(scene: Scene) -> list[Finding]:
    if not scene.state_usable:
        return []
    now = time.time()
    return [_finding(r, now) for r in record.all_records(scene.state)]


def _finding(r: Record, now: float) -> Finding:
    where = f"the {r.kind} daemon of {r.worktree}"
    if r.failed:
        return Finding(
            INFO,
            TOPIC,
            f"{where} is not used ({r.failed}): atomic-mypy runs plain mypy until the "
            "configuration changes",
            "seq-hooks clean forgets it (the next commit tries again)",
        )
    if not record.alive(r):
        return Finding(
            INFO,
            TOPIC,
            f"{where} (pid {r.pid}) is gone; its record stays until the next "
            "atomic-mypy run or seq-hooks clean",
        )
    idle = now - r.last_used
    said = (
        f"{where}: pid {r.pid}, {sizes.megabytes(record.rss_mb(r))}, idle {display.seconds(idle)} "
        f"(stops after {display.seconds(r.idle_s)})"
    )
    if record.stopped(r):
        return Finding(
            WARNING,
            TOPIC,
            f"{said}; it is stopped (SIGSTOP): the next unit ends it and starts a fresh one",
            f"kill -CONT {r.pid}, or seq-hooks clean",
        )
    if idle > r.idle_s + 60:
        return Finding(
            WARNING, TOPIC, f"{said}; it should have stopped by itself", "seq-hooks clean"
        )
    if (why := mypyd.changed(r)) is not None:
        return Finding(INFO, TOPIC, f"{said}; {why}: the next unit starts a fresh one")
    return Finding(OK, TOPIC, said)
