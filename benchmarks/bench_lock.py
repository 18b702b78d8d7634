"""Issue 3: the queue under load. 20 concurrent `seq-hooks run -- true` against 20 sequential ones,
the handoff latency from one holder's release to the next holder's start (from the journal), and the
resident memory of a process waiting for the lock.

    .venv/bin/python benchmarks/bench_lock.py [--rounds N]
"""
from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, SEQ_HOOKS, compile_package, machine, scratch_repo, table


def journal(repo: Path) -> list[dict[str, float]]:
    path = repo / ".git" / "seq-hooks" / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def concurrent_vs_sequential(rounds: int, n: int = 20) -> list[float]:
    rows = []
    handoffs: list[float] = []
    for r in range(rounds):
        with scratch_repo() as repo:
            t = time.perf_counter()
            for _ in range(n):
                subprocess.run([SEQ_HOOKS, "run", "--", "true"], cwd=repo, check=True)
            sequential = time.perf_counter() - t
            before = len(journal(repo))
            t = time.perf_counter()
            procs = [
                subprocess.Popen([SEQ_HOOKS, "run", "--quiet", "--", "true"], cwd=repo)
                for _ in range(n)
            ]
            codes = [p.wait(120) for p in procs]
            concurrent = time.perf_counter() - t
            assert codes == [0] * n, codes
            runs = sorted(journal(repo)[before:], key=lambda rec: rec["started"])
            gaps = [(b["started"] - a["ended"]) * 1000 for a, b in itertools.pairwise(runs)
                    # only real handoffs: b was already waiting when a released
                    if b["enqueued"] < a["ended"]]
            handoffs.extend(gaps)
            rows.append(
                [
                    str(r + 1),
                    f"{sequential * 1000:.0f}",
                    f"{concurrent * 1000:.0f}",
                    f"{concurrent / sequential:.2f}",
                    str(len(gaps)),
                    f"{statistics.median(gaps):.2f}" if gaps else "-",
                    f"{max(gaps):.2f}" if gaps else "-",
                ]
            )
    table(
        f"{n} x `seq-hooks run -- true`: sequential vs all at once ({machine()})",
        [
            "round",
            "sequential ms",
            "concurrent ms",
            "ratio",
            "handoffs",
            "median handoff ms",
            "max handoff ms",
        ],
        rows,
    )
    return handoffs


def waiting_rss() -> None:
    gate_script = ROOT / "testing" / "fixtures" / "gate.py"
    rows = []
    with scratch_repo() as repo:
        gate, pidfile = repo / "gate", repo / "holder.pid"
        holder = subprocess.Popen(
            [
                SEQ_HOOKS,
                "run",
                "--",
                sys.executable,
                str(gate_script),
                str(pidfile),
                str(gate),
                str(repo / "order"),
                "holder",
            ],
            cwd=repo,
        )
        deadline = time.monotonic() + 20
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        waiters = [
            subprocess.Popen([SEQ_HOOKS, "run", "--quiet", "--", "true"], cwd=repo)
            for _ in range(5)
        ]
        queue = repo / ".git" / "seq-hooks" / "locks" / "default"
        while len(list(queue.glob("*.ticket"))) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # let them settle in their blocking flock
        for w in waiters:
            with open(f"/proc/{w.pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f)
            rss_kb = int(fields["VmRSS"].split()[0])
            rows.append([str(w.pid), f"{rss_kb / 1024:.1f}", fields["State"].strip()])
        gate.touch()
        holder.wait(30)
        for w in waiters:
            w.wait(30)
    table(
        "Resident memory of a seq-hooks process waiting for the lock",
        ["pid", "VmRSS MiB", "state"],
        rows,
    )


def main() -> int:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    compile_package()
    handoffs = concurrent_vs_sequential(rounds)
    if handoffs:
        print(f"\nhandoff over all rounds: median {statistics.median(handoffs):.2f} ms, "
              f"p90 {sorted(handoffs)[int(len(handoffs) * 0.9)]:.2f} ms, n={len(handoffs)}")
    waiting_rss()
    return 0


if __name__ == "__main__":
    os.environ.pop("SEQ_HOOKS_HOLDER", None)
    raise SystemExit(main())
