"""Facts about the machine this process runs on: its cgroups, the CPUs it may use, its memory.

Each is read from /proc and /sys when asked (microseconds; nothing is cached, the values change). A
cgroup limit lowers what the machine shows: a container with 2 CPUs of quota on a 64-core host may
use 2. Where a file is missing (macOS, no cgroups) the plain machine value is used.
"""
from __future__ import annotations

import os

from seq_hooks.process import meminfo
from seq_hooks.records import TYPE_CHECKING
from seq_hooks.sizes import MB

if TYPE_CHECKING:
    # our mounts (mounts()) and our cgroup paths (cgroup_paths()), read once for several facts
    Cgroups = tuple[list[tuple[str, str, str]], dict[str, str]]

_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a huge number (9223372036854771712)


def _read(path: str, most: int = 4096) -> str:
    """A kernel file's text ("" when it cannot be read); at most `most` bytes (-1: all). With
    os.read, not open(): a file object costs four times as much, and a run with slots reads about
    ten of these."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    data = b""
    try:
        while most < 0 or len(data) < most:
            chunk = os.read(fd, 65536 if most < 0 else most - len(data))
            if not chunk:
                break
            data += chunk
        return data.decode()
    except (OSError, UnicodeDecodeError):
        return ""
    finally:
        os.close(fd)


def cgroups() -> Cgroups:
    """Our mounts and our cgroup paths, for the facts that need both (usable_cpus,
    memory_total_mb)."""
    return mounts(), cgroup_paths()


def mounts(text: str | None = None) -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) from /proc/self/mountinfo (or `text` in its format)."""
    out = []
    for line in (text if text is not None else _read("/proc/self/mountinfo", -1)).splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) >= 5 and len(rest) >= 3:
            out.append((fields[4].replace("\\040", " "), rest[0], rest[2]))
    return out


def file_system(path: str, text: str | None = None) -> str:
    """The file system `path` is on, for a sentence: "SOURCE (mounted at POINT)" from
    /proc/self/mountinfo (or `text` in its format), the last mount over the deepest mount point
    above the path; "" where none is known."""
    here = os.path.realpath(path)
    found = ("", "")
    for line in (text if text is not None else _read("/proc/self/mountinfo", -1)).splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 2:
            continue
        point = fields[4].replace("\\040", " ")
        inside = here == point or here.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(found[0]):
            found = (point, rest[1])
    return f"{found[1]} (mounted at {found[0]})" if found[0] else ""


def cgroup_paths(text: str | None = None) -> dict[str, str]:
    """controller ("" for v2) -> our cgroup path, from /proc/self/cgroup (or `text` in its
    format)."""
    out: dict[str, str] = {}
    for line in (text if text is not None else _read("/proc/self/cgroup", -1)).splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for c in parts[1].split(",") if parts[1] else [""]:
                out[c] = parts[2]
    return out


def cgroup_dirs(controller: str, mount_list: list[tuple[str, str, str]] | None = None,
                paths: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """("v1" or "v2", our group's directory and its parents up to the mount point) for `controller`;
    ("", []) when the machine has none. A v1 hierarchy of the controller wins over the unified one
    (hybrid)."""
    mount_list = mounts() if mount_list is None else mount_list
    paths = cgroup_paths() if paths is None else paths
    for point, fstype, opts in mount_list:
        if fstype == "cgroup" and controller in opts.split(",") and controller in paths:
            return "v1", _up(point, paths[controller])
    for point, fstype, _opts in mount_list:
        if fstype == "cgroup2" and "" in paths:
            return "v2", _up(point, paths[""])
    return "", []


def _up(point: str, path: str) -> list[str]:
    """`point + path` and each parent of it up to `point`."""
    parts = [p for p in path.split("/") if p and p != ".."]
    return [os.path.join(point, *parts[:n]) if n else point for n in range(len(parts), -1, -1)]


def cpu_quota(version: str, dirs: list[str]) -> float | None:
    """The tightest CPU quota (in CPUs) of our group and its parents, or None when there is none."""
    quotas = []
    for d in dirs:
        if version == "v2":
            raw = _read(os.path.join(d, "cpu.max")).split()
            if (
                len(raw) == 2
                and raw[0] != "max"
                and raw[0].isdigit()
                and raw[1].isdigit()
                and int(raw[1]) > 0
            ):
                quotas.append(int(raw[0]) / int(raw[1]))
        else:
            quota = _read(os.path.join(d, "cpu.cfs_quota_us")).strip()
            period = _read(os.path.join(d, "cpu.cfs_period_us")).strip()
            if quota.isdigit() and period.isdigit() and int(period) > 0:
                quotas.append(int(quota) / int(period))
    return min(quotas) if quotas else None


def usable_cpus(view: Cgroups | None = None) -> int:
    """The CPUs this process may use: its affinity mask, lowered to a cgroup CPU quota (rounded up),
    at least 1. `view`: our cgroups as read already (cgroups())."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cpu_quota(*cgroup_dirs("cpu", *(view or cgroups())))
    if quota is not None:
        # rounded up; not math.ceil: importing math costs 0.3M instructions
        cpus = min(cpus, -int(-quota // 1))
    return max(cpus, 1)


def _cgroup_memory(view: Cgroups | None = None) -> tuple[int | None, int | None]:
    """(limit MB, usage MB) of the tightest memory limit of our cgroup and its parents; (None, None)
    when none."""
    version, dirs = cgroup_dirs("memory", *(view or cgroups()))
    names = ("memory.max", "memory.current") if version == "v2" else ("memory.limit_in_bytes",
                                                                       "memory.usage_in_bytes")
    best: tuple[int | None, int | None] = (None, None)
    for d in dirs:
        limit = _read(os.path.join(d, names[0])).strip()
        if not limit.isdigit() or int(limit) >= _UNLIMITED:
            continue
        usage = _read(os.path.join(d, names[1])).strip()
        mb = int(limit) // MB
        if best[0] is None or mb < best[0]:
            best = (mb, int(usage) // MB if usage.isdigit() else None)
    return best


def memory_total_mb(view: Cgroups | None = None) -> int:
    """The machine's memory in MB, lowered to a cgroup memory limit when ours is tighter. `view`:
    our cgroups as read already (cgroups())."""
    total = meminfo.read().get("MemTotal", 0)
    limit, _usage = _cgroup_memory(view)
    if limit is not None and (total == 0 or limit < total):
        return limit
    return total or _portable_total()


def memory_available_mb() -> int:
    """Memory that can be had without swapping, in MB: MemAvailable, lowered to the room left under
    a cgroup limit."""
    info = meminfo.read()
    available = info.get("MemAvailable", info.get("MemFree", 0))
    limit, usage = _cgroup_memory()
    if limit is not None and usage is not None:
        available = min(available, max(limit - usage, 0)) if available else max(limit - usage, 0)
    return available or _portable_available()


def _portable_total() -> int:
    import psutil  # psutil (~40 ms): only where there is no /proc

    return int(psutil.virtual_memory().total // MB)


def _portable_available() -> int:
    import psutil  # psutil (~40 ms): only where there is no /proc

    return int(psutil.virtual_memory().available // MB)
