"""Checks of fan-out inside a unit: a pytest configuration that starts xdist workers (`-n auto`, `-n
N` in addopts), and what the `threads` setting does about it."""
from __future__ import annotations

import configparser
import os
import shlex
import sys

from seq_hooks.checks import INFO, PROBLEM, Finding, Scene
from seq_hooks.config import read_regular
from seq_hooks.errors import UsageError
from seq_hooks.hooks.pytest import NO_WORKERS
from seq_hooks.process.threadcaps import XDIST_WORKERS, caps
from seq_hooks.records import TYPE_CHECKING

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


if TYPE_CHECKING:
    from typing import Any

TOPIC = "pytest"
# where pytest reads addopts from, in its order: (file, section)
INI_FILES = (
    ("pytest.ini", "pytest"),
    (".pytest.ini", "pytest"),
    ("pyproject.toml", ""),
    ("tox.ini", "pytest"),
    ("setup.cfg", "tool:pytest"),
)


def _ini_addopts(path: str, section: str) -> str | None:
    parser = configparser.RawConfigParser()
    try:
        parser.read_string((read_regular(path) or b"").decode("utf-8"), path)
    except (configparser.Error, UnicodeDecodeError, UsageError):
        return None
    return parser.get(section, "addopts", fallback=None) if parser.has_section(section) else None


def _toml_addopts(path: str) -> str | None:
    try:
        doc: Any = tomllib.loads((read_regular(path) or b"").decode("utf-8"))
    except (UsageError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    pytest = doc.get("tool", {}).get("pytest", {}) if isinstance(doc.get("tool"), dict) else {}
    table = pytest.get("ini_options", pytest) if isinstance(pytest, dict) else {}
    value = table.get("addopts") if isinstance(table, dict) else None
    return " ".join(shlex.quote(str(v)) for v in value) if isinstance(value, list) else value


def addopts(root: str) -> tuple[str, str] | None:
    """(file, addopts) of the pytest configuration pytest would use at the project root, when it has
    addopts."""
    for name, section in INI_FILES:
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            continue
        value = _toml_addopts(path) if name == "pyproject.toml" else _ini_addopts(path, section)
        if value is not None:
            return name, value
    return None


def workers(options: str) -> str | None:
    """The xdist worker count in `options` ("auto", "logical" or a number), None when it has
    none."""
    try:
        words = shlex.split(options)
    except ValueError:
        words = options.split()
    found = None
    for i, word in enumerate(words):
        for flag in ("-n", "--numprocesses"):
            if word == flag and i + 1 < len(words):
                found = words[i + 1]
            elif word.startswith(flag + "=") or (
                flag == "-n" and word.startswith("-n") and len(word) > 2 and word[2:3] != "-"
            ):
                found = word[len(flag) + 1:] if word.startswith(flag + "=") else word[2:]
    return found


def fan_out(scene: Scene) -> list[Finding]:
    found = addopts(scene.root)
    n = workers(found[1]) if found else None
    if found is None or n is None or n == "0":
        return []
    name, threads = found[0], scene.settings.threads
    no_workers = " ".join(NO_WORKERS)
    if n in ("auto", "logical"):
        # what a unit's environment gets from `threads`, as the runner adds it (threadcaps.caps)
        capped = caps(threads, {}).get(XDIST_WORKERS) if threads else None
        if capped is not None:
            return [
                Finding(
                    INFO,
                    TOPIC,
                    f"{name}: addopts has `-n {n}`; seq-hooks sets {XDIST_WORKERS}={capped} in "
                    f"every unit (threads = {threads}), so a unit starts {capped} "
                    f"worker{'s' * (capped != '1')}; atomic-pytest runs with {no_workers}",
                )
            ]
        return [
            Finding(
                PROBLEM,
                TOPIC,
                f"{name}: addopts has `-n {n}`: `seq-hooks run -- pytest` (or `make test` "
                "through it) starts one xdist worker per CPU inside one unit, behind the "
                f"queue's back (atomic-pytest adds {no_workers}, nothing else does)",
                "set `threads = 1` (or N) in [tool.seq-hooks]: every unit then gets "
                f"{XDIST_WORKERS} and "
                "the other tools' caps",
            )
        ]
    if n.isdigit() and threads and int(n) <= threads:
        return [Finding(INFO, TOPIC, f"{name}: addopts has `-n {n}`, within threads = {threads}")]
    return [
        Finding(
            PROBLEM,
            TOPIC,
            f"{name}: addopts has `-n {n}`: every pytest run starts {n} xdist workers inside "
            "one unit; a fixed count is not reachable from the environment, so `threads` "
            f"cannot cap it (atomic-pytest adds {no_workers})",
            "use `-n auto` with `threads = N` in [tool.seq-hooks], or leave -n out of addopts",
        )
    ]
