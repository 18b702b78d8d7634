"""The one way seq-hooks starts a process."""
from __future__ import annotations

import os
import select
import signal
import time

from seq_hooks.errors import NOT_EXECUTABLE, NOT_FOUND, FatalError, signalled
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping

# Python ignores SIGPIPE and SIGXFSZ for itself; the commands we start expect the default.
_RESET = tuple(s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None)) if s is not None)
# a job on the terminal stops (and is continued) when it reads before it has the terminal, as under
# a shell
_JOB = (signal.SIGTTIN, signal.SIGTTOU, signal.SIGTSTP)


def which(name: str, path: str, skip: tuple[str, ...] = ()) -> str | None:
    """Where `name` is on `path` (a PATH value), as posix_spawnp would find it; None when it is not
    there."""
    if "/" in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    for entry in path.split(os.pathsep):
        # an empty entry is the working directory, for execvp(3) and posix_spawnp(3) alike
        d = entry or "."
        if os.path.abspath(d) in skip:
            continue
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


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

    The fds given become the child's 0/1/2; every other fd stays closed in the child (ours are
    close-on-exec). A `job` (a command we hand our terminal to) gets the default job-control signals
    even where we ignore them. A missing command (or the interpreter its #! line names) raises
    FatalError with 127, one that cannot be executed with 126; a script without a #! line runs with
    /bin/sh, as shells run it.
    """
    actions: list[tuple[int, int, int]] = []
    for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
        if fd is not None and fd != target:
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
    sigdef = (*_RESET, *_JOB) if job else _RESET

    def start(path: str, args: list[str]) -> int:
        if new_group:
            return os.posix_spawnp(
                path,
                args,
                dict(env),
                file_actions=actions,
                setsigdef=sigdef,
                setsigmask=(),
                setpgroup=0,
            )
        return os.posix_spawnp(
            path, args, dict(env), file_actions=actions, setsigdef=sigdef, setsigmask=()
        )

    try:
        return start(argv[0], argv)
    except OSError as e:
        error = e
    import errno  # a command that did not start: off the path of every run that does (bench_run)

    script = _find(argv[0], env) if error.errno == errno.ENOEXEC else None
    if script is not None and not _head(script).count(b"\0"):
        try:  # a script without a #! line: shells run it with sh, and so do we
            return start("/bin/sh", ["/bin/sh", script, *argv[1:]])
        except OSError as e:
            error = e
    raise _failure(argv[0], env, error)


def _find(name: str, env: Mapping[str, str]) -> str | None:
    """The file posix_spawnp(3) runs for `name`: itself when it holds a slash, else the first on
    PATH."""
    if "/" in name:
        return name if os.path.isfile(name) else None
    return which(name, env.get("PATH", os.defpath))


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(512)
    except OSError:
        return b""


def _failure(name: str, env: Mapping[str, str], e: OSError) -> FatalError:
    """The sentence (and exit code) for a command that could not start."""
    if isinstance(e, FileNotFoundError):
        path = _find(name, env)
        head = _head(path) if path else b""
        if head.startswith(b"#!"):
            interpreter = (
                head[2:].split(b"\n", 1)[0].strip().split(b" ", 1)[0].decode(errors="replace")
            )
            return FatalError(
                f"{name}: bad interpreter: {interpreter} was not found (named on its #! line)",
                NOT_FOUND,
            )
        return FatalError(f"{name}: command not found", NOT_FOUND)
    if isinstance(e, PermissionError):
        return FatalError(f"{name}: permission denied (not executable)", NOT_EXECUTABLE)
    import errno  # as above

    if e.errno == errno.ENOEXEC:
        return FatalError(
            f"{name}: cannot execute binary file (not a format this machine runs)", NOT_EXECUTABLE
        )
    if e.errno == errno.EISDIR:
        return FatalError(f"{name}: cannot execute: it is a directory", NOT_EXECUTABLE)
    return FatalError(f"{name}: cannot start: {e.strerror or e}", NOT_EXECUTABLE)


class Completed(NamedTuple):
    code: int  # exit status, or 128+N after signal N
    stdout: str
    stderr: str


def output(argv: list[str], *, env: Mapping[str, str] | None = None,
           timeout: float = 60.0) -> Completed:
    """Runs a short helper command (git rev-parse, a tool's --version) to its end; its output.

    Not for the user's commands (those go through the supervisor). Killed after `timeout` seconds.
    It runs where we are: a helper that must work elsewhere changes directory itself (`git -C
    DIR`), since changing ours around the spawn would move every other thread of ours too.
    """
    done = exchange(argv, env=env, timeout=timeout)
    return Completed(
        done.code, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )


class Exchanged(NamedTuple):
    code: int  # exit status, or 128+N after signal N
    stdout: bytes
    stderr: bytes


def exchange(argv: list[str], data: bytes = b"", *, env: Mapping[str, str] | None = None,
             timeout: float = 60.0) -> Exchanged:
    """Runs a short helper command with `data` on its stdin (git cat-file --batch, update-index
    --index-info) to its end; its output as bytes. Not for the user's commands. Killed after
    `timeout` seconds. It runs where we are (see `output`)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    try:
        pid = spawn(
            argv,
            env=os.environ if env is None else env,
            stdin=in_r,
            stdout=out_w,
            stderr=err_w,
            new_group=False,
        )
    except BaseException:
        for fd in (out_r, err_r, in_w):
            os.close(fd)
        raise
    finally:
        for fd in (out_w, err_w, in_r):
            os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = set(chunks)
    view = memoryview(data)
    if view:
        os.set_blocking(in_w, False)
        poller.register(in_w, select.POLLOUT)
    else:
        os.close(in_w)
    deadline = time.monotonic() + timeout
    try:
        while open_fds or view:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                break
            for fd, _ in poller.poll(left * 1000):
                if fd == in_w:
                    try:
                        view = view[os.write(in_w, view[:65536]):]
                    except BrokenPipeError:
                        view = view[:0]
                    if not view:
                        poller.unregister(in_w)
                        os.close(in_w)
                    continue
                chunk = os.read(fd, 65536)
                if chunk:
                    chunks[fd].append(chunk)
                else:
                    poller.unregister(fd)
                    open_fds.discard(fd)
    finally:
        if view:
            os.close(in_w)
        for fd in chunks:
            os.close(fd)
        _, status = os.waitpid(pid, 0)
    return Exchanged(
        os.waitstatus_to_exitcode(status)
        if os.WIFEXITED(status)
        else signalled(os.WTERMSIG(status)),
        b"".join(chunks[out_r]),
        b"".join(chunks[err_r]),
    )
