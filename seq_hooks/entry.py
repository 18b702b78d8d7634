"""What every console script shares: the platform check and `guard`, the one place errors become exit codes.

`seq-hooks` (cli) and every hook's console script run their entry through `guard`.
"""
from __future__ import annotations

import sys

from seq_hooks.errors import INTERNAL, OK, FatalError
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def unsupported_platform() -> str | None:
    """Why seq-hooks cannot run here, checked before anything POSIX-only is imported."""
    if sys.platform == "win32":
        return "Windows is not supported: seq-hooks needs POSIX process groups, flock and posix_spawn (use WSL)"
    return None


def guard(prog: str, entry: Callable[[list[str]], int], argv: Sequence[str]) -> int:
    """Runs an entry point; the one place where errors become messages and exit codes."""
    from seq_hooks.options import HelpRequested

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
        return 130
    except BrokenPipeError:
        return 141
    except Exception as e:  # a bug in seq-hooks: say so briefly, with the details only on request
        import os

        if os.environ.get("SEQ_HOOKS_DEBUG"):
            raise
        sys.stderr.write(f"{prog}: internal error: {type(e).__name__}: {e} (SEQ_HOOKS_DEBUG=1 shows more)\n")
        return INTERNAL
