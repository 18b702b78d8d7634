"""The Python API: `seq_hooks.run(argv, ...)` for test suites and scripts that spawn heavy subprocesses.

The run happens in a `seq-hooks run --json` child process, so the caller's own children, signal handlers and
process state are never touched (the supervisor reaps every child of its process and becomes a subreaper).
"""
from __future__ import annotations

import json
import os
import sys

from seq_hooks.errors import INTERNAL, FatalError
from seq_hooks.runner import Result
from seq_hooks.spawn import spawn

RunResult = Result


def run(
    argv: list[str],
    *,
    timeout: float | None = None,
    kill_after: float | None = None,
    memory_limit_mb: int | None = None,
    max_procs: int | None = None,
    retry: int = 0,
    max_wait: float | None = None,
    lock: str | None = "default",
    cwd: str | None = None,
) -> Result:
    """Runs argv through the project's queue and supervisor, like `seq-hooks run --json`; returns the result.

    Settings not given come from [tool.seq-hooks] and SEQ_HOOKS_* as for the command. Output is captured into
    the result. Raises FatalError for a usage or configuration error (exit 2) or a failure of seq-hooks itself.
    """
    cmd = [sys.executable, "-m", "seq_hooks", "run", "--json", "--quiet"]
    for flag, value in (("--timeout", timeout), ("--kill-after", kill_after), ("--memory-limit", memory_limit_mb),
                        ("--max-procs", max_procs), ("--max-wait", max_wait), ("--retry", retry or None)):
        if value is not None:
            cmd += [flag, str(value)]
    cmd += ["--no-lock"] if lock is None else ["--lock", lock]
    cmd += ["--", *argv]
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        pid = spawn(cmd, env=os.environ, stdout=out_w, stderr=err_w, new_group=False)
    finally:
        os.chdir(old)
        os.close(out_w)
        os.close(err_w)
    with os.fdopen(out_r, "rb") as out, os.fdopen(err_r, "rb") as err:
        data = out.read()  # stderr is small (notes only, the command's own is captured): no deadlock
        notes = err.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    try:
        record = json.loads(data)
        return Result(**record)
    except (ValueError, TypeError):
        text = notes.decode(errors="replace").strip().splitlines()
        raise FatalError(text[-1] if text else f"seq-hooks run failed with exit {code}",
                         code if code > 0 else INTERNAL) from None
