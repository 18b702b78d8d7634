"""A cgroup of the run's own, where the machine lets us make one (cgroup v1 `pids` hierarchy, or v2
where our group may have children): the tree's processes are counted with one read instead of a walk
of the tree, often enough to hold `--max-procs` against a fork loop (docs/design.md, Processes).

The kernel's pids.max counts threads too, so it is not set to the process limit (a threaded tool,
ruff, rayon, a JVM, would fail to start its threads): it is a moving backstop, at each count the
tasks the tree has now plus some room (the process limit, at least 4 tasks per CPU + 32 for the
thread pools tools start at once), so a fork loop that starves the supervisor of CPU still stops
soon; the supervisor counts processes and ends the tree itself.
"""
from __future__ import annotations

import os
import time

from seq_hooks.process import machine, proctree
from seq_hooks.records import NamedTuple

PREFIX = "seq-hooks-"
# seconds: an empty group this old is a dead runner's (a live one fills its group at once)
STALE = 60.0
REAPED = 1.0  # seconds a dead run's group may stay busy after its processes ended (zombies)


def _sweep(parent: str) -> None:
    """Removes the empty groups runners killed with SIGKILL left behind (a group with a process
    stays)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(PREFIX)]
    except OSError:
        return
    now = time.time()
    for name in names:
        path = os.path.join(parent, name)
        try:
            if now - os.stat(path).st_mtime > STALE:
                RunGroup(path).remove()
        except OSError:
            continue


class Found(NamedTuple):
    token: str  # the run's
    path: str
    empty: bool  # no live process in it (nor in the groups nested in it)
    age: float  # seconds since it last changed


def everywhere() -> list[Found]:
    """Every run's group in the hierarchy, at any depth (another terminal's runner made it under its
    own cgroup; a nested run's is in its outer run's): for take-over, `clean` and `doctor`."""
    _version, dirs = machine.cgroup_dirs("pids")
    out: list[Found] = []
    now = time.time()
    for dirpath, dirnames, _files in os.walk(dirs[-1]) if dirs else ():
        for name in dirnames:
            path = os.path.join(dirpath, name)
            try:
                if name.startswith(PREFIX):
                    age = now - os.stat(path).st_mtime
                    empty = not any(proctree.alive(p) for p in RunGroup(path).pids())
                    out.append(Found(name[len(PREFIX) :], path, empty, age))
            except OSError:
                continue
    return out


def of_runs(tokens: list[str]) -> list[RunGroup]:
    """The groups of these runs, wherever they are (a dead run's: its runner cannot remove it)."""
    wanted = {t for t in tokens if t}
    return [RunGroup(f.path) for f in everywhere() if f.token in wanted] if wanted else []


class RunGroup:
    def __init__(self, path: str) -> None:
        self.path = path

    @staticmethod
    def make(token: str) -> RunGroup | None:
        """A new empty cgroup under ours, or None where we may not make one."""
        _version, dirs = machine.cgroup_dirs("pids")
        if not dirs:
            return None
        _sweep(dirs[0])
        path = os.path.join(dirs[0], f"{PREFIX}{token}")
        try:
            os.mkdir(path, 0o755)
        except OSError:
            return None
        return RunGroup(path)

    def add(self, pid: int) -> bool:
        """Moves `pid` (the command, right after its start) in; its descendants are born inside."""
        try:
            fd = os.open(os.path.join(self.path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(pid).encode())
            finally:
                os.close(fd)
            return True
        except OSError:
            return False

    def tasks(self) -> int | None:
        """Tasks (threads of every process) in the group now, nested groups included; None where
        unknown."""
        try:
            with open(os.path.join(self.path, "pids.current"), "rb") as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def allow(self, tasks: int) -> None:
        """The kernel refuses to fork or start a thread past `tasks` (where the group has a pids
        controller)."""
        try:
            fd = os.open(os.path.join(self.path, "pids.max"), os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, str(max(tasks, 1)).encode())
            finally:
                os.close(fd)
        except OSError:
            pass

    def pids(self) -> list[int]:
        """Every process in the group and in the groups nested runs made inside it (cgroup v1 may
        list a process once per thread: each is counted once)."""
        out: set[int] = set()
        for dirpath, _dirs, _files in os.walk(self.path):
            try:
                with open(os.path.join(dirpath, "cgroup.procs"), "rb") as f:
                    out.update(int(x) for x in f.read().split())
            except OSError:
                continue
        return sorted(out)

    def remove(self, patience: float = 0.0) -> bool:
        """Removes the group (and nested ones) once they are empty; a group still in use stays
        (harmless). True when it is gone. `patience`: seconds to keep trying while only ended
        processes hold it (a zombie its new parent has not reaped yet keeps its group busy)."""
        deadline = time.monotonic() + patience
        while True:
            for dirpath, _dirs, _files in os.walk(self.path, topdown=False):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
            if not os.path.isdir(self.path):
                return True
            if time.monotonic() >= deadline or any(proctree.alive(p) for p in self.pids()):
                return False
            time.sleep(0.01)
