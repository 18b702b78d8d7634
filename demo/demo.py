"""The seq-hooks demo (run it with `demo/run`).

1. Makes a throw-away git repository in a temp dir with sample files: one ruff violation, one format
   problem, one mypy error, one failing test, and clean files; its .pre-commit-config.yaml points
   `repo:` at this checkout with `rev:` = this checkout's HEAD (pre-commit clones the hook
   repository at that commit, so uncommitted changes in the checkout are not part of the demo).
2. Runs `pre-commit run --all-files` with the four hooks and shows what they fixed and reported.
3. Fixes the rest, adds slow tests, makes three more worktrees and runs pre-commit in all four at
   once: their units queue one at a time in the project-wide queue. The journal shows they never
   overlapped.
4. Stops what the runs left running (`seq-hooks clean`: atomic-mypy's mypy daemon, which
   otherwise waits 15 minutes for the next commit) and removes the temp dir (unless --keep).

PRE_COMMIT_HOME is a directory inside the temp dir: the demo leaves nothing in your pre-commit cache
(a hook environment keyed to this checkout's path and commit would only pile up there); the price is
that pre-commit installs the hook environment (seq-hooks, ruff, mypy, pytest from PyPI) on every
demo run, ~10-30 s.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from seq_hooks.process import machine

CHECKOUT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEPS = "[ruff, mypy, pytest]"  # the same list on every hook: one hook environment, installed once

FILES = {
    # what Python, pytest, mypy and ruff write while they check: without it `git add -A` commits the
    # byte code of step 1, pytest rewrites it in step 2, and pre-commit reports "files were modified
    # by this hook"
    ".gitignore": """\
        __pycache__/
        *.pyc
        .pytest_cache/
        .mypy_cache/
        .ruff_cache/
        """,
    "calc.py": '''\
        """Clean: passes every hook."""


        def add(a: int, b: int) -> int:
            return a + b
        ''',
    "tests/test_calc.py": '''\
        from calc import add


        def test_add() -> None:
            assert add(2, 3) == 5
        ''',
    "lint_me.py": '''\
        import os

        VALUE = 1
        ''',
    "format_me.py": '''\
        values = {  "a":1 }
        ''',
    "typed_wrong.py": '''\
        count: int = "three"
        ''',
    "tests/test_broken.py": '''\
        from calc import add


        def test_add_is_wrong() -> None:
            assert add(2, 2) == 5
        ''',
    "pyproject.toml": '''\
        [tool.pytest.ini_options]
        pythonpath = ["."]

        [tool.seq-hooks]
        timeout = 300            # seconds per unit
        memory_limit_mb = 1024   # whole process tree of a unit

        [tool.seq-hooks.hooks.atomic-mypy]
        timeout = 120
        ''',
}
FIXED = {
    "typed_wrong.py": "count: int = 3\n",
    "tests/test_broken.py": "from calc import add\n\n\ndef test_add_is_right() -> None:\n    "
                            "assert add(2, 2) == 4\n",
}
SLOW_TEST = '''import time


def test_slow() -> None:
    time.sleep(0.4)
'''


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def note(text: str) -> None:
    print(textwrap.fill(text, 110, initial_indent="   ", subsequent_indent="   "), flush=True)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def config(sha: str) -> str:
    hooks = "".join(f"    -   id: {h}\n        additional_dependencies: {DEPS}\n"
                    for h in ("atomic-ruff", "atomic-ruff-format", "atomic-mypy", "atomic-pytest"))
    # atomic-pytest: a unit per test file, to show the hand-overs
    hooks += "        args: [--batch, '1']\n"
    return f"repos:\n-   repo: {CHECKOUT}\n    rev: {sha}\n    hooks:\n{hooks}"


def make_project(root: Path, sha: str) -> None:
    root.mkdir()
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    (root / ".pre-commit-config.yaml").write_text(config(sha))
    git(root, "init", "-q", "-b", "main")
    for key, value in (("user.name", "seq-hooks demo"), ("user.email", "demo@example.invalid"),
                       ("commit.gpgsign", "false")):
        git(root, "config", key, value)  # commits must work whatever the user's git setup is
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "sample project")


def show_config(root: Path) -> None:
    print(textwrap.indent((root / ".pre-commit-config.yaml").read_text(), "   | "), end="")


def pre_commit(root: Path, env: dict[str, str], *args: str) -> int:
    """Runs pre-commit with its output going straight to the terminal."""
    return subprocess.run(
        [str(BIN / "pre-commit"), *args], cwd=root, env=env, check=False
    ).returncode


def step_one(root: Path, env: dict[str, str]) -> None:
    say("1. pre-commit run --all-files on a project with one problem of each kind")
    note(
        "Installing the hook environment first (once per PRE_COMMIT_HOME: seq-hooks from this "
        "checkout, plus ruff,"
        " mypy and pytest from PyPI)."
    )
    code = pre_commit(root, env, "install-hooks")
    if code != 0:
        raise SystemExit(f"demo: pre-commit could not install the hook environment (exit {code})")
    print(flush=True)
    code = pre_commit(root, env, "run", "--all-files")
    say(f"1. what happened (pre-commit exit {code})")
    changed = git(root, "diff", "--stat").rstrip()
    note(
        "atomic-ruff fixed lint_me.py (the unused import) and atomic-ruff-format reformatted "
        "format_me.py; "
        "pre-commit reports both hooks as failed because they modified files, as it does for any "
        "fixer:"
    )
    print(textwrap.indent(changed, "    "))
    note(
        "atomic-mypy reported the error in typed_wrong.py and atomic-pytest the failing test, each "
        "naming the "
        "file that failed and why. Each hook's files went through the project lock in units sized "
        "to the tool "
        "(ruff: up to 200 files, mypy: all in one, pytest here: one test file), each one tool "
        "process."
    )


def step_two(root: Path, env: dict[str, str], tmp: Path) -> None:
    say("2. four pre-commit runs at once, in four worktrees of the project")
    for name, text in FIXED.items():
        (root / name).write_text(text)
    for i in range(3):
        (root / "tests" / f"test_slow_{i}.py").write_text(SLOW_TEST)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "fixed, and slow tests")
    trees = [root]
    for i in range(1, 4):
        git(root, "worktree", "add", "-q", str(tmp / f"worktree-{i}"))
        trees.append(tmp / f"worktree-{i}")
    note(
        "Each run executes atomic-pytest --all-files: 5 test files, one unit each (the demo's "
        "--batch 1; by "
        "default 8 test files share a unit), 20 units in all. Without "
        "seq-hooks they would all run at once; here they wait in one FIFO queue shared by every "
        "worktree."
    )
    since = time.time()
    procs = [
        subprocess.Popen(
            [str(BIN / "pre-commit"), "run", "atomic-pytest", "--all-files"],
            cwd=t,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for t in trees
    ]
    waited = wait_for_queue(root, env, procs)  # then look at it like a user would
    note(f"seq-hooks status, {waited:.1f} s into the runs:")
    status = subprocess.run([str(BIN / "seq-hooks"), "status"], cwd=root, env=env,
                            capture_output=True, text=True, check=False)
    print(textwrap.indent(status.stdout.rstrip() or status.stderr.rstrip(), "     "), flush=True)
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for tree, proc, out in zip(trees, procs, outputs, strict=True):
        verdict = out.strip().splitlines()[0] if out.strip() else ""
        print(f"   {tree.name:<12} exit {proc.returncode}  {verdict}")
    show_timeline(root, env, trees, since)


def wait_for_queue(root: Path, env: dict[str, str], procs: list[subprocess.Popen[str]],
                   bound: float = 30.0) -> float:
    """Seconds until the queue has a unit running and another waiting (on a busy machine pre-commit
    takes seconds to start), or the runs end, or `bound` passes: the status shows a queue, not a
    free lock."""
    start = time.monotonic()
    while time.monotonic() - start < bound and any(p.poll() is None for p in procs):
        status = subprocess.run([str(BIN / "seq-hooks"), "status", "--json"], cwd=root, env=env,
                                capture_output=True, text=True, check=False)
        try:
            locks = json.loads(status.stdout)["locks"]
        except (ValueError, KeyError, TypeError):
            break
        if any(lock["holders"] and lock["waiting"] for lock in locks):
            break
        time.sleep(0.2)
    return time.monotonic() - start


def stop_what_is_left(root: Path, env: dict[str, str]) -> None:
    """`seq-hooks clean` in the sample project: atomic-mypy's daemon (it would wait 15 minutes for
    the next commit, its files removed with the temp dir) and anything else the runs left."""
    say("cleaning up: seq-hooks clean")
    done = subprocess.run([str(BIN / "seq-hooks"), "clean"], cwd=root, env=env,
                          capture_output=True, text=True, check=False)
    print(textwrap.indent((done.stdout + done.stderr).rstrip(), "   "), flush=True)
    if done.returncode != 0:
        note(f"seq-hooks clean exited {done.returncode}: `seq-hooks status` shows what still runs.")


def show_timeline(root: Path, env: dict[str, str], trees: list[Path], since: float) -> None:
    say("2. the journal: every unit, in the order it ran")
    state = Path(git(root, "rev-parse", "--git-common-dir").strip())
    state = (root / state).resolve() / "seq-hooks" / "journal.jsonl"
    units = [r for r in map(json.loads, state.read_text().splitlines())
             if r["enqueued"] >= since and r["argv"][-1].startswith("tests/")]
    units.sort(key=lambda r: r["started"])
    t0 = min(r["enqueued"] for r in units)
    names = {str(t): t.name for t in trees}
    print(
        f"   {'worktree':<12} {'test file':<24} {'queued':>7} {'start':>7} {'ran':>7} {'waited':>7}"
    )
    for r in units:
        print(
            f"   {names.get(r['cwd'], r['cwd']):<12} {Path(r['argv'][-1]).name:<24} "
            f"{r['enqueued'] - t0:6.2f}s "
            f"{r['started'] - t0:6.2f}s {r['duration_s']:6.2f}s {r['waited_s']:6.2f}s"
        )
    # a unit's command ran within [started, started + duration]: how many ran at once, at the most
    edges = sorted(
        [(r["started"], 1) for r in units] + [(r["started"] + r["duration_s"], -1) for r in units]
    )
    peak = max(itertools.accumulate(step for _, step in edges))
    # slots = "auto", the default: one unit per CPU this machine lets us use
    slots = machine.usable_cpus()
    interleaved = sum(1 for a, b in itertools.pairwise(units) if a["cwd"] != b["cwd"])
    note(
        f"{len(units)} units from {len({r['cwd'] for r in units})} worktrees; {interleaved} "
        "hand-overs between "
        f'worktrees; at most {peak} at once, for {slots} slots (slots = "auto": one per CPU); '
        'units over the '
        f"slots: {max(peak - slots, 0)}. A slot went to the next unit only after its unit's whole "
        "process tree "
        "was gone; `slots = 1` runs them one at a time."
    )
    history = subprocess.run([str(BIN / "seq-hooks"), "history", "-n", "6"], cwd=root, env=env,
                             capture_output=True, text=True, check=False)
    if history.returncode == 0:
        note("The same from `seq-hooks history -n 6`:")
        print(textwrap.indent(history.stdout.rstrip(), "     "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The seq-hooks demo: see the module docstring.")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir (its path is printed)"
    )
    args = parser.parse_args(argv)
    sha = git(CHECKOUT, "rev-parse", "HEAD").strip()
    say("seq-hooks demo")
    note(
        f"Hook repository: this checkout, {CHECKOUT}, at HEAD {sha[:12]} (pre-commit clones it at "
        "that commit)."
    )
    if git(CHECKOUT, "status", "--porcelain", "--untracked-files=no").strip():
        note(
            "This checkout has uncommitted changes: they are NOT in the demo. Commit them to see "
            "them in action."
        )
    tmp = Path(tempfile.mkdtemp(prefix="seq-hooks-demo-"))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SEQ_HOOKS_") and k != "PRE_COMMIT"
    }
    env["PRE_COMMIT_HOME"] = str(tmp / "pre-commit-home")
    root = tmp / "project"
    try:
        make_project(root, sha)
        note(f"Sample project: {root}, with this .pre-commit-config.yaml:")
        show_config(root)
        step_one(root, env)
        step_two(root, env, tmp)
    finally:
        if (root / ".git").is_dir():
            stop_what_is_left(root, env)
        if args.keep:
            note(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    say("done")
    note("Use these hooks in your project: copy the config above with `repo:` set to this "
         "repository's URL and `rev:` to a release tag (or, before there is one, a commit: "
         "`git rev-parse HEAD` in the clone). `seq-hooks run -- make test` queues any other heavy "
         "command the same way.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
