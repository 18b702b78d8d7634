"""The one way seq-hooks starts a process."""
from __future__ import annotations

import os
import signal
from collections.abc import Mapping

from seq_hooks.errors import NOT_EXECUTABLE, NOT_FOUND, FatalError

# Python ignores SIGPIPE and SIGXFSZ for itself; the commands we start expect the default.
_RESET = tuple(s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None)) if s is not None)


def spawn(
    argv: list[str],
    *,
    env: Mapping[str, str],
    stdout: int | None = None,
    stderr: int | None = None,
    stdin: int | None = None,
    new_group: bool = True,
) -> int:
    """Starts `argv` (looked up on env's PATH), in a new process group by default; returns its pid.

    The fds given become the child's 0/1/2; every other fd stays closed in the child (ours are close-on-exec).
    A missing command raises FatalError with 127, one that cannot be executed with 126.
    """
    actions: list[tuple[int, int, int]] = []
    for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
        if fd is not None and fd != target:
            actions.append((os.POSIX_SPAWN_DUP2, fd, target))
    try:
        if new_group:
            return os.posix_spawnp(argv[0], argv, dict(env), file_actions=actions, setsigdef=_RESET,
                                   setsigmask=(), setpgroup=0)
        return os.posix_spawnp(argv[0], argv, dict(env), file_actions=actions, setsigdef=_RESET, setsigmask=())
    except FileNotFoundError:
        raise FatalError(f"{argv[0]}: command not found", NOT_FOUND) from None
    except PermissionError:
        raise FatalError(f"{argv[0]}: permission denied (not executable)", NOT_EXECUTABLE) from None
    except OSError as e:
        if e.errno in (8, 21):  # ENOEXEC, EISDIR
            raise FatalError(f"{argv[0]}: cannot execute: {e.strerror}", NOT_EXECUTABLE) from None
        raise FatalError(f"{argv[0]}: cannot start: {e.strerror}", NOT_EXECUTABLE) from None
