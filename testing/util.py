"""Helpers for tests: temp git repos, running the CLI, process handshakes, reaping by pid."""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from seq_hooks.process import proctree

FIXTURES = Path(__file__).parent / "fixtures"
PY = sys.executable


def fixture(name: str, *args: object) -> list[str]:
    return [PY, str(FIXTURES / name), *(str(a) for a in args)]


def seq_hooks(*args: object) -> list[str]:
    return [PY, "-m", "seq_hooks", *(str(a) for a in args)]


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=check, capture_output=True, text=True, timeout=60
    )


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test")
    git(path, "config", "user.email", "test@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    return path


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    """The handshake: waits (bounded) until a child has written `path`; returns its content."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        if text:
            return text
        time.sleep(0.005)
    raise AssertionError(f"{path} was not written within {timeout}s")


def wait_until(predicate: object, timeout: float = 20.0, what: str = "condition") -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError(f"{what} not met within {timeout}s")


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead)."""
    return proctree.alive(pid)


def processes_in(path: Path) -> list[int]:
    """Live processes whose working directory or command line lies in `path` (a test's temp dir):
    what a test started, found also where its environment lost the test's mark (the demo, and
    pre-commit's hooks, run with a cleaned environment)."""
    where = str(path)

    def inside(text: str) -> bool:
        return text.removesuffix(" (deleted)") == where or f"{where}/" in text

    return [p.pid for p in proctree.processes()
            if (inside(p.cwd() or "") or any(map(inside, p.argv() or ()))) and alive(p.pid)]


def reap(proc: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Ends a process we started, by pid, and waits for it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout)


def end_orphan(pid: int, timeout: float = 20.0) -> None:
    """Ends, by pid, a process a test made that is not its child (an orphan left by a killed
    runner), and waits (bounded) until it is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_until(lambda: not alive(pid), timeout, what=f"pid {pid} to end")


def intervals(stamps: Path) -> list[tuple[int, int, str]]:
    """(start, end, name) of each unit from a stamp.py file."""
    starts: dict[str, int] = {}
    out = []
    for line in stamps.read_text().splitlines():
        kind, name, t = line.split()
        if kind == "start":
            starts[name] = int(t)
        else:
            out.append((starts.pop(name), int(t), name))
    assert not starts, f"units that never ended: {starts}"
    return sorted(out)


def assert_no_overlap(stamps: Path, expected: int) -> None:
    spans = intervals(stamps)
    assert len(spans) == expected
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        assert end <= start, f"{a} and {b} overlapped"


def tickets(queue: Path) -> list[Path]:
    return sorted(queue.glob("*.ticket")) if queue.is_dir() else []


class Tmux:
    """A private tmux server (its own socket) with one window, for driving a real terminal."""

    def __init__(self, tmp: Path, command: str, width: int = 120) -> None:
        self.socket = str(tmp / "tmux.sock")
        self.base = ["tmux", "-S", self.socket]
        subprocess.run(
            [
                *self.base,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                str(width),
                "-y",
                "30",
                command,
            ],
            check=True,
            timeout=20,
            env=os.environ,
        )

    def send(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", *keys], check=True, timeout=20)

    def screen(self) -> str:
        p = subprocess.run(
            [*self.base, "capture-pane", "-p"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        return p.stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.02)
        raise AssertionError(f"{text!r} not on the screen within {timeout}s:\n{self.screen()}")

    def close(self) -> None:
        """Ends the server (it ends its window's processes) and waits until its socket is gone
        (bounded)."""
        p = subprocess.run(
            [*self.base, "display-message", "-p", "#{pid}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=20, check=False)
        if p.stdout.strip().isdigit():
            pid = int(p.stdout.strip())
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)


WITHOUT = "SEQ_HOOKS_TEST_WITHOUT"  # the programs scripts/test could not install, space-separated


def needs(program: str, path: str | None = None) -> pytest.MarkDecorator:
    """Skip where `program` is missing, except on CI (CI=true) unless scripts/test said it could not
    install it there (SEQ_HOOKS_TEST_WITHOUT): a tool missing by accident must fail the run, not
    pass it quietly."""
    missing = shutil.which(program) is None and not (path and os.path.exists(path))
    declared = program in os.environ.get(WITHOUT, "").split()
    reason = (f"{program} is not installed and scripts/test could not install it" if declared
              else f"{program} is not installed (scripts/test installs it)")
    return pytest.mark.skipif(missing and (declared or not os.environ.get("CI")), reason=reason)


def planted_symlink(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A symlink `name` to a file "victim" holding "precious", owned by another uid, as if another
    user planted it in a shared directory: (link, victim). Skips where we are not root (making one
    needs it)."""
    if os.geteuid() != 0:
        pytest.skip("making a symlink owned by another uid needs root")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / name
    link.symlink_to(victim)
    os.lchown(link, 65534, 65534)
    return link, victim


COMPUTE = "while True: pass"
SLEEP = "import time; time.sleep(60)"


@contextmanager
def family(tmp: Path, *codes: str) -> Iterator[tuple[subprocess.Popen[bytes], list[int]]]:
    """A sleeping parent whose children each run one of `codes` (python -c); yields (parent,
    children's pids) once all have started, and ends them all, by pid, afterwards."""
    kids = tmp / f"kids-{len(list(tmp.glob('kids-*')))}"
    body = "".join(
        f"k.append(subprocess.Popen([sys.executable, '-c', {c!r}]).pid)\n" for c in codes
    )
    parent = subprocess.Popen(
        [
            PY,
            "-c",
            f"import subprocess, sys, time\nk = []\n{body}"
            f"open({str(kids)!r}, 'w').write(' '.join(map(str, k)) or '-')\n"
            "time.sleep(60)\n",
        ]
    )
    pids: list[int] = []
    try:
        pids = [int(x) for x in wait_for_file(kids).split() if x != "-"]
        yield parent, pids
    finally:
        for pid in pids:
            end_orphan(pid)
        reap(parent)
