"""The one way seq-hooks starts a process."""
from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from typing import NamedTuple

from seq_hooks.errors import NOT_EXECUTABLE, NOT_FOUND, FatalError

# Python ignores SIGPIPE and SIGXFSZ for itself; the commands we start expect the default.
_RESET = tuple(s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None)) if s is not None)
# a job on the terminal stops (and is continued) when it reads before it has the terminal, as under a shell
_JOB = (signal.SIGTTIN, signal.SIGTTOU, signal.SIGTSTP)


def spawn(
    argv: list[str],
    *,
    env: Mapping[str, str],
    stdout: int | None = None,
    stderr: int | None = None,
    stdin: int | None = None,
    new_group: bool = True,
    job: bool = False,
) -> int:
    """Starts `argv` (looked up on env's PATH), in a new process group by default; returns its pid.

    The fds given become the child's 0/1/2; every other fd stays closed in the child (ours are close-on-exec).
    A `job` (a command we hand our terminal to) gets the default job-control signals even where we ignore them.
    A missing command raises FatalError with 127, one that cannot be executed with 126.
    """
    actions: list[tuple[int, int, int]] = []
    for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
        if fd is not None and fd != target:
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
    sigdef = (*_RESET, *_JOB) if job else _RESET
    try:
        if new_group:
            return os.posix_spawnp(argv[0], argv, dict(env), file_actions=actions, setsigdef=sigdef,
                                   setsigmask=(), setpgroup=0)
        return os.posix_spawnp(argv[0], argv, dict(env), file_actions=actions, setsigdef=sigdef, setsigmask=())
    except FileNotFoundError:
        raise FatalError(f"{argv[0]}: command not found", NOT_FOUND) from None
    except PermissionError:
        raise FatalError(f"{argv[0]}: permission denied (not executable)", NOT_EXECUTABLE) from None
    except OSError as e:
        if e.errno in (8, 21):  # ENOEXEC, EISDIR
            raise FatalError(f"{argv[0]}: cannot execute: {e.strerror}", NOT_EXECUTABLE) from None
        raise FatalError(f"{argv[0]}: cannot start: {e.strerror}", NOT_EXECUTABLE) from None


class Completed(NamedTuple):
    code: int  # exit status, or 128+N after signal N
    stdout: str
    stderr: str


def output(argv: list[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
           timeout: float = 60.0) -> Completed:
    """Runs a short helper command (git rev-parse, a tool's --version) to its end and returns its output.

    Not for the user's commands (those go through the supervisor). Killed after `timeout` seconds.
    """
    import select
    import time

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    old = os.getcwd() if cwd else None
    try:
        if cwd:
            os.chdir(cwd)
        pid = spawn(argv, env=os.environ if env is None else env, stdin=null, stdout=out_w, stderr=err_w,
                    new_group=False)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        if old:
            os.chdir(old)
        for fd in (out_w, err_w, null):
            os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = set(chunks)
    deadline = time.monotonic() + timeout
    try:
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                break
            for fd, _ in poller.poll(left * 1000):
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    open_fds.discard(fd)
    finally:
        for fd in chunks:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
    return Completed(
        os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status),
        b"".join(chunks[out_r]).decode(errors="replace"),
        b"".join(chunks[err_r]).decode(errors="replace"),
    )
