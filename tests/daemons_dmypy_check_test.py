"""The light client of a warm mypy daemon against a stand-in server on a real Unix socket: mypy's
framing, its answer as `dmypy check` gives it, and one line with exit 2 for anything else."""
from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks.daemons import mypyd


def frame(message: dict[str, object]) -> bytes:
    data = json.dumps(message).encode()
    return struct.pack("!L", len(data)) + data


class Stub:
    """A status file naming a socket whose server reads one request and sends `replies` (raw
    bytes, each sent on its own)."""

    def __init__(self, where: Path) -> None:
        self.status = where / "d.status"
        sock_path = where / "d.sock"
        self.status.write_text(json.dumps({"pid": 1, "connection_name": str(sock_path)}))
        self.replies: list[bytes] = []
        self.got: list[dict[str, object]] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(sock_path))
        self.listener.listen(1)
        self.listener.settimeout(30)

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            (size,) = struct.unpack("!L", conn.recv(4, socket.MSG_WAITALL))
            self.got.append(json.loads(conn.recv(size, socket.MSG_WAITALL)))
            for reply in self.replies:
                conn.sendall(reply)

    def check(self, *files: str) -> subprocess.CompletedProcess[str]:
        thread = threading.Thread(target=self._serve)
        thread.start()
        try:
            return client(self.status, *files)
        finally:
            thread.join(30)


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[Stub]:
    made = Stub(tmp_path)
    yield made
    made.listener.close()


def client(status: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", mypyd.CHECK, str(status), "--", *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_answer_is_dmypy_checks_and_the_request_mypys(stub: Stub) -> None:
    # the server's own print first, then the answer split mid-frame: frames are read whole
    whole = frame({"stdout": "daemon says\n"}) + frame(
        {"out": "a.py:1: error: x\nFound 1 error\n", "err": "warn\n", "status": 1, "final": True}
    )
    stub.replies += [whole[:7], whole[7:]]
    p = stub.check("a.py", "b c.py")
    assert (p.returncode, p.stdout, p.stderr) == (
        1, "daemon says\na.py:1: error: x\nFound 1 error\n", "warn\n"
    )
    request = stub.got[0]
    assert request["command"] == "check" and request["files"] == ["a.py", "b c.py"]
    assert request["is_tty"] is False and request["export_types"] is False


@pytest.mark.parametrize(("replies", "said"), [
    ([frame({"error": "Daemon crashed!", "final": True})], "Daemon crashed!"),
    ([frame({"stdout": "half"})], "hung up before its answer"),
    ([struct.pack("!L", 5) + b"nope!"], "Expecting value"),
    ([frame({"out": "", "err": "", "status": "x", "final": True})], "not a number"),
    ([frame({"out": "", "final": True})], "err"),
])
def test_anything_but_an_answer_is_one_line_and_exit_2(
    stub: Stub, replies: list[bytes], said: str
) -> None:
    stub.replies += replies
    p = stub.check("a.py")
    assert p.returncode == 2 and said in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("dmypy check: ") and "Traceback" not in p.stderr


def test_no_daemon_listening_is_exit_2(tmp_path: Path) -> None:
    status = tmp_path / "d.status"
    status.write_text(json.dumps({"pid": 1, "connection_name": str(tmp_path / "gone.sock")}))
    p = client(status, "a.py")
    assert p.returncode == 2 and p.stderr.startswith("dmypy check: ")
    assert "Traceback" not in p.stderr
