"""Which ruff / mypy / pytest a hook runs: the project's own first, the hook's environment last.

mypy and pytest must import the project's dependencies, which live in the project's virtualenv, not
in the environment pre-commit builds for the hook (pre-commit declined to run hooks in the project's
env: its issues #761 and #2133). Order: a configured interpreter ([tool.seq-hooks] python or
SEQ_HOOKS_PYTHON), `.venv`, `venv`, the environment `uv run` uses when the project has uv.lock and
uv is installed, the hook's own environment, then the rest of PATH. The lookup happens once per hook
run, never per unit.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from seq_hooks.config import Settings
from seq_hooks.errors import USAGE, FatalError
from seq_hooks.process.spawn import output, which
from seq_hooks.records import NamedTuple

VENV_NAMES = (".venv", "venv")


class Tool(NamedTuple):
    name: str  # ruff, mypy, pytest
    argv: tuple[str, ...]  # the command prefix: ("/repo/.venv/bin/ruff",) or (python, "-m", "mypy")
    source: str  # where it was found, for --verbose and messages
    # the project's interpreter when one was found (maybe not the one that runs the tool)
    python: str | None


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _configured(settings: Settings, root: str, env: Mapping[str, str]) -> str | None:
    """The configured interpreter as an absolute path; a configured one that is missing is an
    error."""
    raw = settings.python
    if not raw:
        return None
    where = (
        "SEQ_HOOKS_PYTHON"
        if env.get("SEQ_HOOKS_PYTHON")
        else f"{settings.source}: [tool.seq-hooks] python"
    )
    if os.sep in raw:
        path = raw if os.path.isabs(raw) else os.path.join(root, raw)
        found = path if _executable(path) else None
    else:
        found = which(raw, env.get("PATH", os.defpath))
    if found is None:
        raise FatalError(
            f"{where}: the interpreter {raw!r} does not exist or is not executable", USAGE
        )
    return os.path.abspath(found)


def has_module(python: str, module: str) -> bool:
    """Whether `python` can import `module` (without importing it)."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        return output([python, "-c", probe], timeout=60).code == 0
    except FatalError:
        return False


# runs a preparation command as a unit through the queue: (exit code, stdout, the last line of why
# it failed)
Prepare = Callable[[list[str]], tuple[int, str, str]]


def _uv_prefix(root: str, env: Mapping[str, str], prepare: Prepare) -> str | None:
    """The environment `uv run` uses for the project (uv creates and syncs it if needed: the caller
    runs that as a unit of its own)."""
    uv = which("uv", env.get("PATH", os.defpath))
    if uv is None or not os.path.isfile(os.path.join(root, "uv.lock")):
        return None
    code, stdout, why = prepare([uv, "run", "--frozen", "--project", root, "python", "-c",
                                 "import sys; print(sys.prefix)"])
    lines = stdout.strip().splitlines()
    if code != 0 or not lines:
        raise FatalError(
            f"`uv run` could not prepare the project's environment (uv.lock is there): {why}", USAGE
        )
    return lines[-1]


Found = tuple[tuple[str, ...], str]  # the command prefix and where it was found


def find(name: str, *, root: str, settings: Settings, prepare: Prepare,
         env: Mapping[str, str] | None = None) -> Tool:
    """The tool to run, or a FatalError (exit 2) that says where we looked and how to fix it.
    `prepare` runs uv's preparation of the project's environment when the search gets that far."""
    env = os.environ if env is None else env
    looked: list[str] = []
    configured = _configured(settings, root, env)
    venvs = _venvs(root)
    # the project's interpreter, for mypy and pytest
    python = configured or (venvs[0][1] if venvs else None)
    found = _in_configured(name, configured, looked) if configured else None
    found = found or _in_venvs(name, root, venvs, looked, say_none=configured is None)
    if found is None and (prefix := _uv_prefix(root, env, prepare)) is not None:
        python = python or os.path.join(prefix, "bin", "python")
        found = _in_dir(
            name, os.path.join(prefix, "bin"), f"uv run (the project's environment {prefix})"
        )
        looked += [] if found else [f"the environment of `uv run` ({prefix})"]
    found = found or _in_own_env(name, looked) or _on_path(name, env, looked)
    if found is None:
        raise FatalError(
            f"{name} not found (looked in {', '.join(looked)}). Install {name} into the project's "
            "virtualenv "
            "(.venv), point [tool.seq-hooks] python or SEQ_HOOKS_PYTHON at an interpreter that "
            "has it, or add "
            f"it to the hook in .pre-commit-config.yaml: additional_dependencies: [{name}]",
            USAGE,
        )
    return Tool(name, found[0], found[1], python)


def _in_dir(name: str, bindir: str, source: str) -> Found | None:
    candidate = os.path.join(bindir, name)
    return ((candidate,), source) if _executable(candidate) else None


def _in_configured(name: str, python: str, looked: list[str]) -> Found | None:
    """The tool beside the configured interpreter, else its module run by that interpreter."""
    source = f"the configured interpreter {python}"
    found = _in_dir(name, os.path.dirname(python), source)
    if found is None and has_module(python, name):
        found = (python, "-m", name), source
    looked += [] if found else [source]
    return found


def _venvs(root: str) -> list[tuple[str, str]]:
    """(name, its python) of the project's virtualenvs, in the order they are tried."""
    pythons = [(v, os.path.join(root, v, "bin", "python")) for v in VENV_NAMES]
    return [(v, python) for v, python in pythons if _executable(python)]


def _in_venvs(name: str, root: str, venvs: list[tuple[str, str]], looked: list[str], *,
              say_none: bool) -> Found | None:
    for venv, python in venvs:
        found = _in_dir(
            name, os.path.dirname(python), f"the project's virtualenv {os.path.join(root, venv)}"
        )
        if found:
            return found
        looked.append(f"the project's virtualenv {venv}")
    if say_none and not any(os.path.isdir(os.path.join(root, v)) for v in VENV_NAMES):
        looked.append("the project's virtualenv (no .venv or venv)")
    return None


def _in_own_env(name: str, looked: list[str]) -> Found | None:
    own = os.path.dirname(sys.executable)
    found = _in_dir(name, own, f"the hook's own environment {os.path.dirname(own)}")
    looked += [] if found else ["the hook's own environment"]
    return found


def _on_path(name: str, env: Mapping[str, str], looked: list[str]) -> Found | None:
    on_path = which(
        name, env.get("PATH", os.defpath), skip=(os.path.abspath(os.path.dirname(sys.executable)),)
    )
    looked += [] if on_path else ["PATH"]
    return ((on_path,), f"PATH ({on_path})") if on_path else None
