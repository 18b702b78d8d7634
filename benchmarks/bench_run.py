"""Issue 2: the cost of supervising one command, and how far a fast allocation overshoots the memory limit.

    .venv/bin/python benchmarks/bench_run.py [--runs N]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from _common import ROOT, SEQ_HOOKS, compile_package, machine, ms, scratch_repo, table, wall


def startup(n: int) -> None:
    with scratch_repo() as repo:
        rows = []
        python = os.path.realpath(sys.executable)  # the interpreter itself, not a pyenv shim script
        py_pass = wall([python, "-I", "-S", "-c", "pass"], n, repo)
        cases = [
            ("true (bare)", ["true"]),
            ("timeout 5 true", ["timeout", "5", "true"]),
            ("python3 -I -S -c pass", ["python3", "-I", "-S", "-c", "pass"]),
            ("venv python -c pass (with site)", [sys.executable, "-c", "pass"]),
            ("venv python: import json, signal, typing, ctypes",
             [sys.executable, "-c", "import json, signal, typing, ctypes, select, fcntl"]),
            ("seq-hooks run --no-lock -- true", [SEQ_HOOKS, "run", "--no-lock", "--", "true"]),
            ("seq-hooks run -- true (with lock)", [SEQ_HOOKS, "run", "--", "true"]),
        ]
        for name, cmd in cases:
            times = py_pass if name.startswith("python3") else wall(cmd, n, repo)
            ratio = sorted(times)[len(times) // 2] / sorted(py_pass)[len(py_pass) // 2]
            rows.append([name, ms(times), f"{ratio:.2f}x"])
        table(f"Startup: median wall time of {n} runs ({machine()})",
              ["command", "median ms", "vs python3 -I -S"], rows)


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
    startup(runs)
    overshoot(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
