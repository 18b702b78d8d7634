"""The ready-made files in examples/ work as a user would use them: copied into a temp git
repository and run for real (make, pre-commit's and prek's validators, the workflow's schema and its
test step, lefthook, husky)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from testing.util import git, needs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
HOOK_IDS = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
TARGETS = (
    "format",
    "lint",
    "typecheck",
    "test",
    "test-fast",
    "test-file",
    "install",
    "status",
    "doctor",
    "clean",
    "monitor",
    "kill-all",
    "check-env",
    "safe-commit",
    "dev-setup",
)
HEAVY = {
    "format": ["ruff format", "ruff check --fix"],
    "lint": ["ruff check"],
    "typecheck": ["mypy"],
    "test": ["pytest"],
    "test-fast": ["pytest -q -m not slow"],
    "test-file": ["pytest -q tests/test_app.py"],
    "install": ["python -m pip install -e ."],
}
# the guides' targets that are not seq-hooks commands of their own name: the command each starts
# with
FIRST = {
    "monitor": "seq-hooks status --watch",
    "kill-all": "seq-hooks clean",
    "check-env": "seq-hooks status",
    "safe-commit": "git-safe",
    "dev-setup": "seq-hooks run --timeout 1800 -- python -m pip install -e .",
}


def _env(**extra: str) -> dict[str, str]:
    """seq-hooks and the tools (ruff, mypy, pytest) from this checkout's environment first on
    PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _history(repo: Path) -> list[dict[str, Any]]:
    out = _run([str(BIN / "seq-hooks"), "history", "--json", "-n", "0"], repo)
    assert out.returncode == 0, out.stderr
    runs: list[dict[str, Any]] = json.loads(out.stdout)["runs"]
    return runs


def _commands(repo: Path) -> list[str]:
    """The command lines that ran through seq-hooks' queue (lock `default`) in `repo`."""
    return [" ".join(map(str, r["argv"])) for r in _history(repo) if r["lock"] == "default"]


def _python_project(repo: Path) -> None:
    """A small project: a source file with an unused import and bad formatting, and a passing
    test."""
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("import os\ndef double(x: int) -> int:\n    return x*2\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_app.py").write_text("def test_sum() -> None:\n    assert 1 + 1 == 2\n")


# --- Makefile
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_make_n_every_target_goes_through_seq_hooks(target: str, isolated: Path) -> None:
    out = _run(
        ["make", "-n", "-f", str(EXAMPLES / "Makefile"), target, "FILE=tests/test_app.py"], isolated
    )
    assert out.returncode == 0, out.stderr
    lines = [line.strip().replace('"', "") for line in out.stdout.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith(("seq-hooks ", "git-safe"))]
    assert ours, f"make {target} does not call seq-hooks: {lines}"
    if target in HEAVY:
        assert lines == ours, f"make {target} runs something outside seq-hooks: {lines}"
        for tool in HEAVY[target]:
            assert any(
                line.startswith("seq-hooks run ") and f" -- {tool}" in line for line in lines
            ), (target, tool)
    else:
        assert ours[0] == FIRST.get(target, f"seq-hooks {target}"), lines
    if target == "kill-all":
        assert lines == ["seq-hooks clean"]  # by run token; never pkill or killall by name


def test_make_targets_run_for_real_through_the_queue(isolated: Path) -> None:
    repo = isolated
    shutil.copy(EXAMPLES / "Makefile", repo / "Makefile")
    _python_project(repo)

    lint = _run(["make", "lint"], repo)
    assert lint.returncode != 0 and "F401" in lint.stdout, lint.stdout + lint.stderr
    fmt = _run(["make", "format"], repo)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    assert "import os" not in (repo / "src" / "app.py").read_text()
    assert "x * 2" in (repo / "src" / "app.py").read_text()
    for target in ("lint", "typecheck", "test"):
        done = _run(["make", target], repo)
        assert done.returncode == 0, f"make {target}: {done.stdout}{done.stderr}"

    ran = _commands(repo)
    assert ran == ["ruff check src tests", "ruff format src tests", "ruff check --fix src tests",
                   "ruff check src tests", "mypy src tests", "pytest -q tests"], ran

    status = _run(["make", "status"], repo)
    assert (
        status.returncode == 0
        and "lock default" in status.stdout
        and "pytest -q tests" in status.stdout
    ), status.stdout + status.stderr
    doctor = _run(["make", "doctor"], repo)
    assert doctor.returncode == 0 and "state dir" in doctor.stdout, doctor.stdout + doctor.stderr
    assert (repo / ".ruff_cache").is_dir()
    clean = _run(["make", "clean"], repo)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert not (repo / ".ruff_cache").exists() and not (repo / ".mypy_cache").exists()


def test_the_guides_make_targets_run_for_real(isolated: Path) -> None:
    """test-fast, test-file FILE=, install, check-env, kill-all, safe-commit, dev-setup, as the
    universal guide's Makefile has them, each through seq-hooks."""
    repo = isolated
    shutil.copy(EXAMPLES / "Makefile", repo / "Makefile")
    _python_project(repo)
    (repo / "tests" / "test_slow.py").write_text(
        "import pytest\n\n\n@pytest.mark.slow\ndef test_slow() -> None:\n    assert False\n")
    fast = _run(["make", "test-fast"], repo)
    assert fast.returncode == 0 and "1 passed, 1 deselected" in fast.stdout, (
        fast.stdout + fast.stderr
    )
    one = _run(["make", "test-file", "FILE=tests/test_app.py"], repo)
    assert one.returncode == 0 and "1 passed" in one.stdout, one.stdout + one.stderr
    missing = _run(["make", "test-file"], repo)
    assert (
        missing.returncode == 2
        and "FILE is not set: make test-file FILE=tests/test_foo.py" in missing.stderr
    )
    installed = _run(["make", "install", "INSTALL=python -c 'print(42)'"], repo)
    assert installed.returncode == 0 and "42" in installed.stdout, (
        installed.stdout + installed.stderr
    )
    assert _commands(repo) == [
        "pytest -q -m not slow tests",
        "pytest -q tests/test_app.py",
        "python -c print(42)",
    ]

    env = _run(["make", "check-env"], repo)
    assert env.returncode == 0 and "machine: " in env.stdout and "state dir" in env.stdout, (
        env.stdout + env.stderr
    )
    killed = _run(["make", "kill-all"], repo)
    assert killed.returncode == 0, killed.stdout + killed.stderr

    git(repo, "add", "-A")
    commit = _run(["make", "safe-commit", "MSG=from make safe-commit"], repo)
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert git(repo, "log", "-1", "--format=%s").stdout == "from make safe-commit\n"
    assert [r["lock"] for r in _history(repo)][-1] == "git"

    (repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    setup = _run(["make", "dev-setup", "INSTALL=true"], repo)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    hook = (repo / ".git" / "hooks" / "pre-commit").read_text()
    assert "seq-hooks" in hook and (repo / ".git" / "hooks" / "pre-commit.seq-hooks-orig").is_file()


def test_make_monitor_follows_the_queue_until_interrupted(isolated: Path) -> None:
    shutil.copy(EXAMPLES / "Makefile", isolated / "Makefile")
    proc = subprocess.Popen(["make", "monitor"], cwd=isolated, env=_env(), stdout=subprocess.PIPE,
                            # its own group: Ctrl-C
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        # the first frame (not on a terminal: plain frames one after another)
        first = proc.stdout.readline()
        assert "seq-hooks status" in first or "lock" in first or "no lock" in first, first
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(20)


# --- .pre-commit-config.yaml
# -------------------------------------------------------------------------------------

def test_pre_commit_config_has_every_hook_and_validates(tmp_path: Path) -> None:
    path = EXAMPLES / ".pre-commit-config.yaml"
    config = yaml.safe_load(path.read_text())
    (repo,) = config["repos"]
    used = {hook["id"] for hook in repo["hooks"]}
    assert used == HOOK_IDS, f"missing: {HOOK_IDS - used}, unknown: {used - HOOK_IDS}"
    for hook in repo["hooks"]:
        if hook["id"] == "atomic":
            assert hook["args"][0] == "--" and len(hook["args"]) > 1, (
                "atomic takes args: [--, TOOL, ARGS...]"
            )
    for validator in (BIN / "pre-commit", BIN / "prek"):
        out = _run(
            [str(validator), "validate-config", str(path)],
            ROOT,
            env=_env(PREK_HOME=str(tmp_path / "prek")),
        )
        assert out.returncode == 0, f"{validator.name}: {out.stdout}{out.stderr}"


# --- GitHub Actions
# ----------------------------------------------------------------------------------------------

def _workflow() -> dict[Any, Any]:
    (path,) = (EXAMPLES / ".github" / "workflows").glob("*.yml")
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    return data


def _steps() -> list[dict[str, str]]:
    jobs = _workflow()["jobs"]
    assert isinstance(jobs, dict) and len(jobs) == 1
    (job,) = jobs.values()
    steps: list[dict[str, str]] = job["steps"]
    return steps


def test_workflow_has_a_concurrency_group_the_hooks_and_limited_tests() -> None:
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict) and {"push", "pull_request"} <= set(triggers)
    concurrency = workflow["concurrency"]
    assert isinstance(concurrency, dict)
    assert "github.ref" in concurrency["group"] and concurrency["cancel-in-progress"] is False
    runs = [step["run"] for step in _steps() if "run" in step]
    assert any(run.startswith("pre-commit run --all-files") for run in runs), runs
    tests = [run for run in runs if run.startswith("seq-hooks run ") and "-- pytest" in run]
    assert len(tests) == 1 and all(
        flag in tests[0] for flag in ("--timeout", "--memory-limit", "--max-procs")
    )
    for run in runs:
        syntax = subprocess.run(
            ["bash", "-n"], input=run, capture_output=True, text=True, timeout=30, check=False
        )
        assert syntax.returncode == 0, f"{run!r}: {syntax.stderr}"


@needs("check-jsonschema", str(BIN / "check-jsonschema"))
def test_workflow_matches_github_schema(isolated: Path) -> None:
    (path,) = (EXAMPLES / ".github" / "workflows").glob("*.yml")
    out = _run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        isolated,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_workflow_test_step_runs_for_real(isolated: Path) -> None:
    """The workflow's own test command, word for word, in a project: its flags are valid and the
    unit runs through the queue."""
    repo = isolated
    _python_project(repo)
    (command,) = [s["run"] for s in _steps() if s.get("run", "").startswith("seq-hooks run ")]
    env = _env(**{k: str(v) for k, v in _workflow()["env"].items()})
    out = _run(["bash", "-c", command], repo, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _commands(repo) == ["pytest -q"]


# --- lefthook
# --------------------------------------------------------------------------------------------------


@needs("lefthook", str(BIN / "lefthook"))
def test_lefthook_config_validates_and_its_hook_runs_through_the_queue(isolated: Path) -> None:
    repo = isolated
    shutil.copy(EXAMPLES / "lefthook.yml", repo / "lefthook.yml")
    lefthook = str(BIN / "lefthook") if (BIN / "lefthook").exists() else "lefthook"
    valid = _run([lefthook, "validate"], repo)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    _python_project(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "start")
    installed = _run([lefthook, "install"], repo)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    (repo / "src" / "app.py").write_text("import os\ndef triple(x: int) -> int:\n    return x*3\n")
    git(repo, "add", "src/app.py")
    commit = _run(["git", "commit", "-q", "-m", "fixed by the hooks"], repo)
    assert commit.returncode == 0, commit.stdout + commit.stderr
    committed = git(repo, "show", "HEAD:src/app.py").stdout
    assert "import os" not in committed and "x * 3" in committed, committed
    assert _commands(repo) == ["ruff format --force-exclude src/app.py",
                               "ruff check --fix --force-exclude src/app.py",
                               "mypy src/app.py", "pytest -q -x"]

    (repo / "src" / "app.py").write_text('def double(x: int) -> int:\n    return "x"\n')
    git(repo, "add", "src/app.py")
    failed = _run(["git", "commit", "-q", "-m", "a type error"], repo)
    assert failed.returncode != 0 and "Incompatible return value" in failed.stdout + failed.stderr
    assert git(repo, "log", "--format=%s", "-1").stdout.strip() == "fixed by the hooks"
    assert _commands(repo)[-1] == "mypy src/app.py", (
        "piped: the first failure stops the jobs after it"
    )


# --- husky ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def husky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """husky 9 from the npm registry, installed once per session (npm's cache inside the session's
    temp dir)."""
    where = tmp_path_factory.mktemp("husky")
    (where / "package.json").write_text('{"name": "husky-install", "private": true}\n')
    out = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "husky@9"],
        cwd=where,
        env=_npm_env(where),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    yield where / "node_modules" / "husky" / "bin.js"


def _npm_env(where: Path) -> dict[str, str]:
    return _env(npm_config_cache=str(where / "npm-cache"), npm_config_update_notifier="false",
                npm_config_fund="false")


@needs("npm")
def test_husky_hook_runs_its_commands_through_the_queue(isolated: Path, husky: Path) -> None:
    repo = isolated
    (repo / "package.json").write_text(json.dumps({"name": "demo", "private": True, "scripts": {
        "lint": "node -e \"process.exit(require('fs').existsSync('BROKEN') ? 1 : 0)\"",
        "test": "node -e \"console.log('the tests ran')\""}}) + "\n")
    (repo / ".husky").mkdir()
    shutil.copy(EXAMPLES / ".husky" / "pre-commit", repo / ".husky" / "pre-commit")
    env = _npm_env(husky.parent.parent.parent)
    setup = subprocess.run(
        ["node", str(husky)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert git(repo, "config", "core.hooksPath").stdout.strip() == ".husky/_"

    git(repo, "add", "-A")
    commit = _run(["git", "commit", "-q", "-m", "with husky"], repo, env=env)
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert "the tests ran" in commit.stdout + commit.stderr
    assert _commands(repo) == ["npm run --if-present lint", "npm test"]

    (repo / "BROKEN").write_text("lint fails\n")
    git(repo, "add", "BROKEN")
    failed = _run(["git", "commit", "-q", "-m", "lint fails"], repo, env=env)
    assert (
        failed.returncode != 0
        and "husky - pre-commit script failed" in failed.stdout + failed.stderr
    )
    assert _commands(repo)[-1] == "npm run --if-present lint", (
        "the first failing command stops the hook"
    )
    assert git(repo, "log", "--format=%s", "-1").stdout.strip() == "with husky"
