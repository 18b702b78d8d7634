"""`atomic-pytest`: the tests that match the changed files, 8 test files per unit, through the
project lock.

A changed test file (test_*.py, *_test.py) runs itself; a changed source file runs the test files
named after it (test_<name>.py, <name>_test.py; a package's __init__.py: the package's name) under
the configured test_paths; a changed conftest.py runs the test files under its directory; --all runs
every test file. pytest's exit 5 (nothing collected) is not a failure.
xdist is kept from starting workers inside a unit: `-n 0` when pytest, asked with the unit's
options, its configuration and PYTEST_ADDOPTS, has the plugin active (not when the user turned it
off with `-p no:xdist`: pytest would refuse `-n`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from seq_hooks.errors import FatalError
from seq_hooks.hooks import atomic
from seq_hooks.hooks.atomic import Job, Spec
from seq_hooks.hooks.files import listed_files
from seq_hooks.options import Option
from seq_hooks.process.spawn import output
from seq_hooks.toolenv import Tool


def is_test_file(path: str) -> bool:
    base = os.path.basename(path)
    return base.endswith(".py") and (base.startswith("test_") or base.endswith("_test.py"))


def test_files(job: Job) -> list[str]:
    """Every test file under the configured test paths, relative to the working directory."""
    seen: dict[str, None] = {}
    for top in job.settings.test_paths:
        where = os.path.relpath(os.path.join(job.root, top))
        if not os.path.isdir(where):
            continue
        for f in listed_files(job.root, where):
            if is_test_file(f) and os.path.isfile(f):
                seen.setdefault(os.path.normpath(f), None)
    return list(seen)


def plan(job: Job) -> list[str]:
    if job.flags.get("all"):
        return test_files(job)
    tests: list[str] | None = None
    out: dict[str, None] = {}
    for f in job.files:
        if is_test_file(f):
            out.setdefault(f, None)
            continue
        base = os.path.basename(f)
        if not base.endswith(".py"):
            continue
        tests = test_files(job) if tests is None else tests
        if base == "conftest.py":
            top = os.path.dirname(os.path.normpath(f))
            for t in tests:
                if not top or t.startswith(top + os.sep):
                    out.setdefault(t, None)
            continue
        stem = base[:-3]
        if stem == "__init__":  # a package's own code: its tests are named after the package
            stem = os.path.basename(os.path.dirname(os.path.normpath(f)))
        for t in tests:
            if os.path.basename(t) in (f"test_{stem}.py", f"{stem}_test.py"):
                out.setdefault(t, None)
    return list(out)


def _interpreter(tool: Tool) -> str | None:
    """The Python that runs pytest: `python -m pytest`, the script's shebang, or the python beside
    it."""
    if len(tool.argv) > 1:
        return tool.argv[0]
    try:
        with open(tool.argv[0], "rb") as f:
            first = f.readline(4096)
    except OSError:
        return None
    if first.startswith(b"#!"):
        words = first[2:].decode(errors="replace").split()
        if words and os.path.basename(words[0]).startswith("python") and os.path.isfile(words[0]):
            return words[0]
    beside = os.path.join(os.path.dirname(tool.argv[0]), "python")
    return beside if os.path.isfile(beside) else None


# exit 0 when xdist is active for these arguments: importable, and loaded by pytest's own
# configuration (its ini file's addopts, PYTEST_ADDOPTS, `-p no:xdist` anywhere, plugin
# autoloading); the import is skipped where xdist is not even installed. _prepareconfig is what
# pytest.main itself calls first (pytest 3 to 9).
_XDIST_ACTIVE = """import importlib.util, sys
if importlib.util.find_spec("xdist") is None:
    sys.exit(1)
from _pytest.config import _prepareconfig
sys.exit(not _prepareconfig(sys.argv[1:]).pluginmanager.hasplugin("xdist"))
"""


def xdist_active(python: str, args: list[str]) -> bool:
    """Whether pytest, run by `python` with `args` here, has the xdist plugin active."""
    try:
        return output([python, "-c", _XDIST_ACTIVE, *args], timeout=60).code == 0
    except FatalError:
        return False


# what atomic-pytest adds where xdist is active: one unit is one process tree
NO_WORKERS = ["-n", "0"]


def adjust(job: Job, tool: Tool) -> list[str]:
    args = list(job.tool_args)
    python = _interpreter(tool)
    # last, so it wins over addopts and the hook's args: one unit is one process tree, not a worker
    # pool
    if job.files and python is not None and xdist_active(python, [*args, *job.files]):
        args += NO_WORKERS
    return args


SPEC = Spec(
    hook_id="atomic-pytest",
    tool="pytest",
    summary="Run the test files that match the changed files, a few per unit through the project "
            "lock.",
    types=("python",),
    ok_codes=frozenset({0, 5}),
    extra=(
        Option(("--all",), "all", help="run every test file under the test paths, one unit each"),
    ),
    plan=plan,
    adjust=adjust,
    # test files per unit: pytest's start-up paid once per 8 files, a unit a handful of files
    # (docs/hooks.md)
    batch=8,
)


def main(argv: Sequence[str] | None = None) -> int:
    return atomic.main(SPEC, argv)


if __name__ == "__main__":
    raise SystemExit(main())
