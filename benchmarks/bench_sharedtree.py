"""Issue 16: what the shared-tree stash costs. A repository of 10,000 files with a pre-commit
configuration of one trivial hook; a commit of one staged file, without and with unstaged edits in
EDITED other files, through plain pre-commit (`pre-commit install`: its own stash, `git checkout --
.` over the whole tree), through the seq-hooks git hook alone (the lock; the chain's stash in
pre-commit's place, sharedtree.precommit) and through the seq-hooks git hook over `pre-commit
install` (the lock; `run --stash` around pre-commit's own hook script). The stash's own cost is the
difference a commit with unstaged edits makes beside the same commit without, for each. Also the
check alone in a clean tree: `seq-hooks run --stash -- true` beside `seq-hooks run -- true`.

    .venv/bin/python benchmarks/bench_sharedtree.py [--files N] [--edited N] [--runs N]
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import SEQ_HOOKS, compile_package, machine, ms, scratch_repo, table

LABELS = ("plain pre-commit", "seq-hooks git hook", "seq-hooks over pre-commit install")
CONFIG = ("repos:\n- repo: local\n  hooks:\n  - id: trivial\n    name: trivial\n    entry: 'true'\n"
          "    language: system\n    pass_filenames: false\n    always_run: true\n")


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, stdout=subprocess.DEVNULL)


def _populate(repo: Path, files: int) -> None:
    for args in (
        ["config", "user.name", "Bench"],
        ["config", "user.email", "bench@example.invalid"],
        ["config", "commit.gpgsign", "false"],
    ):
        _git(repo, *args)
    for i in range(files):
        d = repo / f"d{i // 100:03d}"
        d.mkdir(exist_ok=True)
        (d / f"f{i:05d}.py").write_text(f"x = {i}\n")
    (repo / ".pre-commit-config.yaml").write_text(CONFIG)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "--no-verify", "-m", "base")


def _commits(repo: Path, runs: int, edited: int, env: dict[str, str]) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of `git commit` of one staged file, EDITED other files with unstaged
    edits (CPU: user + system of every process of the commit: what a busy machine does not inflate);
    each commit is undone (reset --soft) so that the next one commits the same."""
    (repo / "staged.py").write_text("staged = 1\n")
    _git(repo, "add", "staged.py")
    for i in range(edited):
        (repo / f"d{i:03d}" / f"f{i * 100:05d}.py").write_text(f"x = {i * 100}\nunstaged = True\n")
    out = []
    for n in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run(
            ["git", "commit", "-q", "-m", "c"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        if done.returncode != 0:
            raise SystemExit(f"the commit failed: {done.stdout}{done.stderr}")
        _git(repo, "reset", "-q", "--soft", "HEAD^")
        if n:  # the first one warms the caches
            out.append((elapsed, cpu))
    _git(repo, "checkout", "-q", "--", ".")
    return out


def main() -> None:
    files, edited, runs = _arg("--files", 10000), _arg("--edited", 10), _arg("--runs", 7)
    compile_package()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": os.environ.get("PRE_COMMIT_HOME", "/tmp/seq-hooks-bench-pre-commit"),
    }
    rows: tuple[list[list[str]], list[list[str]]] = ([], [])
    with scratch_repo() as repo:
        _populate(repo, files)
        results = {}
        pre_commit_install = [sys.executable, "-m", "pre_commit", "install"]
        for label, installs in zip(
            LABELS,
            (
                [pre_commit_install],
                [[SEQ_HOOKS, "install-git-hook"]],
                [pre_commit_install, [SEQ_HOOKS, "install-git-hook"]],
            ),
            strict=True,
        ):
            for install in installs:
                subprocess.run(install, cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL)
            for unstaged in (0, edited):
                results[label, unstaged] = _commits(repo, runs, unstaged, env)
            (repo / ".git" / "hooks" / "pre-commit").unlink()
            for leftover in (repo / ".git" / "hooks").glob("pre-commit.*"):
                leftover.unlink()
        def median(label: str, unstaged: int, which: int) -> float:
            return statistics.median(r[which] for r in results[label, unstaged])

        extra: list[list[float]] = []
        for which in (0, 1):
            costs = {
                label: median(label, edited, which) - median(label, 0, which) for label in LABELS
            }
            for label in LABELS:
                rows[which].append(
                    [
                        label,
                        f"{median(label, 0, which) * 1000:.1f}",
                        f"{median(label, edited, which) * 1000:.1f}",
                        f"{costs[label] * 1000:+.1f}",
                    ]
                )
            extra.append([(costs[label] - costs[LABELS[0]]) * 1000 for label in LABELS[1:]])
        mechanism = {unstaged: _mechanism(repo, runs * 3, unstaged) for unstaged in (0, edited)}
        checked = _timed([SEQ_HOOKS, "run", "--stash", "--", "true"], runs * 3, repo)
        unchecked = _timed([SEQ_HOOKS, "run", "--", "true"], runs * 3, repo)
    for which, kind in enumerate(("wall", "CPU (user + system)")):
        table(
            f"{kind} ms of a commit in a repository of {files} files, without and with unstaged "
            f"edits in {edited} "
            f"files ({runs} commits each, median; {machine()})",
            [
                "git hook",
                "no unstaged edits",
                f"{edited} files with unstaged edits",
                "the stash's cost",
            ],
            rows[which],
        )
    for i, label in enumerate(LABELS[1:]):
        print(
            f"\n{label}: its stash costs {extra[0][i]:+.1f} ms wall, {extra[1][i]:+.1f} ms CPU "
            "beside "
            "pre-commit's own (target: at most +50 ms)"
        )
    table(
        f"the stash alone, in one process ({runs * 3} runs, median ms of wall / CPU)",
        ["stash", "no unstaged edits", f"{edited} files with unstaged edits"],
        [
            [
                name,
                *(
                    f"{mechanism[u][name][0]:.1f} / {mechanism[u][name][1]:.1f}"
                    for u in (0, edited)
                ),
            ]
            for name in ("pre-commit", "seq-hooks")
        ],
    )
    table(
        f"the check in a clean tree of {files} files ({runs * 3} runs, median ms)",
        ["command", "wall", "CPU"],
        [
            ["seq-hooks run -- true", ms(unchecked[0]), ms(unchecked[1])],
            ["seq-hooks run --stash -- true", ms(checked[0]), ms(checked[1])],
        ],
    )


MECHANISM = """
import os, resource, sys, time, statistics
from pre_commit.staged_files_only import staged_files_only
from seq_hooks.sharedtree import changes, stash

def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

def pre_commits():
    with staged_files_only(sys.argv[2]):
        pass

def ours():
    found = changes.to_stash(os.getcwd(), os.environ)
    if found:
        held = stash.stash(os.getcwd(), sys.argv[2], "bench", os.environ, found)
        if held is not None:
            stash.restore(held)

for name, f in (("pre-commit", pre_commits), ("seq-hooks", ours)):
    walls, cpus = [], []
    for i in range(int(sys.argv[1]) + 1):
        t, c = time.perf_counter(), cpu()
        f()
        if i:
            walls.append(time.perf_counter() - t)
            cpus.append(cpu() - c)
    print(name, statistics.median(walls) * 1000, statistics.median(cpus) * 1000)
"""


def _mechanism(repo: Path, runs: int, edited: int) -> dict[str, tuple[float, float]]:
    """Each stash alone, in one process with everything imported: pre-commit's staged_files_only and
    the chain's check, stash and restore; (wall, CPU) ms medians."""
    (repo / "staged.py").write_text("staged = 1\n")
    _git(repo, "add", "staged.py")
    for i in range(edited):
        (repo / f"d{i:03d}" / f"f{i * 100:05d}.py").write_text(f"x = {i * 100}\nunstaged = True\n")
    scratch = repo.parent / "state"
    scratch.mkdir(mode=0o700, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", MECHANISM, str(runs), str(scratch)],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    _git(repo, "checkout", "-q", "--", ".")
    _git(repo, "reset", "-q", "staged.py")
    out = {}
    for line in done.stdout.splitlines():
        name, wall_ms, cpu_ms = line.split()
        out[name] = (float(wall_ms), float(cpu_ms))
    return out


def _timed(cmd: list[str], n: int, cwd: Path) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of n sequential runs of cmd (after one that warms the caches)."""
    walls, cpus = [], []
    for i in range(n + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=False, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i:
            walls.append(elapsed)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


if __name__ == "__main__":
    main()
