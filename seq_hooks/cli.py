"""`seq-hooks COMMAND`: dispatches to seq_hooks/commands/<command>.py, and turns errors into exit codes."""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from seq_hooks.errors import INTERNAL, OK, USAGE, FatalError

COMMANDS = {
    "run": "wait for the project lock, run a command supervised, release",
    "status": "who holds each lock and who waits (--watch to follow)",
    "history": "recent runs from the journal",
    "report": "a timeline of the runs as one HTML file",
    "git": "git under the project's git lock",
    "install-git-hook": "run the repository's git hooks under the project lock",
    "uninstall-git-hook": "restore the git hooks that were there before",
    "doctor": "check the setup and the machine",
    "clean": "remove stale queue entries and leftover processes of dead runs",
}


def _usage() -> str:
    from seq_hooks import __version__

    lines = [f"usage: seq-hooks COMMAND [OPTIONS] (seq-hooks {__version__})", "", "commands:"]
    lines += [f"  {name:<20} {text}" for name, text in COMMANDS.items()]
    lines += ["", "seq-hooks COMMAND --help tells more."]
    return "\n".join(lines) + "\n"


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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    why = unsupported_platform()
    if why is not None:
        sys.stderr.write(f"seq-hooks: {why}\n")
        return INTERNAL
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(_usage())
        return OK if args else USAGE
    if args[0] == "--version":
        from seq_hooks import __version__

        sys.stdout.write(f"seq-hooks {__version__}\n")
        return OK
    name = args[0]
    if name not in COMMANDS:
        sys.stderr.write(f"seq-hooks: unknown command {name!r} (commands: {', '.join(COMMANDS)})\n")
        return USAGE
    import importlib

    module = importlib.import_module(f"seq_hooks.commands.{name.replace('-', '_')}")
    return guard(f"seq-hooks {name}", module.main, args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
