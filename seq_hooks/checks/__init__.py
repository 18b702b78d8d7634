"""`seq-hooks doctor`'s checks: each is a function of the `Scene` that returns its findings."""
from __future__ import annotations

from seq_hooks.config import Settings
from seq_hooks.records import NamedTuple

OK, INFO, WARNING, PROBLEM = "ok", "info", "warning", "problem"  # only a problem fails doctor


class Finding(NamedTuple):
    level: str  # ok, info, warning, problem
    topic: str
    text: str
    fix: str = ""


class Scene(NamedTuple):
    """What every check looks at, found once."""

    root: str
    settings: Settings  # the defaults when the configuration is refused
    config_error: str | None  # why the configuration is refused
    state: str  # the state dir ("" when its path is refused)
    state_error: str | None  # why the state dir's path is refused
    state_usable: bool  # the queue in it may be read
