"""Shared bits of the benchmarks: a throw-away git repo, the seq-hooks command, timing, a table
printer."""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SEQ_HOOKS = (
    str(VENV_BIN / "seq-hooks")
    if (VENV_BIN / "seq-hooks").exists()
    else shutil.which("seq-hooks") or ""
)


def compile_package() -> None:
    """Installed packages carry .pyc files; an editable checkout under PYTHONDONTWRITEBYTECODE would
    not."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "seq_hooks")], check=True)


@contextmanager
def scratch_repo(pyproject: str | None = None) -> Iterator[Path]:
    """A new git repository, with `pyproject` as its pyproject.toml when given."""
    with tempfile.TemporaryDirectory(prefix="seq-hooks-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        if pyproject is not None:
            (repo / "pyproject.toml").write_text(pyproject)
        yield repo


def wall(
    cmd: list[str], n: int, cwd: Path | None = None, env: dict[str, str] | None = None
) -> list[float]:
    """Wall seconds of n sequential runs of cmd (the first run, cache warm-up, is not counted)."""
    subprocess.run(cmd, cwd=cwd, env=env, check=False, stdout=subprocess.DEVNULL)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, check=False, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
    return out


def daemons_ready(state_dir: str, limit: float = 120.0) -> float:
    """Waits until every live mypy daemon of the state dir is warm (a daemon warms up at the lowest
    CPU priority after the unit that started it, which ran plain mypy: a user's next commit comes
    minutes later, a benchmark's at once); the seconds it took."""
    from seq_hooks.daemons import record  # only for the benchmarks that start daemons

    start = time.monotonic()
    while time.monotonic() - start < limit:
        live = [r for r in record.all_records(state_dir) if r.pid and record.alive(r)]
        if all(record.listening(state_dir, r) is not None for r in live):
            break
        time.sleep(0.1)
    return time.monotonic() - start


def ms(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1000:.1f}"


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def machine() -> str:
    return f"{os.cpu_count()} CPU, Python {sys.version.split()[0]}, kernel {os.uname().release}"
