"""The mypy daemon's client for one unit: `check FILES`, answered as `dmypy check` answers it.

Run as a script, `python -I -S dmypy_check.py STATUS_FILE -- FILES...`, by the interpreter that runs
seq-hooks: it imports only the standard library. mypy's own client (`python -m mypy.dmypy check`)
imports mypy first, ~0.13 s of every warm unit that the daemon itself answers in a few hundredths;
the request is one JSON frame on the daemon's Unix socket, so this script sends it itself. It speaks
the framing of the mypy that serves it (a 4-byte big-endian length before each UTF-8 JSON message:
mypy's ipc.py); dmypy_serve says in `<status>.ready` whether its mypy frames so, and mypyd uses this
client only then (mypy's own otherwise). Same output and exit as mypy's client: the daemon's `out`
on stdout, its `err` on stderr, its status as the exit; an error of the daemon's or of the
connection is one line on stderr and exit 2 (mypyd then ends the daemon and runs plain mypy).
"""
from __future__ import annotations

import json
import os
import socket
import struct
import sys

TYPE_CHECKING = False  # typing itself is not imported: this script's start-up is the unit's cost
if TYPE_CHECKING:
    from collections.abc import Iterator

HEADER = struct.Struct("!L")  # mypy's frame header: the message's length
CHUNK = 1 << 16


def terminal_width() -> int:
    """What mypy's client sends (mypy.util.get_terminal_width)."""
    for value in (os.environ.get("MYPY_FORCE_TERMINAL_WIDTH", ""), os.environ.get("COLUMNS", "")):
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return os.get_terminal_size(1).columns or 80
    except OSError:
        return 80


def force_color() -> bool:
    """mypy.util.should_force_color."""
    value = os.environ.get("MYPY_FORCE_COLOR", os.environ.get("FORCE_COLOR", "0"))
    try:
        return bool(int(value))
    except ValueError:
        return bool(value)


def frames(conn: socket.socket) -> Iterator[object]:
    """Each message the daemon sends, decoded, until the connection closes."""
    buffer = b""
    while True:
        while len(buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(buffer)
            if len(buffer) < HEADER.size + size:
                break
            yield json.loads(buffer[HEADER.size:HEADER.size + size].decode("utf-8"))
            buffer = buffer[HEADER.size + size:]
        more = conn.recv(CHUNK)
        if not more:
            return
        buffer += more


def ask(status_file: str, files: list[str]) -> dict[str, object]:
    with open(status_file, encoding="utf-8") as f:
        name = json.load(f)["connection_name"]
    request = {
        "command": "check",
        "files": files,
        "export_types": False,
        "is_tty": os.isatty(1) or force_color(),
        "terminal_width": terminal_width(),
    }
    data = json.dumps(request).encode("utf-8")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(name)
        conn.sendall(HEADER.pack(len(data)) + data)
        for response in frames(conn):
            if not isinstance(response, dict):
                raise ValueError("a message that is not a JSON object")
            # the server's own prints while it works, as mypy's client shows them
            sys.stdout.write(str(response.pop("stdout", "") or ""))
            sys.stderr.write(str(response.pop("stderr", "") or ""))
            if response.pop("final", False):
                return response
    raise ValueError("the daemon hung up before its answer")


def main(argv: list[str]) -> int:
    status_file, files = argv[0], argv[argv.index("--") + 1:]
    try:
        response = ask(status_file, files)
        if "error" in response:
            raise ValueError(str(response["error"]))
        out, err, status = response["out"], response["err"], response["status"]
        if not isinstance(status, int):
            raise ValueError(f"an exit status that is not a number: {status!r}")
    except KeyError as e:
        sys.stderr.write(f"dmypy check: an answer without {e}\n")
        return 2
    except (OSError, ValueError, IndexError) as e:
        sys.stderr.write(f"dmypy check: {e or type(e).__name__}\n")
        return 2
    sys.stdout.write(str(out))
    sys.stderr.write(str(err))
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
