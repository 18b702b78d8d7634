"""Benchmark: atomic-ruff against ruff run bare, on the source of a pinned package from PyPI.

    .venv/bin/python benchmarks/bench_hooks.py [--rounds N] [--package NAME==VERSION]
    .venv/bin/python benchmarks/bench_hooks.py --mypy [--rounds N] [--package NAME==VERSION]

Fetches the package's sdist once into benchmarks/.cache/ (gitignored), copies its .py files into a
throw-away git repository (so the project, its lock and its journal are private to the benchmark),
then times, as the median of N rounds after one warm-up each:
  per file: a shell loop running `ruff check FILE` on each file, against `atomic-ruff --batch 1
  FILES...`; batched:  one plain `ruff check FILES...`, against `atomic-ruff --batch 50 FILES...`.
Targets: per file within 1.3x of the bare loop; batched within 2x of the plain call. Exit 1 when one
is missed.

--mypy (default package rich==13.7.1): atomic-mypy one unit per file (sharing mypy's cache) against
--batch 0 (the whole program as one unit) and one plain mypy call, with a cold cache, a warm one,
and a commit that changed one file; no target, it measures the trade-off.

--units (default package toolz==1.1.0, a wheel: its modules and its own tests, no dependencies): how
big a unit should be. For atomic-ruff, atomic-mypy and atomic-pytest: the bare tool called once, the
hook with a unit per file (--batch 1) and the hook with its default units, on a commit that changed
4 modules (pytest runs their 4 test files) and on all files (pytest --all); mypy's cache warm, as
between commits. Prints seconds and the ratio to the bare tool.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
BIN = Path(sys.executable).parent
RUFF = str(BIN / "ruff")
ATOMIC_RUFF = str(BIN / "atomic-ruff")
# what `atomic-ruff --no-fix` runs (the corpus stays as it is)
RUFF_ARGS = ["check", "--force-exclude", "--no-fix"]


def fetch(spec: str, *, wheel: bool = False) -> Path:
    """The unpacked sdist (or wheel: for a package whose tests ship inside it) of `spec`
    (NAME==VERSION), downloaded with pip on first use."""
    name, _, version = spec.partition("==")
    unpacked = CACHE / f"{name}-{version}{'-wheel' if wheel else ''}"
    if unpacked.is_dir():
        return unpacked
    CACHE.mkdir(exist_ok=True)
    pattern = f"{name}-{version}-*.whl" if wheel else f"{name}-{version}.tar.gz"
    if next(CACHE.glob(pattern), None) is None:
        print(
            f"fetching {spec} ({'wheel' if wheel else 'sdist'}) from PyPI into {CACHE} ...",
            flush=True,
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary" if wheel else "--no-binary",
                ":all:",
                spec,
                "-d",
                str(CACHE),
            ],
            check=True,
        )
    archive = next(CACHE.glob(pattern))
    if wheel:
        with zipfile.ZipFile(archive) as z:
            z.extractall(unpacked)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    return unpacked


def corpus(source: Path, work: Path) -> list[str]:
    """Copies the package's .py files (only those: its own ruff settings would exclude most of them)
    into a fresh git repository; returns them, relative and sorted. ruff checks them with its
    default settings."""
    files = sorted(str(p.relative_to(source)) for p in source.rglob("*.py") if p.is_file())
    for f in files:
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / f, work / f)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q"], cwd=work, check=True, env=env)
    return files


def checked(work: Path, files: list[str], env: dict[str, str]) -> int:
    """How many of the files ruff really checks (not excluded)."""
    got = subprocess.run(
        [RUFF, *RUFF_ARGS, "--show-files", "--", *files],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return sum(1 for line in got.stdout.splitlines() if line.strip().endswith(".py"))


def timed(cmd: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, input=stdin, text=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(
    work: Path, files: list[str], env: dict[str, str], rounds: int, extra: list[str]
) -> dict[str, float]:
    """Median seconds of each case; `extra` goes to ruff on every side (atomic-ruff passes it
    on)."""
    ruff = [RUFF, *RUFF_ARGS, *extra]
    loop = ['while IFS= read -r f; do "$0" "$@" -- "$f" >/dev/null 2>&1; done', *ruff]
    listing = "\n".join(files) + "\n"
    cases: dict[str, Callable[[], float]] = {
        "bare loop": lambda: timed(["bash", "-c", *loop], work, env, listing),
        "atomic-ruff": lambda: timed(
            [ATOMIC_RUFF, "--batch", "1", "--no-fix", *extra, *files], work, env
        ),
        "plain call": lambda: timed([*ruff, "--", *files], work, env),
        "atomic-ruff --batch 50": lambda: timed(
            [ATOMIC_RUFF, "--batch", "50", "--no-fix", *extra, *files], work, env
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for run in cases.values():
        run()  # warm-up: ruff's cache, the page cache
    for _ in range(rounds):
        for name, run in cases.items():
            times[name].append(run())
    return {name: statistics.median(t) for name, t in times.items()}


def table(title: str, med: dict[str, float], n: int) -> bool:
    """Prints one table; True when every target is met."""
    print(f"\n{title}")
    print(f"| {'case':<24} | {'total s':>8} | {'ms/file':>8} | {'ratio':>6} | {'target':>6} |")
    print(f"|{'-' * 26}|{'-' * 10}|{'-' * 10}|{'-' * 8}|{'-' * 8}|")
    met = True
    for base, ours, target in (
        ("bare loop", "atomic-ruff", 1.3),
        ("plain call", "atomic-ruff --batch 50", 2.0),
    ):
        ratio = med[ours] / med[base]
        met &= ratio <= target
        for name, r, t in ((base, "", ""), (ours, f"{ratio:.2f}x", f"{target:.1f}x")):
            print(
                f"| {name:<24} | {med[name]:8.3f} | {med[name] / n * 1000:8.2f} | {r:>6} | {t:>6} |"
            )
    return met


MYPY = str(BIN / "mypy")
ATOMIC_MYPY = str(BIN / "atomic-mypy")
MYPY_ARGS = ["--ignore-missing-imports"]  # the package's own dependencies are not installed


def mypy_errors(work: Path, env: dict[str, str], cmd: list[str]) -> tuple[float, int]:
    """(seconds, error lines) of one run."""
    start = time.perf_counter()
    got = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    return elapsed, sum(1 for line in got.stdout.splitlines() if ": error: " in line)


def bench_mypy(spec: str, rounds: int) -> int:
    source = fetch(spec)
    with tempfile.TemporaryDirectory(prefix="seq-hooks-bench-mypy-") as tmp:
        work = Path(tmp) / "corpus"
        files = corpus(source, work)
        pkg = [f for f in files if not f.startswith(("tests/", "test/", "docs/", "examples/"))]
        # a module that many others import (rich's console), else the biggest one
        changed = next(
            (f for f in pkg if f.endswith("/console.py")),
            max(pkg, key=lambda f: (work / f).stat().st_size),
        )
        env = {**os.environ, "SEQ_HOOKS_HOME": str(Path(tmp) / "state"), "PRE_COMMIT": "1"}
        cases = {
            "plain mypy, all files": [MYPY, *MYPY_ARGS, "--", *pkg],
            "atomic-mypy --batch 0 (one unit)": [ATOMIC_MYPY, *MYPY_ARGS, "--batch", "0", *pkg],
            "atomic-mypy (a unit per file)": [ATOMIC_MYPY, *MYPY_ARGS, "--batch", "1", *pkg],
        }
        rows: list[tuple[str, str, float, int]] = []
        for name, cmd in cases.items():
            cold, warm = [], []
            errors = 0
            for _ in range(rounds):
                shutil.rmtree(work / ".mypy_cache", ignore_errors=True)
                t, errors = mypy_errors(work, env, cmd)
                cold.append(t)
                warm.append(mypy_errors(work, env, cmd)[0])
            rows.append((name, "cold cache", statistics.median(cold), errors))
            rows.append((name, "warm cache", statistics.median(warm), errors))
        # a commit that changed one module: pre-commit passes that one file; whole-program checks
        # everything
        one: dict[str, list[float]] = {
            "atomic-mypy (a unit per file)": [],
            "atomic-mypy --batch 0 (one unit)": [],
        }
        for _ in range(rounds):
            for name, times in one.items():
                shutil.rmtree(work / ".mypy_cache", ignore_errors=True)
                # a warm cache from an earlier run
                mypy_errors(work, env, cases["plain mypy, all files"])
                with open(work / changed, "a") as f:
                    f.write("\n# changed\n")
                args = [changed] if "per file" in name else pkg
                times.append(
                    mypy_errors(
                        work,
                        env,
                        [
                            ATOMIC_MYPY,
                            *MYPY_ARGS,
                            "--batch",
                            "1" if "per file" in name else "0",
                            *args,
                        ],
                    )[0]
                )
        for name, times in one.items():
            what = f"1 changed ({changed})" if "per file" in name else "1 changed, all checked"
            rows.append((name, what, statistics.median(times), -1))
    print(
        f"corpus: the .py files of the {spec} sdist, {len(pkg)} modules checked; mypy "
        f"{MYPY_ARGS[0]}; "
        f"{os.cpu_count()} CPUs; median of {rounds} rounds"
    )
    print(f"| {'case':<34} | {'cache / files':<40} | {'seconds':>7} | {'errors':>6} |")
    print(f"|{'-' * 36}|{'-' * 42}|{'-' * 9}|{'-' * 8}|")
    for name, what, t, errors in rows:
        shown = "" if errors < 0 else str(errors)
        print(f"| {name:<34} | {what:<40} | {t:7.2f} | {shown:>6} |")
    return 0


# a commit's modules; each has tests/test_<name>.py
CHANGED = ("itertoolz", "dicttoolz", "functoolz", "recipes")


def bench_units(spec: str, rounds: int) -> int:
    source = fetch(spec, wheel=True)
    name = spec.partition("==")[0]
    with tempfile.TemporaryDirectory(prefix="seq-hooks-bench-units-") as tmp:
        work = Path(tmp) / "corpus"
        files = [f for f in corpus(source, work) if f.startswith(f"{name}/")]
        tests = [f for f in files if Path(f).name.startswith("test_")]
        commit = [f"{name}/{m}.py" for m in CHANGED]
        commit_tests = [f for f in tests if Path(f).stem.removeprefix("test_") in CHANGED]
        env = {**os.environ, "SEQ_HOOKS_HOME": str(Path(tmp) / "state"), "PRE_COMMIT": "1"}
        for var in ("SEQ_HOOKS_HOLDER", "SEQ_HOOKS_RUN", "SEQ_HOOKS_DEADLINE"):
            env.pop(var, None)
        # hook: (its extra args, the bare command's head, the bare command's files for commit / all)
        tools = {
            "atomic-ruff": (["--no-fix"], [RUFF, "check", "--no-fix", "--"], commit, files),
            "atomic-mypy": (MYPY_ARGS, [MYPY, *MYPY_ARGS, "--"], commit, files),
            "atomic-pytest": ([], [str(BIN / "pytest"), "-q"], commit_tests, tests),
        }
        rows: list[list[str]] = []
        for hook, (extra, bare, bare_commit, bare_all) in tools.items():
            for what, given, bare_files in (
                ("commit", commit, bare_commit),
                ("all files", files, bare_all),
            ):
                args = ["--all"] if hook == "atomic-pytest" and what == "all files" else given
                cases = {
                    "bare": [*bare, *bare_files],
                    "a unit per file": [str(BIN / hook), "--batch", "1", *extra, *args],
                    "default units": [str(BIN / hook), *extra, *args],
                }
                med = interleaved(cases, work, env, rounds)
                ratios = [
                    f"{med[c] / med['bare']:.2f}x" for c in ("a unit per file", "default units")
                ]
                rows.append(
                    [
                        hook,
                        f"{what} ({len(bare_files)} files)",
                        *(f"{med[c]:.2f}" for c in cases),
                        *ratios,
                    ]
                )
    print(
        f"corpus: {spec} (its {len(files)} modules and {len(tests)} test files); {os.cpu_count()} "
        "CPUs; "
        f"median of {rounds} rounds (the cases taking turns) after a warm-up; mypy's cache warm"
    )
    header = [
        "hook",
        "files",
        "bare s",
        "per file s",
        "default s",
        "per file / bare",
        "default / bare",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


def interleaved(
    cases: dict[str, list[str]], cwd: Path, env: dict[str, str], rounds: int
) -> dict[str, float]:
    """Median seconds of each case, the cases taking turns in every round (a shared machine's load
    drifts)."""
    for cmd in cases.values():
        timed(cmd, cwd, env)  # warm-up: caches, the page cache
    times: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(rounds):
        for case, cmd in cases.items():
            times[case].append(timed(cmd, cwd, env))
    return {case: statistics.median(t) for case, t in times.items()}


def compile_package() -> None:
    """Byte-compiles seq_hooks as pip does on install: with stale .pyc files (an editable install
    run under PYTHONDONTWRITEBYTECODE=1) every hook start would recompile it, ~35 ms more per
    start."""
    import seq_hooks

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(seq_hooks.__file__).parent)], check=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--package", default=None, help="the sdist whose source is the corpus (NAME==VERSION)"
    )
    parser.add_argument(
        "--mypy", action="store_true", help="measure atomic-mypy per file against --batch"
    )
    parser.add_argument(
        "--units",
        action="store_true",
        help="per-file units against the default ones and the bare tool (ruff, mypy, pytest)",
    )
    args = parser.parse_args(argv)
    compile_package()
    if args.mypy:
        return bench_mypy(args.package or "rich==13.7.1", args.rounds)
    if args.units:
        return bench_units(args.package or "toolz==1.1.0", args.rounds)
    args.package = args.package or "pip==24.0"
    source = fetch(args.package)
    with tempfile.TemporaryDirectory(prefix="seq-hooks-bench-") as tmp:
        work = Path(tmp) / "corpus"
        files = corpus(source, work)
        if len(files) < 200:
            print(
                f"the corpus has only {len(files)} Python files; pick a bigger package",
                file=sys.stderr,
            )
            return 2
        env = {**os.environ, "SEQ_HOOKS_HOME": str(Path(tmp) / "state"), "PRE_COMMIT": "1"}
        for name in ("SEQ_HOOKS_HOLDER", "SEQ_HOOKS_RUN", "SEQ_HOOKS_DEADLINE"):
            env.pop(name, None)
        really = checked(work, files, env)
        cold = measure(work, files, env, args.rounds, ["--no-cache"])
        warm = measure(work, files, env, args.rounds, [])
    n = len(files)
    print(
        f"corpus: the .py files of the {args.package} sdist: {n} files, {really} checked by ruff "
        "(not excluded); "
        f"ruff {ruff_version()}; {os.cpu_count()} CPUs; median of {args.rounds} rounds"
    )
    met = table("ruff --no-cache (files that changed: what a commit checks)", cold, n)
    warm_met = table("ruff's cache warm (--all-files on an unchanged tree)", warm, n)
    print(
        "\nall targets met" if met and warm_met else "\nnot every target was met (see the tables)"
    )
    return 0 if met else 1


def ruff_version() -> str:
    return subprocess.run(
        [RUFF, "--version"], capture_output=True, text=True, check=False
    ).stdout.split()[-1]


if __name__ == "__main__":
    raise SystemExit(main())
