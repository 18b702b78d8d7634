"""Checks of the environment: the SEQ_HOOKS_* variables, the guides' names that seq-hooks honours as
fallbacks, and the `.env` files the guides had users write."""
from __future__ import annotations

import os
import re

from seq_hooks import config
from seq_hooks.checks import INFO, PROBLEM, WARNING, Finding, Scene
from seq_hooks.errors import UsageError

TOPIC = "environment"
ENV_FILES = (".env", ".env.development")


def meaning(key: str) -> str:
    """What setting `key` means, as its declaration says it, with the page's links reduced to their
    text."""
    return re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", config.SETTINGS[key].meaning)


def _guide_names() -> list[str]:
    return [n for names in config.ENV_NAMES.values() for n in names if config.is_generic(n)]


def _variable(key: str, name: str, winner: str | None) -> Finding:
    value = os.environ[name].strip()
    prefixed = next(n for n in config.ENV_NAMES[key] if not config.is_generic(n))
    try:
        config.env_value(key, name, value)
    except UsageError as e:
        if not config.is_generic(name):
            return Finding(PROBLEM, TOPIC, e.message, f"unset {name} or correct it")
        return Finding(
            WARNING,
            TOPIC,
            f"{name}={value} is ignored: it does not parse as {key} (a generic name, "
            "maybe set for another tool)",
            f"set {prefixed} to configure seq-hooks",
        )
    if name != winner:
        return Finding(INFO, TOPIC, f"{name}={value} is ignored: {winner} wins")
    origin = " (the guides' name, honoured as a fallback)" if config.is_generic(name) else ""
    return Finding(INFO, TOPIC, f"{name}={value}{origin} -> {key} = {value}: {meaning(key)}")


def _winner(key: str) -> str | None:
    """The variable whose value counts for `key` (the first that is set and, for a generic name,
    parses)."""
    for name in config.ENV_NAMES[key]:
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                config.env_value(key, name, raw)
            except UsageError:
                if config.is_generic(name):
                    continue
            return name
    return None


def env_file_settings(path: str) -> dict[str, str]:
    """The variables seq-hooks honours that a `.env`-style file sets (`NAME=value`, `export
    NAME=value`)."""
    try:
        text = (config.read_regular(path) or b"").decode("utf-8")
    except (UsageError, UnicodeDecodeError):
        return {}
    honoured = {n for names in config.ENV_NAMES.values() for n in names}
    found = {}
    for m in re.finditer(
        r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=[\"']?([^\"'#\n]*)", text, re.MULTILINE
    ):
        if m.group(1) in honoured:
            found[m.group(1)] = m.group(2).strip()
    return found


def _env_file(root: str, name: str) -> Finding | None:
    found = env_file_settings(os.path.join(root, name))
    if not found:
        return None
    said = []
    for var, value in found.items():
        key = next(k for k, names in config.ENV_NAMES.items() if var in names)
        here = (
            "set here too"
            if os.environ.get(var, "").strip() == value
            else "NOT in your environment"
        )
        said.append(f"{var}={value} -> {key} ({here})")
    return Finding(
        INFO,
        TOPIC,
        f"{name} sets {'; '.join(said)}. seq-hooks reads the environment, not this file",
        f"`set -a; . ./{name}; set +a` in your shell, or put the values in [tool.seq-hooks] of "
        "pyproject.toml",
    )


def variables(scene: Scene) -> list[Finding]:
    out = []
    for key, names in config.ENV_NAMES.items():
        winner = _winner(key)
        out += [_variable(key, n, winner) for n in names if os.environ.get(n, "").strip()]
    out += [f for name in ENV_FILES if (f := _env_file(scene.root, name)) is not None]
    if not out:
        out.append(
            Finding(
                INFO, TOPIC, f"none of the guides' variables ({', '.join(_guide_names())}) is set"
            )
        )
    return out
