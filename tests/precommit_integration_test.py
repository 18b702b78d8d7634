"""The hooks as users run them: a real `pre-commit run`, `pre-commit try-repo` and prek, with this
checkout as the hook repository (`repo:` a local path, `rev:` a commit that holds the working tree
as it is now).

pre-commit installs the hook environment from PyPI once per session (PRE_COMMIT_HOME is shared by
the session); every tool's cache that would land in $HOME is pointed into the session's temp dir
instead.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks import journal
from testing.util import FIXTURES, assert_no_overlap, git, intervals, reap

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEPS = "[ruff, mypy, pytest]"  # one hook environment shared by every hook of these tests
INSTALL_TIMEOUT = 900


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("precommit-session")


@pytest.fixture(scope="session")
def hook_repo(session_dir: Path) -> tuple[Path, str]:
    """A commit of the checkout's working tree (tracked and untracked files, not ignored ones):
    pre-commit clones the hook repository at `rev`, so uncommitted changes must be in a commit to be
    tested."""
    repo = session_dir / "hook-repo"
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "--no-verify", "-m", "snapshot"],
    ):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                         check=True).stdout.strip()
    return repo, sha


@pytest.fixture
def tool_env(session_dir: Path) -> dict[str, str]:
    """The environment for pre-commit and prek: caches (pip, virtualenv, prek; rustup, which pip's
    user agent probes with `rustc --version`) in the session dir, so $HOME stays empty."""
    caches = session_dir / "caches"
    env = {k: v for k, v in os.environ.items() if k != "PRE_COMMIT"}
    env.update({
        "PIP_CACHE_DIR": str(caches / "pip"),
        "VIRTUALENV_OVERRIDE_APP_DATA": str(caches / "virtualenv"),
        "PREK_HOME": str(caches / "prek"),
        "XDG_CACHE_HOME": str(caches / "xdg"),
        "RUSTUP_HOME": str(caches / "rustup"),
        "CARGO_HOME": str(caches / "cargo"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    })
    return env


def config(hook_repo: tuple[Path, str], hooks: dict[str, str]) -> str:
    """A .pre-commit-config.yaml using our hooks: {hook id: extra YAML lines for it}."""
    path, sha = hook_repo
    lines = ["repos:", f"-   repo: {path}", f"    rev: {sha}", "    hooks:"]
    for hook_id, extra in hooks.items():
        lines.append(f"    -   id: {hook_id}")
        lines.append(f"        additional_dependencies: {DEPS}")
        lines += [f"        {line}" for line in extra.splitlines() if line]
    return "\n".join(lines) + "\n"


ALL_HOOKS = {"atomic-ruff": "", "atomic-ruff-format": "", "atomic-mypy": "", "atomic-pytest": ""}


def copy_sample(name: str, dest: Path) -> None:
    """Copies a sample from testing/fixtures (NAME.py.txt becomes NAME.py)."""
    for source in (FIXTURES / name).rglob("*"):
        if source.is_file() and source.name != "README":
            target = dest / source.relative_to(FIXTURES / name)
            target = target.with_name(target.name.removesuffix(".txt"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def project(
    repo: Path, hook_repo: tuple[Path, str], *samples: str, hooks: dict[str, str] | None = None
) -> None:
    for sample in samples:
        copy_sample(sample, repo)
    (repo / ".pre-commit-config.yaml").write_text(config(hook_repo, hooks or ALL_HOOKS))
    git(repo, "add", "-A")


def pre_commit(repo: Path, env: dict[str, str], *args: str,
               tool: str = "pre-commit") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )


def statuses(output: str) -> dict[str, str]:
    """{hook name: Passed/Failed/Skipped} from pre-commit's (or prek's) report lines."""
    out = {}
    for line in output.splitlines():
        for word in ("Passed", "Failed", "Skipped"):
            if line.endswith(word) and "..." in line:
                out[line.split("..")[0].strip()] = word
    return out


NAMES = ("ruff check (atomic)", "ruff format (atomic)", "mypy (atomic)", "pytest (atomic)")


def check_problems_found(repo: Path, p: subprocess.CompletedProcess[str]) -> None:
    text = p.stdout + p.stderr
    assert p.returncode == 1, text
    assert statuses(p.stdout) == dict.fromkeys(NAMES, "Failed"), text
    assert "import os" not in (repo / "lint_me.py").read_text()  # fixed
    assert "Found 1 error (1 fixed, 0 remaining)." in text  # and reported
    assert (repo / "format_me.py").read_text() == 'values = {"a": 1}\n'  # reformatted
    assert (
        'typed_wrong.py:1: error: Incompatible types in assignment (expression has type "str"'
        in text
    )
    assert "atomic-mypy: failed: typed_wrong.py: exit 1" in text
    assert "FAILED tests/test_broken.py::test_add_is_wrong" in text
    assert "atomic-pytest: failed: tests/test_broken.py: exit 1" in text


def test_pre_commit_run_fixes_and_reports_each_problem(isolated: Path, hook_repo: tuple[Path, str],
                                                       tool_env: dict[str, str]) -> None:
    project(isolated, hook_repo, "sample_repo", "sample_problems")
    check_problems_found(isolated, pre_commit(isolated, tool_env, "run", "--all-files"))
    # fixed files stay fixed; the type error and the failing test are still reported
    again = pre_commit(isolated, tool_env, "run", "--all-files")
    assert again.returncode == 1
    assert statuses(again.stdout) == {NAMES[0]: "Passed", NAMES[1]: "Passed", NAMES[2]: "Failed",
                                      NAMES[3]: "Failed"}, again.stdout


def test_a_clean_repository_passes_quietly(isolated: Path, hook_repo: tuple[Path, str],
                                           tool_env: dict[str, str]) -> None:
    project(isolated, hook_repo, "sample_repo")
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    assert p.returncode == 0, p.stdout + p.stderr
    assert statuses(p.stdout) == dict.fromkeys(NAMES, "Passed")
    assert "atomic-" not in p.stdout  # nothing but pre-commit's own lines when all is well
    units = journal.read(str(isolated / ".git" / "seq-hooks"))
    assert {Path(a).name for r in units for a in r.argv} >= {"calc.py", "test_calc.py"}


def test_prek_runs_the_same_configuration(isolated: Path, hook_repo: tuple[Path, str],
                                          tool_env: dict[str, str]) -> None:
    project(isolated, hook_repo, "sample_repo", "sample_problems")
    check_problems_found(
        isolated, pre_commit(isolated, tool_env, "run", "--all-files", tool="prek")
    )


def test_try_repo_with_the_manifest_defaults(isolated: Path, hook_repo: tuple[Path, str],
                                             tool_env: dict[str, str]) -> None:
    """try-repo takes the manifest as it is: atomic-ruff brings ruff itself
    (additional_dependencies)."""
    copy_sample("sample_repo", isolated)
    copy_sample("sample_problems", isolated)
    git(isolated, "add", "-A")
    path, sha = hook_repo
    p = pre_commit(
        isolated, tool_env, "try-repo", str(path), "atomic-ruff", "--ref", sha, "--all-files"
    )
    assert p.returncode == 1, p.stdout + p.stderr
    assert "files were modified by this hook" in p.stdout
    assert "import os" not in (isolated / "lint_me.py").read_text()
    p = pre_commit(
        isolated, tool_env, "try-repo", str(path), "atomic-ruff-format", "--ref", sha, "--all-files"
    )
    assert p.returncode == 1, p.stdout + p.stderr
    assert (isolated / "format_me.py").read_text() == 'values = {"a": 1}\n'
    p = pre_commit(
        isolated, tool_env, "try-repo", str(path), "atomic-ruff", "--ref", sha, "--all-files"
    )
    assert p.returncode == 0, p.stdout + p.stderr


OPTION_NAMES = ("--help", "-h", "--fail-fast", "--type=x.py", "--batch=0", "--verbose")


def test_files_named_like_hook_options_are_files_under_pre_commit(
    isolated: Path, hook_repo: tuple[Path, str], tool_env: dict[str, str]
) -> None:
    """pre-commit passes every changed file; a file named `--help` is checked, not taken for the
    option."""
    for name in OPTION_NAMES:
        (isolated / name).write_text("#!/usr/bin/env python3\nimport os\n")
        (isolated / name).chmod(0o755)  # identify: python by its shebang
    project(isolated, hook_repo, hooks={"atomic-ruff": "args: [--no-fix, --select, F401]"})
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    text = p.stdout + p.stderr
    assert p.returncode == 1, text
    assert "usage: atomic-ruff" not in text
    for name in OPTION_NAMES:
        assert f"atomic-ruff: failed: {name}: exit 1" in text, text


def test_the_manifest_is_valid_and_every_hook_is_serial(tool_env: dict[str, str]) -> None:
    p = subprocess.run(
        [str(BIN / "pre-commit"), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
        env=tool_env,
        check=False,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    # entries as pre-commit reads them (validated above); parsed by hand: the project has no YAML
    # stubs
    hooks: list[dict[str, str]] = []
    for line in (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        key, _, value = line.lstrip("- ").partition(": ")
        if line.startswith("-   id: "):
            hooks.append({})
        if hooks and line.startswith(("-   ", "    ")) and value:
            hooks[-1][key] = value
    pyproject = (ROOT / "pyproject.toml").read_text()
    for hook in hooks:
        assert hook["entry"] == hook["id"]
        assert f'\n{hook["id"]} = "seq_hooks.' in pyproject  # a console script named like the id
        assert hook["language"] == "python"
        assert hook["require_serial"] == "true"
    assert {"atomic-ruff", "atomic-ruff-format", "atomic-mypy", "atomic-pytest", "atomic"} <= {
        h["id"] for h in hooks
    }


STAMP_TEST = '''import os
import time


def test_stamp():
    name = os.path.abspath(__file__)
    with open({stamps!r}, "a") as f:
        f.write(f"start {{name}} {{time.monotonic_ns()}}\\n")
        f.flush()
        time.sleep(0.25)
        f.write(f"end {{name}} {{time.monotonic_ns()}}\\n")
'''


def test_four_worktrees_run_atomic_pytest_at_once_and_units_never_overlap(
    isolated: Path, hook_repo: tuple[Path, str], tool_env: dict[str, str], tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    for i in range(4):
        (isolated / "tests").mkdir(exist_ok=True)
        (isolated / "tests" / f"test_stamp{i}.py").write_text(STAMP_TEST.format(stamps=str(stamps)))
    # a unit per test file
    project(isolated, hook_repo, hooks={"atomic-pytest": 'args: [--batch, "1"]'})
    git(isolated, "commit", "-q", "-m", "tests")
    trees = [isolated]
    for i in range(1, 4):
        git(isolated, "worktree", "add", "-q", str(tmp_path / f"wt{i}"))
        trees.append(tmp_path / f"wt{i}")
    # install the hook environment first, so that the four runs start together
    warm = pre_commit(isolated, tool_env, "install-hooks")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    one_at_a_time = {**tool_env, "SEQ_HOOKS_SLOTS": "1"}  # the default is a slot per CPU
    procs = [
        subprocess.Popen(
            [str(BIN / "pre-commit"), "run", "atomic-pytest", "--all-files"],
            cwd=tree,
            env=one_at_a_time,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tree in trees
    ]
    try:
        outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    finally:
        for proc in procs:
            reap(proc)
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], outputs[0]
    assert_no_overlap(stamps, 16)
    # they did run at the same time: units of different worktrees waited for each other's
    units = [
        r for r in journal.read(str(isolated / ".git" / "seq-hooks")) if "test_stamp" in r.argv[-1]
    ]
    assert len(units) == 16
    waited_in = {r.cwd for r in units if r.waited_s > 0.05}
    assert len(waited_in) >= 2, units
    spans = intervals(stamps)
    owners = [next(str(t) for t in trees if name.startswith(str(t) + "/")) for _, _, name in spans]
    switches = sum(1 for a, b in itertools.pairwise(owners) if a != b)
    assert switches > 3, owners  # interleaved, not one worktree after another


FANCYLIB = '''"""A package that only the project's own virtualenv has."""


def shout(text: str) -> str:
    return text.upper() + "!"
'''
APP = '''from fancylib import shout


def loud(text: str) -> str:
    return shout(text)
'''
APP_TEST = """import os

from app import loud


def test_loud() -> None:
    assert loud("a") == "A!"
    # the unit ran in one process, not in an xdist worker
    assert "PYTEST_XDIST_WORKER" not in os.environ
"""


@pytest.fixture(scope="session")
def project_venv(session_dir: Path) -> Iterator[Path]:
    """A real virtualenv with pytest, mypy and pytest-xdist from PyPI, and `fancylib`, which the
    hook's own environment does not have."""
    venv = session_dir / "project-venv"
    caches = session_dir / "caches"
    env = {
        **os.environ,
        "PIP_CACHE_DIR": str(caches / "pip"),
        "RUSTUP_HOME": str(caches / "rustup"),
        "CARGO_HOME": str(caches / "cargo"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "pytest",
            "mypy",
            "pytest-xdist",
        ],
        check=True,
        env=env,
        timeout=INSTALL_TIMEOUT,
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "fancylib").mkdir()
    (site / "fancylib" / "__init__.py").write_text(FANCYLIB)
    (site / "fancylib" / "py.typed").write_text("")
    yield venv


def test_the_projects_venv_is_used_by_mypy_and_pytest(
    isolated: Path, hook_repo: tuple[Path, str], tool_env: dict[str, str], project_venv: Path
) -> None:
    (isolated / "app.py").write_text(APP)
    (isolated / "tests").mkdir()
    (isolated / "tests" / "test_app.py").write_text(APP_TEST)
    # addopts asks xdist for two workers: the hook keeps a unit to one process (-n 0)
    (isolated / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\naddopts = "-n 2"\n'
    )
    (isolated / ".gitignore").write_text(".venv\n")
    (isolated / ".venv").symlink_to(project_venv)
    # ours, and pre-commit's (it hides the output of passing hooks)
    shown = "args: [--verbose]\nverbose: true"
    project(isolated, hook_repo, hooks={"atomic-mypy": shown, "atomic-pytest": shown})
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"atomic-mypy: mypy from the project's virtualenv {isolated / '.venv'}" in p.stdout
    assert f"atomic-pytest: pytest from the project's virtualenv {isolated / '.venv'}" in p.stdout
    # without the project's venv, the hook's own environment lacks fancylib (and xdist): both fail
    (isolated / ".venv").unlink()
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    assert p.returncode == 1
    assert 'Cannot find implementation or library stub for module named "fancylib"' in p.stdout
    assert "atomic-pytest: failed: tests/test_app.py" in p.stdout


def test_a_missing_tool_under_pre_commit_is_one_error(isolated: Path, hook_repo: tuple[Path, str],
                                                      tool_env: dict[str, str]) -> None:
    """atomic-mypy's manifest entry brings no mypy: without a project venv or
    additional_dependencies, one error."""
    copy_sample("sample_repo", isolated)
    path, sha = hook_repo
    (isolated / ".pre-commit-config.yaml").write_text(
        f"repos:\n-   repo: {path}\n    rev: {sha}\n    hooks:\n    -   id: atomic-mypy\n")
    git(isolated, "add", "-A")
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    assert p.returncode == 1, p.stdout + p.stderr
    errors = [line for line in p.stdout.splitlines() if "not found" in line]
    assert len(errors) == 1, p.stdout
    assert errors[0].startswith("atomic-mypy: mypy not found (looked in ")
    assert "additional_dependencies: [mypy]" in errors[0]
    assert "- exit code: 2" in p.stdout



def test_generic_hook_with_a_tools_subcommand(isolated: Path, hook_repo: tuple[Path, str],
                                              tool_env: dict[str, str]) -> None:
    """`args: [--, ruff, format]` (the guide's `atomic-hook.sh "ruff format"`): `format` is ruff's
    subcommand, not a file to check; pre-commit appends the files after it."""
    for name in ("a.py", "b.py"):
        (isolated / name).write_text("x  =  {'a':1}\n")
    project(isolated, hook_repo, hooks={"atomic": "args: [--, ruff, format]\ntypes: [python]"})
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    text = p.stdout + p.stderr
    # reformatted: pre-commit fails
    assert p.returncode == 1 and "files were modified by this hook" in text, text
    assert "format: skipped" not in text and "failed" not in text
    for name in ("a.py", "b.py"):
        assert (isolated / name).read_text() == 'x = {"a": 1}\n'
    again = pre_commit(isolated, tool_env, "run", "--all-files")
    assert again.returncode == 0, again.stdout + again.stderr


def test_atomic_pytest_where_the_user_turned_xdist_off(
    isolated: Path, hook_repo: tuple[Path, str], tool_env: dict[str, str], project_venv: Path
) -> None:
    """The pipeline guide's pytest.ini has `-p no:xdist`: with xdist installed in the project's
    venv, the hook adds no `-n 0` (pytest exited 4, unrecognized arguments: -n)."""
    (isolated / "app.py").write_text(APP)
    (isolated / "tests").mkdir()
    (isolated / "tests" / "test_app.py").write_text(APP_TEST)
    (isolated / "pytest.ini").write_text(
        "[pytest]\npythonpath = .\naddopts =\n    -v\n    -p no:xdist\n"
    )
    (isolated / ".gitignore").write_text(".venv\n")
    (isolated / ".venv").symlink_to(project_venv)
    project(isolated, hook_repo, hooks={"atomic-pytest": "args: [--verbose]\nverbose: true"})
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "test_app.py::test_loud PASSED" in p.stdout


def test_git_safe_under_pre_commit_takes_file_names_as_file_names(
    isolated: Path, hook_repo: tuple[Path, str], tool_env: dict[str, str]
) -> None:
    """By hand `git-safe add .` runs git; under pre-commit (pass_filenames: true) the words are the
    changed files and only the check runs, even for a file named like a git subcommand."""
    (isolated / "add").write_text("a file named add\n")
    (isolated / "push").write_text("and one named push\n")
    project(isolated, hook_repo, hooks={"git-safe": "pass_filenames: true"})
    p = pre_commit(isolated, tool_env, "run", "--all-files")
    assert p.returncode == 0, p.stdout + p.stderr
    assert statuses(p.stdout) == {
        "git-safe (no other git operation on this repository)": "Passed"
    }, p.stdout
    # no git command ran under the git lock
    assert journal.read(str(isolated / ".git" / "seq-hooks")) == []
