"""The per-run log file: a header, the command's output as it streams, and a footer with the outcome."""
from __future__ import annotations

import os
import shlex
import time

from seq_hooks.config import Settings
from seq_hooks.project import ensure_private_dir, open_private
from seq_hooks.supervisor import Outcome


def log_dir(settings: Settings, state_dir: str, root: str) -> str:
    """Where run logs go: `log_dir` from the configuration (relative to the project root), else <state>/logs."""
    where = settings.log_dir or os.path.join(state_dir, "logs")
    return where if os.path.isabs(where) else os.path.join(root, where)


def stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(epoch)) + f".{int(epoch % 1 * 1000):03d}"


def default_path(log_dir: str, token: str, epoch: float) -> str:
    ensure_private_dir(log_dir)
    return os.path.join(log_dir, time.strftime("%Y%m%d-%H%M%S", time.localtime(epoch)) + f"-{token}.log")


def open_log(path: str, argv: list[str], cwd: str, epoch: float, lock: str | None) -> int:
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    header = (
        f"# seq-hooks run\n# command: {shlex.join(argv)}\n# cwd: {cwd}\n# lock: {lock or '(none)'}\n"
        f"# pid: {os.getpid()}\n# started: {stamp(epoch)}\n"
    )
    os.write(fd, header.encode())
    return fd


def close_log(fd: int, outcome: Outcome, epoch: float, attempt: int) -> None:
    lines = [
        f"\n# ended: {stamp(epoch)} (attempt {attempt})",
        f"# exit: {outcome.exit_code} ({outcome.reason}){' ' + outcome.message if outcome.message else ''}",
        f"# duration: {outcome.duration_s:.3f}s",
        f"# peak tree memory: {outcome.peak_rss / 1048576:.1f} MB",
        "# processes (pid, peak MB, command):",
    ]
    lines += [f"#   {p.pid:>7} {p.peak_rss / 1048576:8.1f}  {p.command[:200]}" for p in outcome.procs]
    try:
        os.write(fd, ("\n".join(lines) + "\n").encode(errors="replace"))
    except OSError:
        pass  # a full disk must not turn the command's own result into an error of ours
    finally:
        os.close(fd)
