"""The cost of supervising one command, and how far a fast allocation overshoots the memory limit.

Startup is compared with `python3 -I -S -c pass` and with the floor (FLOOR below): the interpreter and the stdlib
modules any supervised run needs, plus spawning the command. Targets: within 2.5x of the first, or, where the
floor stands in the way, within 1.2x of the floor.

    .venv/bin/python benchmarks/bench_run.py [--runs N]
    .venv/bin/python benchmarks/bench_run.py --instructions    (needs valgrind; counts instead of timing)
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

from _common import ROOT, SEQ_HOOKS, compile_package, machine, ms, scratch_repo, table, wall

# The floor: what any supervised run of `true` must pay whatever its code. The interpreter with site (the console
# script's), the stdlib a run needs (json: tickets and journal, which brings re, as the installer's console script
# does too; signal: forwarding; fcntl: flock; select: waiting; ctypes: prctl for the subreaper), and spawning the
# command and waiting for it.
FLOOR = ("import json, signal, fcntl, select, ctypes, os\n"
         "os.waitpid(os.posix_spawnp('true', ['true'], os.environ), 0)")
# seq-hooks ends with os._exit (entry.exit_now): the same floor without the interpreter's teardown, for a
# comparison that does not credit seq-hooks with what the floor spends on its own exit
FLOOR_NO_TEARDOWN = FLOOR + "\nos._exit(0)"


def _median(times: list[float]) -> float:
    return sorted(times)[len(times) // 2]


def cases() -> list[tuple[str, list[str]]]:
    python = os.path.realpath(sys.executable)  # the interpreter itself, not a pyenv shim script
    return [
        ("python3 -I -S -c pass", [python, "-I", "-S", "-c", "pass"]),
        ("true (bare)", ["true"]),
        ("timeout 5 true", ["timeout", "5", "true"]),
        ("venv python -c pass (with site)", [sys.executable, "-c", "pass"]),
        ("floor: venv python, the stdlib a run needs, spawn true", [sys.executable, "-c", FLOOR]),
        ("the floor ending with os._exit (no teardown)", [sys.executable, "-c", FLOOR_NO_TEARDOWN]),
        ("seq-hooks run --no-lock -- true", [SEQ_HOOKS, "run", "--no-lock", "--", "true"]),
        ("seq-hooks run -- true (with lock)", [SEQ_HOOKS, "run", "--", "true"]),
    ]


def startup(n: int, cases: list[tuple[str, list[str]]]) -> None:
    with scratch_repo() as repo:
        rows = []
        # interleaved rounds: a load that comes and goes on a shared machine touches every case alike
        times: dict[str, list[float]] = {name: [] for name, _ in cases}
        for _ in range(max(n // 10, 1)):
            for name, cmd in cases:
                times[name] += wall(cmd, 10, repo)
        base = _median(times["python3 -I -S -c pass"])
        floor, bare_floor = _median(times[cases[4][0]]), _median(times[cases[5][0]])
        for name, _cmd in cases:
            m = _median(times[name])
            rows.append([name, ms(times[name]), f"{m / base:.2f}x", f"{m / floor:.2f}x", f"{m / bare_floor:.2f}x"])
        table(f"Startup: median wall time of {len(times[cases[0][0]])} runs ({machine()})",
              ["command", "median ms", "vs python3 -I -S", "vs floor", "vs floor without teardown"], rows)


def instructions(cases: list[tuple[str, list[str]]]) -> None:
    """Instructions each command's own process executes (valgrind's callgrind counts them; the command's children
    run natively and are not counted): unlike wall time, the count does not move with the load of a shared
    machine."""
    rows = []
    counts: dict[str, int] = {}
    with scratch_repo() as repo, tempfile.TemporaryDirectory() as tmp:
        for name, cmd in cases:
            # the console script by the interpreter its first line names
            argv = [sys.executable, *cmd] if cmd[0] == SEQ_HOOKS else cmd
            p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", *argv], cwd=repo,
                               capture_output=True, text=True, check=False)
            found = re.search(r"Collected : (\d+)", p.stderr)
            counts[name] = int(found.group(1)) if found else 0
    base, floor, bare_floor = counts[cases[0][0]], counts[cases[4][0]], counts[cases[5][0]]
    for name, _cmd in cases:
        rows.append([name, f"{counts[name] / 1e6:.1f}", f"{counts[name] / base:.2f}x", f"{counts[name] / floor:.2f}x",
                     f"{counts[name] / bare_floor:.2f}x"])
    table("Instructions of the command's own process (valgrind --tool=callgrind)",
          ["command", "million instructions", "vs python3 -I -S", "vs floor", "vs floor without teardown"], rows)


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
            held = int(record["stdout"].split()[-1])  # the child prints its RSS after each 1 MB step
            rows.append([str(i + 1), str(p.returncode), record["reason"], f"{record['peak_rss_mb']:.0f}",
                         str(held), f"{(held / limit_mb - 1) * 100:+.1f}%"])
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
