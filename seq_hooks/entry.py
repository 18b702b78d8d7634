"""What every console script shares: the platform check and `guard`, the one place errors become
exit codes.

`seq-hooks` (cli) and every hook's console script run their entry through `guard`. Run as a program
(`program=True`), guard also ends the process itself once the entry has returned: it flushes our
output and leaves with os._exit, skipping the interpreter's teardown (its last full garbage
collection and the clearing of every module, a tenth of a plain run's instructions:
docs/design.md, "The hot path"). Nothing of ours needs that teardown: files are written with
os.write or closed by `with`, no thread outlives a command, and nothing is registered with atexit.
For the same reason the objects made while importing are frozen (gc.freeze) before the entry starts:
every later collection skips them. And the console script imports its command's modules with the
collector off (cli.main): what importing makes lives as long as the process, so no collection could
free it (a hundredth of a plain run's instructions); guard turns the collector back on.
"""
from __future__ import annotations

import os
import sys

from seq_hooks import envnames
from seq_hooks.errors import BROKEN_PIPE, INTERNAL, INTERRUPTED, OK, FatalError
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NoReturn



def unsupported_platform() -> str | None:
    """Why seq-hooks cannot run here, checked before anything POSIX-only is imported."""
    if sys.platform == "win32":
        return (
            "Windows is not supported: seq-hooks needs POSIX process groups, flock and posix_spawn "
            "(use WSL)"
        )
    return None


def guard(
    prog: str, entry: Callable[[list[str]], int], argv: Sequence[str], *, program: bool = False
) -> int:
    """Runs an entry point; the one place where errors become messages and exit codes. With
    `program`, the console script's own call, the process ends here with that code (see the module's
    docstring)."""
    if program:
        import gc  # only for a console script, at its end

        gc.freeze()
        gc.enable()
    code = _code(prog, entry, argv)
    if program:
        exit_now(code)
    return code


def exit_now(code: int) -> NoReturn:
    """Flushes stdout and stderr and ends the process with `code` at once (no interpreter
    teardown)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader went away: what is left unwritten is lost either way
            code = code or BROKEN_PIPE
        except (OSError, ValueError):  # a closed or failing stream: nothing more can be said on it
            pass
    os._exit(code)


def _code(prog: str, entry: Callable[[list[str]], int], argv: Sequence[str]) -> int:
    from seq_hooks.options import HelpRequested  # options: a hook entry parses its own way

    try:
        return entry(list(argv))
    except HelpRequested as e:
        sys.stdout.write(e.text)
        return OK
    except FatalError as e:
        sys.stderr.write(f"{prog}: {e.message}\n")
        return e.code
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:
        return BROKEN_PIPE
    except Exception as e:  # a bug in seq-hooks: say so briefly, with the details only on request
        full = _no_space(e)
        if full is not None:  # not a bug: the machine's disk
            sys.stderr.write(f"{prog}: {full}\n")
            return INTERNAL
        if os.environ.get(envnames.DEBUG):
            raise
        sys.stderr.write(
            f"{prog}: internal error: {type(e).__name__}: {e} (SEQ_HOOKS_DEBUG=1 shows more)\n"
        )
        return INTERNAL


def _no_space(e: Exception) -> str | None:
    """The sentence for a full disk or an exhausted quota: what is full, for which file (seq-hooks'
    own state, a log); None for any other error."""
    import errno  # only after an error: off every run's path (bench_run)

    if not isinstance(e, OSError) or e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    from seq_hooks.process import machine  # the mount table, for a full disk only

    path = os.fsdecode(e.filename) if isinstance(e.filename, (str, bytes)) else None
    where = (machine.file_system(path) if path else "") or "a device"
    what = "no space left on" if e.errno == errno.ENOSPC else "disk quota exceeded on"
    return f"{what} {where}" + (f" for {path}" if path else "") + ": free some space there"
