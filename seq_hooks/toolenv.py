"""Which ruff / mypy / pytest a hook runs: the project's own first, the hook's environment last.

mypy and pytest must import the project's dependencies, which live in the project's virtualenv, not in the
environment pre-commit builds for the hook (pre-commit declined to run hooks in the project's env: its
issues #761 and #2133). Order: a configured interpreter ([tool.seq-hooks] python or SEQ_HOOKS_PYTHON),
`.venv`, `venv`, the environment `uv run` uses when the project has uv.lock and uv is installed, the hook's
own environment, then the rest of PATH. The lookup happens once per hook run, never per unit.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import NamedTuple

from seq_hooks.config import Settings
from seq_hooks.errors import USAGE, FatalError

VENV_NAMES = (".venv", "venv")


class Tool(NamedTuple):
    name: str  # ruff, mypy, pytest
    argv: tuple[str, ...]  # the command prefix: ("/repo/.venv/bin/ruff",) or (python, "-m", "mypy")
    source: str  # where it was found, for --verbose and messages
    python: str | None  # the project's interpreter when one was found (maybe not the one that runs the tool)


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _which(name: str, path: str, skip: tuple[str, ...] = ()) -> str | None:
    for d in path.split(os.pathsep):
        if not d or os.path.abspath(d) in skip:
            continue
        candidate = os.path.join(d, name)
        if _executable(candidate):
            return candidate
    return None


def _configured(settings: Settings, root: str, env: Mapping[str, str]) -> str | None:
    """The configured interpreter as an absolute path; a configured one that is missing is an error."""
    raw = settings.python
    if not raw:
        return None
    where = "SEQ_HOOKS_PYTHON" if env.get("SEQ_HOOKS_PYTHON") else f"{settings.source}: [tool.seq-hooks] python"
    if os.sep in raw:
        path = raw if os.path.isabs(raw) else os.path.join(root, raw)
        found = path if _executable(path) else None
    else:
        found = _which(raw, env.get("PATH", os.defpath))
    if found is None:
        raise FatalError(f"{where}: the interpreter {raw!r} does not exist or is not executable", USAGE)
    return os.path.abspath(found)


def _module_available(python: str, module: str) -> bool:
    from seq_hooks.spawn import output

    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        return output([python, "-c", probe], timeout=60).code == 0
    except FatalError:
        return False


def _uv_prefix(root: str, env: Mapping[str, str], settings: Settings, state_dir: str) -> str | None:
    """The environment `uv run` uses for the project (uv creates and syncs it if needed: a unit of its own)."""
    uv = _which("uv", env.get("PATH", os.defpath))
    if uv is None or not os.path.isfile(os.path.join(root, "uv.lock")):
        return None
    from seq_hooks.runner import Request, execute
    from seq_hooks.supervisor import Limits

    argv = [uv, "run", "--frozen", "--project", root, "python", "-c", "import sys; print(sys.prefix)"]
    limits = Limits(timeout=settings.timeout, kill_after=settings.kill_after,
                    memory_limit_mb=settings.memory_limit_mb, max_procs=settings.max_procs)
    result = execute(Request(argv, limits, capture=True, quiet=True), settings=settings, state_dir=state_dir,
                     root=root)
    lines = result.stdout.strip().splitlines()
    if result.exit_code != 0 or not lines:
        detail = (result.stderr.strip().splitlines() or [result.message or f"exit {result.exit_code}"])[-1]
        raise FatalError(f"`uv run` could not prepare the project's environment (uv.lock is there): {detail}", USAGE)
    return lines[-1]


def find(name: str, *, root: str, settings: Settings, state_dir: str,
         env: Mapping[str, str] | None = None) -> Tool:
    """The tool to run, or a FatalError (exit 2) that says where we looked and how to fix it."""
    env = os.environ if env is None else env
    looked: list[str] = []
    project_python: str | None = None

    configured = _configured(settings, root, env)
    if configured is not None:
        project_python = configured
        beside = os.path.join(os.path.dirname(configured), name)
        if _executable(beside):
            return Tool(name, (beside,), f"the configured interpreter {configured}", project_python)
        if _module_available(configured, name):
            return Tool(name, (configured, "-m", name), f"the configured interpreter {configured}", project_python)
        looked.append(f"the configured interpreter {configured}")

    for venv in VENV_NAMES:
        bindir = os.path.join(root, venv, "bin")
        python = os.path.join(bindir, "python")
        if not _executable(python):
            continue
        project_python = project_python or python
        candidate = os.path.join(bindir, name)
        if _executable(candidate):
            return Tool(name, (candidate,), f"the project's virtualenv {os.path.join(root, venv)}", project_python)
        looked.append(f"the project's virtualenv {venv}")
    if not any(os.path.isdir(os.path.join(root, v)) for v in VENV_NAMES) and configured is None:
        looked.append("the project's virtualenv (no .venv or venv)")

    prefix = _uv_prefix(root, env, settings, state_dir)
    if prefix is not None:
        candidate = os.path.join(prefix, "bin", name)
        project_python = project_python or os.path.join(prefix, "bin", "python")
        if _executable(candidate):
            return Tool(name, (candidate,), f"uv run (the project's environment {prefix})", project_python)
        looked.append(f"the environment of `uv run` ({prefix})")

    own = os.path.dirname(sys.executable)
    candidate = os.path.join(own, name)
    if _executable(candidate):
        return Tool(name, (candidate,), f"the hook's own environment {os.path.dirname(own)}", project_python)
    looked.append("the hook's own environment")

    on_path = _which(name, env.get("PATH", os.defpath), skip=(os.path.abspath(own),))
    if on_path is not None:
        return Tool(name, (on_path,), f"PATH ({on_path})", project_python)
    looked.append("PATH")

    raise FatalError(
        f"{name} not found (looked in {', '.join(looked)}). Install {name} into the project's virtualenv "
        f"(.venv), point [tool.seq-hooks] python or SEQ_HOOKS_PYTHON at an interpreter that has it, or add "
        f"it to the hook in .pre-commit-config.yaml: additional_dependencies: [{name}]",
        USAGE,
    )
