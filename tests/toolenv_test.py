"""Where the hooks find ruff, mypy and pytest: the project's own environment first, the hook's
last."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seq_hooks import journal, toolenv
from seq_hooks.config import Settings
from seq_hooks.errors import USAGE, FatalError
from testing.util import run

BIN = Path(sys.executable).parent


def exe(path: Path, body: str = "exit 0") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def venv(root: Path, name: str, *tools: str) -> Path:
    exe(root / name / "bin" / "python")
    for tool in tools:
        exe(root / name / "bin" / tool)
    return root / name


@pytest.fixture
def bare_hook_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The hook's own environment without any tool, and a PATH with nothing on it."""
    hook_python = exe(tmp_path / "hookenv" / "bin" / "python")
    monkeypatch.setattr(sys, "executable", str(hook_python))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    return hook_python.parent


def find(
    name: str, root: Path, settings: Settings | None = None, env: dict[str, str] | None = None
) -> toolenv.Tool:
    return toolenv.find(
        name, root=str(root), settings=settings or Settings(), prepare=no_uv, env=env
    )


def no_uv(argv: list[str]) -> tuple[int, str, str]:
    raise AssertionError(f"uv was asked to prepare an environment: {argv}")


def test_dot_venv_comes_first(isolated: Path, bare_hook_env: Path) -> None:
    venv(isolated, ".venv", "ruff")
    venv(isolated, "venv", "ruff")
    tool = find("ruff", isolated)
    assert tool.argv == (str(isolated / ".venv" / "bin" / "ruff"),)
    assert tool.source == f"the project's virtualenv {isolated / '.venv'}"
    assert tool.python == str(isolated / ".venv" / "bin" / "python")


def test_venv_when_dot_venv_lacks_the_tool(isolated: Path, bare_hook_env: Path) -> None:
    venv(isolated, ".venv")
    venv(isolated, "venv", "mypy")
    tool = find("mypy", isolated)
    assert tool.argv == (str(isolated / "venv" / "bin" / "mypy"),)
    assert tool.python == str(isolated / ".venv" / "bin" / "python")


def test_a_configured_interpreter_wins(isolated: Path, bare_hook_env: Path) -> None:
    venv(isolated, ".venv", "ruff")
    venv(isolated, "tools", "ruff")
    tool = find("ruff", isolated, Settings(python="tools/bin/python"))
    assert tool.argv == (str(isolated / "tools" / "bin" / "ruff"),)
    assert tool.source.startswith("the configured interpreter ")


def test_a_configured_interpreter_runs_the_module_when_no_script_is_beside_it(
    isolated: Path, bare_hook_env: Path
) -> None:
    # a wrapper for our own interpreter, which has ruff installed as a module but no script beside
    # the wrapper
    wrapper = exe(isolated / "py" / "python", f'exec {sys.executable} "$@"')
    tool = find("ruff", isolated, Settings(python=str(wrapper)))
    assert tool.argv == (str(wrapper), "-m", "ruff")


def test_a_configured_interpreter_that_is_missing_is_a_usage_error(
    isolated: Path, bare_hook_env: Path
) -> None:
    with pytest.raises(FatalError) as e:
        find(
            "ruff",
            isolated,
            Settings(python="nowhere/bin/python"),
            env={"SEQ_HOOKS_PYTHON": "nowhere/bin/python"},
        )
    assert e.value.code == USAGE
    assert e.value.message.startswith(
        "SEQ_HOOKS_PYTHON: the interpreter 'nowhere/bin/python' does not exist"
    )


def test_the_hook_environment_then_path(isolated: Path, bare_hook_env: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = exe(tmp_path / "elsewhere" / "mypy")
    monkeypatch.setenv("PATH", f"{bare_hook_env}{os.pathsep}{on_path.parent}")
    assert find("mypy", isolated).argv == (str(on_path),)
    own = exe(bare_hook_env / "mypy")
    tool = find("mypy", isolated)
    assert tool.argv == (str(own),)
    assert tool.source == f"the hook's own environment {bare_hook_env.parent}"
    assert tool.python is None


def test_not_found_is_one_error_that_says_where_it_looked_and_what_to_do(
    isolated: Path, bare_hook_env: Path
) -> None:
    venv(isolated, ".venv")
    with pytest.raises(FatalError) as e:
        find("pytest", isolated)
    assert e.value.code == USAGE
    message = e.value.message
    assert message.startswith(
        "pytest not found (looked in the project's virtualenv .venv, the hook's own "
        "environment, PATH)"
    )
    assert "additional_dependencies: [pytest]" in message
    assert "SEQ_HOOKS_PYTHON" in message


def test_uv_run_when_the_project_has_uv_lock(isolated: Path, tmp_path: Path) -> None:
    """A stand-in uv (on PATH) reports where its environment is; the hook runs the tool from
    there."""
    uv_env = tmp_path / "uv-env"
    calls = tmp_path / "uv-calls"
    exe(uv_env / "bin" / "python")
    exe(uv_env / "bin" / "ruff", f'echo "$@" >> {tmp_path / "ruff-calls"}')
    exe(tmp_path / "uvbin" / "uv", f'echo "$@" >> {calls}; echo {uv_env}')
    (isolated / "uv.lock").write_text("version = 1\n")
    (isolated / "a.py").write_text("x = 1\n")
    path = f"{tmp_path / 'uvbin'}{os.pathsep}{os.environ['PATH']}"
    p = run([str(BIN / "atomic-ruff"), "--verbose", "a.py"], env={**os.environ, "PATH": path})
    assert p.returncode == 0, p.stdout + p.stderr
    assert (
        f"atomic-ruff: ruff from uv run (the project's environment {uv_env}): {uv_env}/bin/ruff"
        in p.stdout
    )
    assert calls.read_text().startswith(f"run --frozen --project {isolated} python -c ")
    assert (tmp_path / "ruff-calls").read_text() == "check --force-exclude --fix -- a.py\n"
    # preparing the environment is a unit of its own, through the lock
    first = journal.read(str(isolated / ".git" / "seq-hooks"))[0]
    assert first.argv[:3] == [str(tmp_path / "uvbin" / "uv"), "run", "--frozen"]


def test_uv_failing_is_one_clear_error(isolated: Path, tmp_path: Path) -> None:
    exe(tmp_path / "uvbin" / "uv", "echo 'error: the lock file is broken' >&2; exit 2")
    (isolated / "uv.lock").write_text("version = 1\n")
    (isolated / "a.py").write_text("x = 1\n")
    path = f"{tmp_path / 'uvbin'}{os.pathsep}{os.environ['PATH']}"
    p = run([str(BIN / "atomic-ruff"), "a.py"], env={**os.environ, "PATH": path})
    assert p.returncode == 2
    assert p.stderr == (
        "atomic-ruff: `uv run` could not prepare the project's environment (uv.lock is there): "
        "error: the lock file is broken\n"
    )


def test_verbose_names_the_project_venv(isolated: Path) -> None:
    """Through the real hook: a project .venv whose ruff is a stand-in that records its
    arguments."""
    record = isolated.parent / "calls"
    venv(isolated, ".venv")
    exe(isolated / ".venv" / "bin" / "ruff", f'echo "$@" >> {record}')
    (isolated / "a.py").write_text("x = 1\n")
    p = subprocess.run(
        [str(BIN / "atomic-ruff"), "--verbose", "a.py"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert f"ruff from the project's virtualenv {isolated / '.venv'}" in p.stdout
    assert record.read_text() == "check --force-exclude --fix -- a.py\n"


def test_has_module_asks_the_interpreter_without_importing() -> None:
    assert toolenv.has_module(sys.executable, "pytest")
    assert not toolenv.has_module(sys.executable, "no_such_module_xyz")
    assert not toolenv.has_module("/nonexistent/python", "pytest")


def test_uv_preparation_is_run_by_the_caller(
    isolated: Path, bare_hook_env: Path, tmp_path: Path
) -> None:
    uv_env = tmp_path / "uv-env"
    exe(uv_env / "bin" / "mypy")
    uv = exe(tmp_path / "empty-path" / "uv")  # on the PATH that bare_hook_env leaves
    (isolated / "uv.lock").write_text("version = 1\n")
    asked: list[list[str]] = []

    def prepare(argv: list[str]) -> tuple[int, str, str]:
        asked.append(argv)
        return 0, f"{uv_env}\n", ""

    tool = toolenv.find("mypy", root=str(isolated), settings=Settings(), prepare=prepare)
    assert tool.argv == (str(uv_env / "bin" / "mypy"),)
    assert asked[0][:4] == [str(uv), "run", "--frozen", "--project"]
    # a project venv with the tool never asks uv
    venv(isolated, ".venv", "mypy")
    asked.clear()
    assert (
        toolenv.find("mypy", root=str(isolated), settings=Settings(), prepare=prepare)
        .argv[0]
        .startswith(str(isolated / ".venv"))
    )
    assert asked == []
