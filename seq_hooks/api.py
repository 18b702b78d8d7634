"""The Python API: `seq_hooks.run(argv, ...)` for test suites and scripts that spawn heavy
subprocesses.

The run happens in a `seq-hooks run --json` child process, so the caller's own children, signal
handlers and process state are never touched (the supervisor reaps every child of its process and
becomes a subreaper).
"""
from __future__ import annotations

import json
import os
import sys

from seq_hooks.config import DEFAULT_LOCK
from seq_hooks.errors import INTERNAL, FatalError
from seq_hooks.process.spawn import spawn
from seq_hooks.runner import Result

RunResult = Result
# The child changes to the caller's `cwd` itself: changing ours around the spawn would race with the
# caller's other threads. `python -c IN_DIR DIR seq-hooks-args...` then runs the CLI as its console
# script does.
IN_DIR = ("import os, sys\n"
          "try:\n    os.chdir(sys.argv[1])\n"
          "except OSError as e:\n"
          "    sys.stderr.write(f'seq-hooks: cannot change to {sys.argv[1]!r}: {e.strerror}\\n')\n"
          "    sys.exit(2)\n"
          "del sys.argv[1]\nfrom seq_hooks.cli import main\nmain()\n")


def run(
    argv: list[str],
    *,
    timeout: float | None = None,
    kill_after: float | None = None,
    memory_limit_mb: int | None = None,
    max_procs: int | None = None,
    retry: int = 0,
    max_wait: float | None = None,
    lock: str | None = DEFAULT_LOCK,
    cwd: str | None = None,
    shell: bool = False,
    threads: int | None = None,
) -> Result:
    """Runs argv through the project's queue and supervisor, like `seq-hooks run --json`; returns
    the result.

    `shell`: argv is one shell command line (`["make -j4 && make test"]`), run with sh -c as
    `--shell` does; `threads`: cap the tools' own threads and workers, as `--threads` does. Settings
    not given come from [tool.seq-hooks] and SEQ_HOOKS_* as for the command. Output is captured into
    the result. Raises FatalError for a usage or configuration error (exit 2) or a failure of
    seq-hooks itself. Safe to call from threads.
    """
    cmd = [
        sys.executable,
        "-c",
        IN_DIR,
        cwd or ".",
        "run",
        "--json",
        "--quiet",
        *(["--shell"] if shell else []),
    ]
    for flag, value in (
        ("--timeout", timeout),
        ("--kill-after", kill_after),
        ("--memory-limit", memory_limit_mb),
        ("--max-procs", max_procs),
        ("--max-wait", max_wait),
        ("--retry", retry or None),
        ("--threads", threads),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    cmd += ["--no-lock"] if lock is None else ["--lock", lock]
    cmd += ["--", *argv]
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = spawn(cmd, env=os.environ, stdout=out_w, stderr=err_w, new_group=False)
    finally:
        os.close(out_w)
        os.close(err_w)
    with os.fdopen(out_r, "rb") as out, os.fdopen(err_r, "rb") as err:
        # stderr is small (notes only, the command's own is captured): no deadlock
        data = out.read()
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
