"""`seq-hooks COMMAND`: dispatches to seq_hooks/commands/<command>.py through `entry.guard`."""
from __future__ import annotations

import sys

from seq_hooks.entry import guard, unsupported_platform
from seq_hooks.errors import INTERNAL, OK, USAGE
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

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
    "migrate": "rewrite what still calls the guides' scripts (git hooks, pre-commit, Makefiles)",
    "watch": "enforce a memory limit (and a timeout) on a process that is already running, and its "
             "tree",
}


def _usage() -> str:
    from seq_hooks import __version__  # reads the package metadata: only when shown

    lines = [f"usage: seq-hooks COMMAND [OPTIONS] (seq-hooks {__version__})", "", "commands:"]
    lines += [f"  {name:<20} {text}" for name, text in COMMANDS.items()]
    lines += ["", "seq-hooks COMMAND --help tells more."]
    return "\n".join(lines) + "\n"


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
        from seq_hooks import __version__  # reads the package metadata: only when shown

        sys.stdout.write(f"seq-hooks {__version__}\n")
        return OK
    name = args[0]
    if name not in COMMANDS:
        sys.stderr.write(f"seq-hooks: unknown command {name!r} (commands: {', '.join(COMMANDS)})\n")
        return USAGE
    program = argv is None
    # the console script's own run: entry.guard takes the collector back (see its module docstring)
    if program:
        import gc  # only for the console script

        gc.disable()
    __import__(f"seq_hooks.commands.{name.replace('-', '_')}")
    module = sys.modules[f"seq_hooks.commands.{name.replace('-', '_')}"]
    return guard(f"seq-hooks {name}", module.main, args[1:], program=program)


if __name__ == "__main__":
    raise SystemExit(main())
