"""Benchmark (issue 17): atomic-mypy's warm mypy daemon against plain mypy, per commit, after the
same edit.

    .venv/bin/python benchmarks/bench_mypy.py [--rounds N] [--package NAME==VERSION] [--files
    commit,all]

The package's sdist (default click==8.5.1: typed, `strict` in its own mypy configuration;
rich==13.7.1 was the earlier default) is copied into a throw-away git repository. Each round is one
commit's edit: a function appended to the module most others import (rich/console.py, else the
biggest: click/core.py), then, one after another on that same tree:
- plain mypy (`mypy --ignore-missing-imports -- FILES`, its cache warm from the round before);
- atomic-mypy --no-daemon (plain mypy as a unit through seq-hooks);
- atomic-mypy with its daemon warm (the daemon answered the round before).
FILES is the commit's file (what pre-commit passes) or all modules. Cold: the daemon stopped first
(`seq-hooks clean`): its first unit runs plain mypy (cache warm) and starts a daemon, which warms up
at the lowest priority before the next round; against plain mypy with its cache removed. Wall
seconds (median of the rounds) and CPU seconds (user +
system of the command's processes and, for the daemon, of the daemon's own process over the unit,
from /proc/PID/stat) for each; the daemon's answer is compared with plain mypy's on every round (the
same error lines, in any order; the same exit status). Run it with the Python of a virtualenv where
seq-hooks is installed as users get it (not editable), with mypy. The benchmark ends only processes
it started (the daemons, by `seq-hooks clean`), and every wait is bounded.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import daemons_ready
from bench_hooks import corpus, fetch

BIN = Path(sys.executable).parent
MYPY = str(BIN / "mypy")
ATOMIC_MYPY = str(BIN / "atomic-mypy")
SEQ_HOOKS = str(BIN / "seq-hooks")
ARGS = ["--ignore-missing-imports"]  # the package's own dependencies are not installed
TICK = os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _daemon_cpu(state: Path) -> float:
    """CPU seconds the live daemons have used so far (their own processes: not our children)."""
    total = 0.0
    for rec in (state / "daemons").glob("*.json"):
        try:
            pid = json.loads(rec.read_text())["pid"]
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, KeyError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def run(
    cmd: list[str], work: Path, env: dict[str, str], state: Path
) -> tuple[float, float, int, list[str]]:
    """(wall s, CPU s, exit, error lines) of one command."""
    cpu0, d0 = _children_cpu(), _daemon_cpu(state)
    start = time.perf_counter()
    got = subprocess.run(
        cmd, cwd=work, env=env, capture_output=True, text=True, check=False, timeout=1800
    )
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu0 + max(_daemon_cpu(state) - d0, 0.0)
    errors = sorted(line for line in got.stdout.splitlines() if ": error: " in line)
    return wall, cpu, got.returncode, errors


def edit(work: Path, module: str, n: int) -> None:
    with open(work / module, "a", encoding="utf-8") as f:
        f.write(f"\n\ndef bench_edit_{n}(x: int) -> int:\n    return x + {n}\n")


def answer_of(code: int, errors: list[str]) -> tuple[int, list[str]]:
    return min(code, 1), errors  # the hook says 0 or 1 (its unit's own exit is mypy's)


CASES = ("plain mypy", "atomic-mypy --no-daemon", "atomic-mypy, daemon warm")


def _trees(source: Path, tmp: Path) -> tuple[dict[str, Path], list[str]]:
    """A copy of the corpus per case (its own mypy cache, its own daemon), each its own git
    repository."""
    trees = {name: tmp / f"tree{i}" for i, name in enumerate(CASES)}
    files: list[str] = []
    for tree in trees.values():
        files = corpus(source, tree)
    return trees, files


def bench(spec: str, rounds: int, which: list[str]) -> int:
    source = fetch(spec)
    same = True
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="seq-hooks-bench-mypyd-") as tmp:
        trees, files = _trees(source, Path(tmp))
        pkg = [
            f
            for f in files
            if not f.startswith(("tests/", "test/", "docs/", "examples/", "benchmarks/"))
        ]
        first = trees[CASES[0]]
        biggest = max(pkg, key=lambda f: (first / f).stat().st_size)
        changed = next((f for f in pkg if f.endswith("/console.py")), biggest)
        state = Path(tmp) / "state"
        env = {**os.environ, "SEQ_HOOKS_HOME": str(state), "PRE_COMMIT": "1"}
        try:
            for kind in which:
                checked = [changed] if kind == "commit" else pkg
                label = f"{changed}" if kind == "commit" else f"all {len(pkg)} modules"
                cmds = {
                    "plain mypy": [MYPY, *ARGS, "--", *checked],
                    "atomic-mypy --no-daemon": [ATOMIC_MYPY, "--no-daemon", *ARGS, *checked],
                    "atomic-mypy, daemon warm": [ATOMIC_MYPY, *ARGS, *checked],
                }
                for name, cmd in cmds.items():  # warm-up: mypy's cache, the daemon, the page cache
                    run(cmd, trees[name], env, state)
                times: dict[str, list[tuple[float, float]]] = {
                    name: []
                    for name in [*CASES, "atomic-mypy, daemon cold", "plain mypy, cache removed"]
                }
                for n in range(rounds * 2):
                    # every other round: the daemon stopped, plain mypy's cache removed
                    cold = n % 2 == 1
                    for name in cmds:
                        edit(trees[name], changed, n + 1000 * len(rows))
                        if cold and name == "plain mypy":
                            shutil.rmtree(trees[name] / ".mypy_cache", ignore_errors=True)
                        if cold and name == "atomic-mypy, daemon warm":
                            subprocess.run(
                                [SEQ_HOOKS, "clean"],
                                cwd=trees[name],
                                env=env,
                                capture_output=True,
                                timeout=120,
                                check=False,
                            )
                    if not cold:  # the daemon the cold round started has warmed up
                        daemons_ready(str(state))
                    answers = {}
                    for name, cmd in cmds.items():
                        wall, cpu, code, errors = run(cmd, trees[name], env, state)
                        shown = (
                            {
                                "plain mypy": "plain mypy, cache removed",
                                "atomic-mypy, daemon warm": "atomic-mypy, daemon cold",
                            }.get(name, "")
                            if cold
                            else name
                        )
                        if shown:
                            times[shown].append((wall, cpu))
                        answers[name] = answer_of(code, errors)
                    if len({json.dumps(a) for a in answers.values()}) != 1:
                        same = False
                        differ = {k: v for k, v in answers.items() if v != answers["plain mypy"]}
                        theirs = {e for _, es in differ.values() for e in es}
                        only_plain = sorted(set(answers["plain mypy"][1]) - theirs)
                        extra = sorted(theirs - set(answers["plain mypy"][1]))
                        sys.stderr.write(
                            f"round {n} ({'cold' if cold else 'warm'}): {sorted(differ)} differ "
                            "from "
                            f"plain mypy: only in plain mypy's {only_plain}, only in theirs "
                            f"{extra}\n"
                        )
                base = statistics.median(w for w, _ in times["plain mypy"])
                for name, got in times.items():
                    wall = statistics.median(w for w, _ in got)
                    cpu = statistics.median(c for _, c in got)
                    rows.append([label, name, f"{wall:.2f}", f"{cpu:.2f}", f"{wall / base:.2f}x"])
        finally:
            for tree in trees.values():
                subprocess.run(
                    [SEQ_HOOKS, "clean"],
                    cwd=tree,
                    env=env,
                    capture_output=True,
                    timeout=120,
                    check=False,
                )
    print(
        f"\n{spec} sdist ({len(pkg)} modules), mypy {' '.join(ARGS)}, a function appended to "
        f"{changed} before "
        f"each unit; median of {rounds} rounds; {os.cpu_count()} CPUs\n"
    )
    print("| files | case | wall s | CPU s | wall vs plain mypy |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(f"\nthe daemon's answers were plain mypy's on every round: {'yes' if same else 'NO'}")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--package", default="click==8.5.1")
    parser.add_argument(
        "--files", default="commit,all", help="commit (the edited file), all (every module)"
    )
    args = parser.parse_args()
    return bench(args.package, args.rounds, args.files.split(","))


if __name__ == "__main__":
    raise SystemExit(main())
