"""Issue 6: six concurrent `add` + `commit -- FILE` sequences in one repository, with plain git and
with `seq-hooks git --`, with no hook and with a pre-commit hook that takes 0.2 s (git keeps
index.lock while the hooks of a `commit -- paths` run). Counts the sequences that failed (and how
many of those said index.lock), the commits that landed, and the wall time of the whole round. Also
the cost of one `seq-hooks git -- status`.

    .venv/bin/python benchmarks/bench_git.py [--rounds N]
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import SEQ_HOOKS, compile_package, machine, ms, scratch_repo, table, wall

WORKERS = 6


def _prepare(repo: Path, hook_s: float) -> None:
    for args in (
        ["config", "user.name", "Bench"],
        ["config", "user.email", "bench@example.invalid"],
        ["config", "commit.gpgsign", "false"],
        ["commit", "-q", "--allow-empty", "-m", "root"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    if hook_s:
        hook = repo / ".git" / "hooks" / "pre-commit"
        hook.write_text(f"#!/bin/sh\nsleep {hook_s}\n")
        hook.chmod(0o755)


def one_round(git_cmd: str, hook_s: float) -> tuple[int, int, int, float]:
    """(failed sequences, of them on index.lock, commits that landed, wall seconds)."""
    with scratch_repo() as repo:
        _prepare(repo, hook_s)
        go = repo.parent / "go"
        script = ("while [ ! -e {go} ]; do sleep 0.002; done; echo {i} > f{i}.txt && "
                  "{git} add f{i}.txt && {git} commit -q -m c{i} -- f{i}.txt")
        procs = [subprocess.Popen(["sh", "-c", script.format(go=go, i=i, git=git_cmd)], cwd=repo,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(WORKERS)]
        t = time.perf_counter()
        go.touch()
        results = [(p.wait(300), p.stderr.read() if p.stderr else "") for p in procs]
        elapsed = time.perf_counter() - t
        log = subprocess.run(
            ["git", "log", "--format=%s"], cwd=repo, capture_output=True, text=True, check=True
        )
        commits = len(log.stdout.split()) - 1
    failed = [err for code, err in results if code != 0]
    return len(failed), sum("index.lock" in err for err in failed), commits, elapsed


def main() -> None:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 10
    compile_package()
    rows = []
    for hook_s in (0.0, 0.2):
        for label, git_cmd in (("git", "git"), ("seq-hooks git --", f"{SEQ_HOOKS} git --")):
            outcomes = [one_round(git_cmd, hook_s) for _ in range(rounds)]
            failed = [o[0] for o in outcomes]
            rows.append([
                label, f"{hook_s:g}", str(rounds),
                f"{sum(f > 0 for f in failed)}/{rounds}",
                f"{statistics.mean(failed):.1f} (max {max(failed)})",
                f"{sum(o[1] for o in outcomes)}/{sum(failed)}",
                f"{statistics.mean(o[2] for o in outcomes):.1f}/{WORKERS}",
                f"{statistics.median(o[3] for o in outcomes):.2f}",
            ])
    table(f"{WORKERS} concurrent `add f && commit -- f` sequences in one repository ({machine()})",
          ["command", "hook s", "rounds", "rounds with a failure", "failed sequences per round",
           "failures on index.lock", "commits landed", "median wall s"], rows)
    with scratch_repo() as repo:
        _prepare(repo, 0.0)
        plain = wall(["git", "status", "--short"], 20, cwd=repo)
        locked = wall([SEQ_HOOKS, "git", "--", "status", "--short"], 20, cwd=repo)
    table(
        "cost of the lock for one quick git command (20 runs, median)",
        ["command", "ms"],
        [["git status --short", ms(plain)], ["seq-hooks git -- status --short", ms(locked)]],
    )


if __name__ == "__main__":
    main()
