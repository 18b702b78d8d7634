"""The mypy daemon as seq-hooks runs it: mypy's daemon server in the foreground, run by the
interpreter that has mypy.

This file is run as a script by the project's interpreter (seq-hooks itself may not be installed
there): it imports only the standard library and mypy. Before mypy's server starts, it writes beside
the status file what the daemon cannot see change (`<status>.seen`: the files whose change must
restart it, with their stat); then it checks the files of `<status>.warm` (the unit that started it
ran plain mypy on them) in a thread at the lowest CPU priority, and listens; once mypy's server has
written the status file (it listens then), `<status>.ready` says the daemon is ready. One change to
mypy's answers: where plain mypy would stop on a blocking error (exit 2, "errors prevented further
checking"), the daemon reports exit 1 and a different summary (and keeps reporting the error after
the file is fixed or gone); here it reports exit 2, and seq-hooks ends it and runs plain mypy for
that unit, so that the answer is mypy's own. And where mypy has only notes to say (an untyped
function's body not checked), it exits 0 and so does the daemon here (dmypy says 1 for any
message).
"""
from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # this script imports the standard library and mypy only
if TYPE_CHECKING:
    from mypy.dmypy_server import Server
    from mypy.options import Options

STACK = 1 << 26  # bytes: the warm-up thread's stack
ANNOUNCE_S = 60.0  # seconds the server has to write its status file once warm
# mypy's words (code has-type) for an error that comes from the order an import cycle is checked in
CYCLE_ORDER = ": error: Cannot determine type of "


def stamp(path: str) -> list[int] | None:
    """What tells one version of a file from another in `<status>.seen` (mypyd compares it with this
    same function); None: there is no such file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def order_errors(output: str) -> int:
    """mypy's errors that depend on the order it checks an import cycle in: a warm daemon re-checks
    a module as a dependent of the edited one, outside its cycle, and can leave them out
    (docs/design.md, "A warm mypy")."""
    return sum(CYCLE_ORDER in line for line in output.splitlines())


def _plugin_files(plugins: list[str]) -> list[str]:
    """The files of mypy plugins named as modules or paths (their change needs a new daemon)."""
    import importlib.util  # only as the daemon's script

    out = []
    for name in plugins:
        if name.endswith(".py") or os.sep in name:
            out.append(os.path.abspath(name))
            continue
        try:
            spec = importlib.util.find_spec(name.partition(":")[0])
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            out.append(spec.origin)
    return out


def _seen(status_file: str, options: Options) -> None:
    from mypy.modulefinder import get_search_dirs  # only as the daemon's script

    paths = [sys.executable, os.path.realpath(sys.executable), os.path.abspath(__file__)]
    paths += [p for p in sys.path if p and os.path.isdir(p)]
    paths += get_search_dirs(options.python_executable)[1]
    paths += [options.config_file] if options.config_file else []
    paths += _plugin_files(list(options.plugins))
    seen = {os.path.abspath(p): stamp(p) for p in paths}
    tmp = f"{status_file}.seen.tmp"
    with open(tmp, "w") as f:
        json.dump(seen, f)
    os.replace(tmp, f"{status_file}.seen")


def _patch() -> None:
    """A blocking error (plain mypy's exit 2) is exit 2 here too: seq-hooks then runs plain mypy for
    the unit. And notes without an error are exit 0, as plain mypy says (dmypy counts every
    message)."""
    from collections.abc import Sequence  # only as the daemon's script

    from mypy import dmypy_server  # only as the daemon's script

    original = dmypy_server.Server.cmd_check

    def cmd_check(self: dmypy_server.Server, files: Sequence[str], export_types: bool, is_tty: bool,
                  terminal_width: int) -> dict[str, object]:
        response = original(self, files, export_types, is_tty, terminal_width)
        manager = self.fine_grained_manager
        if (
            response.get("status") == 1
            and manager is not None
            and manager.blocking_error is not None
        ):
            response["status"] = 2
        elif response.get("status") == 1 and not any(
            ": error:" in line for line in str(response.get("out", "")).splitlines()
        ):
            # notes alone (annotation-unchecked): plain mypy exits 0, dmypy said 1
            response["status"] = 0
        return response

    name = "cmd_check"  # the server looks its commands up on the class by name, compiled or not
    setattr(dmypy_server.Server, name, cmd_check)


def _frames_as_dmypy_check_does() -> bool:
    """Whether this mypy frames each IPC message as dmypy_check.py sends and reads them (a 4-byte
    length, then the JSON)."""
    from mypy import ipc  # only as the daemon's script

    return getattr(ipc, "HEADER_SIZE", None) == 4


def _warm(server: Server, files: list[str]) -> dict[str, object]:
    """The daemon's first check, of the unit's files, at the lowest CPU priority: in a thread of its
    own (a thread's nice value is its own on Linux), so that the requests the main thread serves
    afterwards run at the daemon's normal priority again (lowering a nice value back needs a
    privilege)."""
    import threading  # only as the daemon's script

    answer: dict[str, object] = {}

    def check() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass  # not Linux: the warm-up runs at the daemon's priority
        answer.update(server.cmd_check(files, False, False, 80))

    threading.stack_size(STACK)  # mypy recurses deeply; a thread's default stack is smaller
    worker = threading.Thread(target=check, name="warm-up")
    worker.start()
    worker.join()
    return answer


def main(argv: list[str]) -> None:
    """argv: --status-file FILE daemon --timeout N -- FLAGS...

    With `<status>.warm` (a JSON list of files, written by mypyd), the daemon checks them before it
    listens: the unit that started it ran plain mypy, and the next finds the daemon warm. Once it
    is ready, and before it listens, it writes `<status>.ready`: whether it frames messages as
    dmypy_check.py does, and how many import-cycle order errors its first answer had."""
    from mypy.dmypy_server import Server, process_start_options  # only as the daemon's script

    status_file = argv[argv.index("--status-file") + 1]
    timeout = int(argv[argv.index("--timeout") + 1])
    flags = argv[argv.index("--") + 1:] if "--" in argv else []
    options = process_start_options(flags, allow_sources=False)  # refused options end us here
    _seen(status_file, options)
    _patch()
    server = Server(options, status_file, timeout=timeout)
    ready: dict[str, object] = {"framed": _frames_as_dmypy_check_does(), "order_errors": 0}
    try:
        with open(f"{status_file}.warm", encoding="utf-8") as f:
            files = [str(name) for name in json.load(f)]
    except (OSError, ValueError, TypeError):
        files = []
    if files:
        answer = _warm(server, files)
        if answer.get("status") == 2:
            sys.exit("the first check stopped on a blocking error: the next unit starts anew")
        ready["order_errors"] = order_errors(str(answer.get("out", "")))
    _announce_once_listening(status_file, ready)
    server.serve()


def _announce_once_listening(status_file: str, ready: dict[str, object]) -> None:
    """Writes `<status>.ready` once mypy's server has written the status file that names this
    process (it listens then), from a thread: `serve()` does not return. So `.ready` means that a
    client can connect; a status file damaged after that is the client's failure (plain mypy)."""
    import threading  # only as the daemon's script
    import time  # only as the daemon's script

    def announce() -> None:
        deadline = time.monotonic() + ANNOUNCE_S
        while time.monotonic() < deadline:
            try:
                with open(status_file, encoding="utf-8") as f:
                    if json.load(f).get("pid") == os.getpid():
                        break
            except (OSError, ValueError, AttributeError):
                pass
            time.sleep(0.005)
        else:
            return  # never listening: mypyd ends it after START_S
        tmp = f"{status_file}.ready.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(ready, f)
        os.replace(tmp, f"{status_file}.ready")

    threading.Thread(target=announce, name="announce", daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
