"""The cost of supervising one command, and how far a fast allocation overshoots the memory limit.

Startup is compared with `python3 -I -S -c pass` and with the floor (FLOOR below): the interpreter
and the stdlib modules any supervised run needs, plus spawning the command. Each seq-hooks command
is measured in repositories shaped like a user's (REPOS): without a pyproject.toml, with one that
has no seq-hooks table, and with a [tool.seq-hooks] table. Targets, in each: `run --no-lock -- true`
within 1.1x of the floor, `run -- true` within 1.2x.

    .venv/bin/python benchmarks/bench_run.py [--runs N]
    .venv/bin/python benchmarks/bench_run.py --instructions    (needs valgrind; counts instead of
    timing)
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple

from _common import ROOT, SEQ_HOOKS, compile_package, machine, ms, scratch_repo, table, wall

from seq_hooks.pyproject_cache import NAME as CACHE_NAME
from seq_hooks.pyproject_cache import SETTLED_NS

# The floor: what any supervised run of `true` must pay whatever its code. The interpreter with site
# (the console script's), the stdlib a run needs (json: tickets and journal, which brings re, as the
# installer's console script does too; signal: forwarding; fcntl: flock; select: waiting), the
# subreaper's prctl made as seq-hooks makes it (process/supervisor.py: through _ctypes, the C half
# of ctypes; importing ctypes would credit seq-hooks with 6.6M instructions it does not pay), and
# spawning the command and waiting for it.
FLOOR = ("import json, signal, fcntl, select, _ctypes, os\n"
         "class Call(_ctypes.CFuncPtr): _flags_ = _ctypes.FUNCFLAG_CDECL\n"
         "Call(_ctypes.dlsym(_ctypes.dlopen(None), 'prctl'))(36, 1, 0, 0, 0)\n"
         "os.waitpid(os.posix_spawnp('true', ['true'], os.environ), 0)")
# seq-hooks ends with os._exit (entry.exit_now): the same floor without the interpreter's teardown,
# for a comparison that does not credit seq-hooks with what the floor spends on its own exit
FLOOR_NO_TEARDOWN = FLOOR + "\nos._exit(0)"
# seq-hooks writes and reads JSON with the json package's C half (seq_hooks/jsontext.py), not the
# package: the same floor with _json instead of json (and re, which the console script imports),
# shown beside it (the ratios divide by FLOOR)
FLOOR_JSON_C = FLOOR.replace("import json,", "import re, _json,", 1)


# Repositories shaped like a user's. A Python project's pyproject.toml, with the usual tables; the
# second names seq-hooks among its dev dependencies (a search of the text for the name finds it: the
# cache answers there); the third configures seq-hooks.
_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.18"]
build-backend = "hatchling.build"

[project]
name = "example"
version = "1.0.0"
requires-python = ">=3.10"
dependencies = ["requests>=2.31", "PyYAML>=6"]

[project.optional-dependencies]
dev = ["pytest>=8", "mypy>=1.8", "ruff>=0.5"{dev}]

[project.scripts]
example = "example.cli:main"

[tool.mypy]
strict = true
files = ["example", "tests"]

[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra"
"""
_TABLE = """
[tool.seq-hooks]
timeout = 600
memory_limit_mb = 4096

[tool.seq-hooks.hooks.pytest]
timeout = 1200
"""
REPOS = [
    ("no pyproject.toml", None),
    ("pyproject.toml", _PYPROJECT.format(dev="")),
    ("pyproject.toml naming seq-hooks, no table", _PYPROJECT.format(dev=', "seq-hooks>=0.1"')),
    ("pyproject.toml with [tool.seq-hooks]", _PYPROJECT.format(dev=', "seq-hooks>=0.1"') + _TABLE),
]


def _median(times: list[float]) -> float:
    return sorted(times)[len(times) // 2]


class Case(NamedTuple):
    name: str
    cmd: list[str]
    repo: str | None = None  # a name in REPOS; None: the first


def cases() -> list[Case]:
    python = os.path.realpath(sys.executable)  # the interpreter itself, not a pyenv shim script
    out = [
        Case("python3 -I -S -c pass", [python, "-I", "-S", "-c", "pass"]),
        Case("true (bare)", ["true"]),
        Case("timeout 5 true", ["timeout", "5", "true"]),
        Case("venv python -c pass (with site)", [sys.executable, "-c", "pass"]),
        Case(
            "floor: venv python, the stdlib a run needs, spawn true", [sys.executable, "-c", FLOOR]
        ),
        Case(
            "the floor ending with os._exit (no teardown)",
            [sys.executable, "-c", FLOOR_NO_TEARDOWN],
        ),
        Case(
            "the floor with _json, not json (as seq-hooks writes JSON)",
            [sys.executable, "-c", FLOOR_JSON_C],
        ),
    ]
    for repo, _text in REPOS:
        out += [
            Case(
                f"seq-hooks run --no-lock -- true, {repo}",
                [SEQ_HOOKS, "run", "--no-lock", "--", "true"],
                repo,
            ),
            Case(f"seq-hooks run -- true, {repo}", [SEQ_HOOKS, "run", "--", "true"], repo),
        ]
    return out


BASE, FLOOR_CASE, BARE_FLOOR_CASE = 0, 4, 5  # the rows the ratios divide by


@contextmanager
def repos() -> Iterator[dict[str | None, Path]]:
    """The repositories of REPOS by name (None: the first), each pyproject.toml settled: the cache
    keeps a version of the file once it is older than a clock tick (a user's pyproject.toml is older
    than their run)."""
    with ExitStack() as stack:
        made: dict[str | None, Path] = {
            name: stack.enter_context(scratch_repo(text)) for name, text in REPOS
        }
        time.sleep(SETTLED_NS / 1e9)
        made[None] = made[REPOS[0][0]]
        yield made


def _ratios(value: float, base: float, floor: float, bare_floor: float) -> list[str]:
    return [f"{value / base:.2f}x", f"{value / floor:.2f}x", f"{value / bare_floor:.2f}x"]


def startup(n: int, cases: list[Case]) -> None:
    with repos() as where:
        # interleaved rounds: a load that comes and goes on a shared machine touches every case
        # alike
        times: dict[str, list[float]] = {case.name: [] for case in cases}
        for _ in range(max(n // 10, 1)):
            for case in cases:
                times[case.name] += wall(case.cmd, 10, where[case.repo])
    medians = {name: _median(ts) for name, ts in times.items()}
    base, floor, bare_floor = (medians[cases[i].name] for i in (BASE, FLOOR_CASE, BARE_FLOOR_CASE))
    rows = [
        [case.name, ms(times[case.name]), *_ratios(medians[case.name], base, floor, bare_floor)]
        for case in cases
    ]
    table(
        f"Startup: median wall time of {len(times[cases[0].name])} runs ({machine()})",
        ["command", "median ms", "vs python3 -I -S", "vs floor", "vs floor without teardown"],
        rows,
    )


def _count(argv: list[str], repo: Path, out: str) -> int:
    p = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", p.stderr)
    return int(found.group(1)) if found else 0


def instructions(cases: list[Case]) -> None:
    """Instructions each command's own process executes (valgrind's callgrind counts them; the
    command's children run natively and are not counted): unlike wall time, the count does not move
    with the load of a shared machine. Each seq-hooks command runs once before it is counted, as
    `wall` does (the pyproject cache fills)."""
    counts: dict[str, int] = {}
    with repos() as where, tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            # the console script by the interpreter its first line names
            argv = [sys.executable, *case.cmd] if case.cmd[0] == SEQ_HOOKS else case.cmd
            if case.cmd[0] == SEQ_HOOKS:
                subprocess.run(argv, cwd=where[case.repo], capture_output=True, check=False)
            counts[case.name] = _count(argv, where[case.repo], f"{tmp}/out")
        # the first run after pyproject.toml changed parses it (and fills the cache)
        edited = REPOS[-1][0]
        cache = where[edited] / ".git" / "seq-hooks" / CACHE_NAME
        cache.unlink(missing_ok=True)
        cold = f"seq-hooks run --no-lock -- true, {edited}, first run after an edit"
        counts[cold] = _count(
            [sys.executable, SEQ_HOOKS, "run", "--no-lock", "--", "true"],
            where[edited],
            f"{tmp}/out",
        )
    base, floor, bare_floor = (counts[cases[i].name] for i in (BASE, FLOOR_CASE, BARE_FLOOR_CASE))
    rows = [
        [name, f"{count / 1e6:.1f}", *_ratios(count, base, floor, bare_floor)]
        for name, count in counts.items()
    ]
    table(
        "Instructions of the command's own process (valgrind --tool=callgrind)",
        [
            "command",
            "million instructions",
            "vs python3 -I -S",
            "vs floor",
            "vs floor without teardown",
        ],
        rows,
    )


def overshoot(runs: int, limit_mb: int = 300, rate: int = 1000) -> None:
    eater = str(ROOT / "testing" / "fixtures" / "eat_memory.py")
    rows = []
    with scratch_repo() as repo:
        for i in range(runs):
            p = subprocess.run(
                [SEQ_HOOKS, "run", "--no-lock", "--json", "--memory-limit", str(limit_mb), "--",
                 sys.executable, eater, "2000", str(rate), "0", "", "1"],
                cwd=repo, capture_output=True, text=True, check=False,
            )
            record = json.loads(p.stdout)
            # the child prints its RSS after each 1 MB step
            held = int(record["stdout"].split()[-1])
            rows.append(
                [
                    str(i + 1),
                    str(p.returncode),
                    record["reason"],
                    f"{record['peak_rss_mb']:.0f}",
                    str(held),
                    f"{(held / limit_mb - 1) * 100:+.1f}%",
                ]
            )
    table(f"Memory: a child allocating ~{rate} MB/s under --memory-limit {limit_mb} ({runs} runs)",
          ["run", "exit", "reason", "peak sampled MB", "most held MB", "overshoot"], rows)


def main() -> int:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 40
    compile_package()
    if "--instructions" in sys.argv:
        instructions(cases())
        return 0
    startup(runs, cases())
    overshoot(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
