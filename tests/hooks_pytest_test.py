"""atomic-pytest: which test files a change runs, and how their results count."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from seq_hooks import journal
from seq_hooks.config import Settings
from seq_hooks.hooks import pytest as pytest_hook
from seq_hooks.hooks.atomic import Job
from seq_hooks.toolenv import Tool
from testing.util import run

BIN = Path(sys.executable).parent
LAYOUT = {
    "src/pkg/mod.py": "",
    "src/pkg/other.py": "",
    "tests/test_mod.py": "",
    "tests/mod_test.py": "",
    "tests/sub/conftest.py": "",
    "tests/sub/test_deep.py": "",
    "scripts/test_mod.py": "",
}


def layout(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def plan(
    root: Path, files: list[str], test_paths: tuple[str, ...] = ("tests",), all_: bool = False
) -> list[str]:
    job = Job(files, Settings(test_paths=test_paths), str(root), {"all": all_}, [])
    return pytest_hook.plan(job)


def test_a_source_file_runs_the_tests_named_after_it(isolated: Path) -> None:
    layout(isolated, LAYOUT)
    assert sorted(plan(isolated, ["src/pkg/mod.py"])) == ["tests/mod_test.py", "tests/test_mod.py"]
    assert plan(isolated, ["src/pkg/other.py"]) == []
    # test_paths decides where to look: "." is the whole repository
    assert sorted(plan(isolated, ["src/pkg/mod.py"], (".",))) == [
        "scripts/test_mod.py",
        "tests/mod_test.py",
        "tests/test_mod.py",
    ]


def test_a_packages_init_runs_the_tests_named_after_the_package(isolated: Path) -> None:
    layout(
        isolated,
        {**LAYOUT, "src/calc/__init__.py": "", "tests/test_calc.py": "", "__init__.py": ""},
    )
    assert plan(isolated, ["src/calc/__init__.py"]) == ["tests/test_calc.py"]
    assert sorted(plan(isolated, ["src/mod/__init__.py"])) == [
        "tests/mod_test.py",
        "tests/test_mod.py",
    ]
    assert plan(isolated, ["__init__.py"]) == []  # the repository's own: no package name


def test_a_test_file_runs_itself_and_conftest_runs_its_directory(isolated: Path) -> None:
    layout(isolated, LAYOUT)
    assert plan(isolated, ["scripts/test_mod.py"]) == ["scripts/test_mod.py"]
    assert plan(isolated, ["tests/sub/conftest.py"]) == ["tests/sub/test_deep.py"]
    assert (
        plan(isolated, ["tests/sub/test_deep.py", "src/pkg/mod.py", "tests/sub/test_deep.py"])[0]
        == "tests/sub/test_deep.py"
    )


def test_all_runs_every_test_file_under_the_test_paths(isolated: Path) -> None:
    layout(isolated, LAYOUT)
    assert sorted(plan(isolated, [], all_=True)) == ["tests/mod_test.py", "tests/sub/test_deep.py",
                                                    "tests/test_mod.py"]


PASSING = "def test_ok():\n    assert True\n"
FAILING = "def test_bad():\n    assert 2 + 2 == 5\n"


def test_runs_matching_tests_in_one_unit_and_names_the_failing_file(isolated: Path) -> None:
    layout(isolated, {"calc.py": "", "tests/test_calc.py": PASSING, "tests/calc_test.py": FAILING,
                      "tests/test_unrelated.py": FAILING})
    p = run([str(BIN / "atomic-pytest"), "calc.py"], env={**os.environ, "PRE_COMMIT": "1"})
    assert p.returncode == 1, p.stdout + p.stderr
    assert [line for line in p.stdout.splitlines() if ": failed: " in line] == [
        "atomic-pytest: failed: tests/calc_test.py: exit 1"]
    assert "1 unit (2 files): 0 passed, 1 failed" in p.stdout
    assert "assert 2 + 2 == 5" in p.stdout  # the failing unit's output
    ran = [sorted(r.argv[-2:]) for r in journal.read(str(isolated / ".git" / "seq-hooks"))]
    assert ran == [["tests/calc_test.py", "tests/test_calc.py"]]
    p = run(
        [str(BIN / "atomic-pytest"), "--batch", "1", "calc.py"],
        env={**os.environ, "PRE_COMMIT": "1"},
    )
    assert "2 units (2 files): 1 passed, 1 failed" in p.stdout


def test_nothing_collected_is_not_a_failure(isolated: Path) -> None:
    layout(isolated, {"tests/test_empty.py": "VALUE = 1\n"})
    p = run([str(BIN / "atomic-pytest"), "--verbose", "tests/test_empty.py"], env=dict(os.environ))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no tests ran" in p.stdout
    assert journal.read(str(isolated / ".git" / "seq-hooks"))[-1].exit == 5


def test_all_one_unit_per_test_file(isolated: Path) -> None:
    layout(isolated, {f"tests/test_{i}.py": PASSING for i in range(3)})
    p = run(
        [str(BIN / "atomic-pytest"), "--all", "--batch", "1"], env={**os.environ, "PRE_COMMIT": "1"}
    )
    assert (p.returncode, p.stdout) == (0, "")
    ran = sorted(r.argv[-1] for r in journal.read(str(isolated / ".git" / "seq-hooks")))
    assert ran == ["tests/test_0.py", "tests/test_1.py", "tests/test_2.py"]


@pytest.mark.parametrize("name", ["test_sp ace.py", "test_ünï.py", "-dash_test.py"])
def test_odd_test_file_names_reach_pytest_intact(isolated: Path, name: str) -> None:
    layout(isolated, {name: FAILING})
    p = run([str(BIN / "atomic-pytest"), name], env={**os.environ, "PRE_COMMIT": "1"})
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"atomic-pytest: failed: {name}: exit 1" in p.stdout
    assert "1 failed" in p.stdout  # pytest ran the test (exit 4 would be a usage error)


def test_xdist_is_kept_from_starting_workers_where_it_is_installed(isolated: Path) -> None:
    """This venv has pytest-xdist (dev extras): the hook adds `-n 0` last; a python without it gets
    nothing."""
    job = Job(["tests/test_a.py"], Settings(), str(isolated), {}, ["-q"])
    assert pytest_hook.adjust(job, Tool("pytest", (str(BIN / "pytest"),), "here", None)) == [
        "-q",
        "-n",
        "0",
    ]
    bare = isolated / "bare-python"
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")  # no site-packages: no xdist
    bare.chmod(0o755)
    assert pytest_hook.adjust(job, Tool("pytest", (str(bare), "-m", "pytest"), "here", None)) == [
        "-q"
    ]


@pytest.mark.parametrize("where", ["pytest.ini", "PYTEST_ADDOPTS", "args"])
def test_xdist_turned_off_by_the_user_gets_no_n_0(isolated: Path, where: str) -> None:
    """`-p no:xdist` (the pipeline guide's pytest.ini) where xdist is installed: pytest is asked
    whether the plugin is active, and is not given `-n 0`, which it would refuse (exit 4,
    unrecognized arguments: -n)."""
    files = {"tests/test_one.py": "def test_one():\n    assert True\n"}
    if where == "pytest.ini":
        files["pytest.ini"] = "[pytest]\naddopts =\n    -v\n    -p no:xdist\n"
    layout(isolated, files)
    env = {**os.environ, "PRE_COMMIT": "1"}
    if where == "PYTEST_ADDOPTS":
        env["PYTEST_ADDOPTS"] = "-p no:xdist"
    args = ["-p", "no:xdist"] if where == "args" else []
    p = run([str(BIN / "atomic-pytest"), *args, "tests/test_one.py"], env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "-n" not in journal.read(str(isolated / ".git" / "seq-hooks"))[-1].argv


def test_addopts_n_auto_does_not_start_a_worker_pool_inside_a_unit(isolated: Path) -> None:
    layout(isolated, {
        "pyproject.toml": "[tool.pytest.ini_options]\naddopts = \"-n 2\"\n",
        "tests/test_where.py": "import os\n\ndef test_not_in_a_worker():\n"
                               "    assert 'PYTEST_XDIST_WORKER' not in os.environ\n",
    })
    p = run(
        [str(BIN / "atomic-pytest"), "tests/test_where.py"], env={**os.environ, "PRE_COMMIT": "1"}
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert journal.read(str(isolated / ".git" / "seq-hooks"))[-1].argv[-3:] == [
        "-n",
        "0",
        "tests/test_where.py",
    ]


def test_a_change_without_matching_tests_runs_nothing(isolated: Path) -> None:
    layout(isolated, {"notes.py": "", "tests/test_other.py": PASSING})
    p = run([str(BIN / "atomic-pytest"), "notes.py"], env={**os.environ, "PRE_COMMIT": "1"})
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    p = run([str(BIN / "atomic-pytest"), "notes.py"], env=dict(os.environ))
    assert (p.returncode, p.stdout) == (0, "atomic-pytest: no files to run pytest on\n")
    assert not (isolated / ".git" / "seq-hooks" / "journal.jsonl").exists()


def test_all_eight_test_files_per_unit_by_default(isolated: Path) -> None:
    layout(isolated, {f"tests/test_{i:02}.py": PASSING for i in range(10)})
    p = run([str(BIN / "atomic-pytest"), "--all"], env=dict(os.environ))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 units (10 files): 2 passed" in p.stdout
    records = journal.read(str(isolated / ".git" / "seq-hooks"))
    sizes = sorted(sum(a.endswith(".py") for a in r.argv) for r in records)
    assert sizes == [2, 8]
