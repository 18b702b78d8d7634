"""Checks of the environment: the SEQ_HOOKS_* variables and the guides' names that seq-hooks honours."""
from __future__ import annotations

import os
import re

from seq_hooks import config
from seq_hooks.checks import INFO, PROBLEM, Finding, Scene
from seq_hooks.errors import UsageError

TOPIC = "environment"
GUIDE_NAMES = ("TIMEOUT", "MEMORY_LIMIT_MB", "PIPELINE_TIMEOUT", "CHECK_INTERVAL")
_MEANING = {
    "timeout": "seconds a unit may run before its whole tree is killed (exit 124)",
    "memory_limit_mb": "MB of resident memory for a unit's whole process tree (the guides counted one process)",
    "pipeline_timeout": "seconds for an outermost lock holder and everything nested in it",
    "check_interval": "longest gap between memory samples; `seq-hooks run` samples at least every 0.25 s "
                      "(the guides' 5 s let a fast allocation overshoot by gigabytes)",
}


def _env_file_names(root: str) -> list[str]:
    path = os.path.join(root, ".env.development")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in lines:
        m = re.match(r"\s*(?:export\s+)?([A-Z_]+)\s*=", line)
        if m and m.group(1) in GUIDE_NAMES:
            found.append(m.group(1))
    return found


def _variable(key: str, name: str, winner: str) -> Finding:
    value = os.environ[name].strip()
    try:
        config.from_env({name: value})
    except UsageError as e:
        return Finding(PROBLEM, TOPIC, e.message, f"unset {name} or give it a number")
    if name != winner:
        return Finding(INFO, TOPIC, f"{name}={value} is ignored: {winner} wins")
    origin = " (the guides' name, honoured as a fallback)" if name in GUIDE_NAMES else ""
    return Finding(INFO, TOPIC, f"{name}={value}{origin} -> {key} = {value}: {_MEANING.get(key, key)}")


def variables(scene: Scene) -> list[Finding]:
    out = []
    for key, names in config.ENV_NAMES.items():
        set_names = [n for n in names if os.environ.get(n, "").strip()]
        out += [_variable(key, name, set_names[0]) for name in set_names]
    in_file = _env_file_names(scene.root)
    if in_file:
        out.append(Finding(INFO, TOPIC,
                           f".env.development sets {', '.join(in_file)}: seq-hooks reads the environment, not this "
                           "file; export them, or put them in [tool.seq-hooks] of pyproject.toml"))
    if not out:
        out.append(Finding(INFO, TOPIC, f"none of the guides' variables ({', '.join(GUIDE_NAMES)}) is set"))
    return out
