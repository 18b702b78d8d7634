"""The machine's memory as /proc/meminfo says it (psutil where there is no /proc): the one reader,
for the machine's facts (`machine`) and for the run log, which puts the system's memory beside each
peak of a tree. Small and without imports of its own: the supervisor reads it while a run goes
on."""
from __future__ import annotations

import os

from seq_hooks.sizes import MB


def read() -> dict[str, int]:
    """/proc/meminfo in MB, up to MemAvailable: MemTotal, MemFree and MemAvailable come first, and
    they are all seq-hooks reads (the fifty lines after them cost a run with slots 0.3M
    instructions); {} where there is no /proc."""
    try:
        fd = os.open("/proc/meminfo", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        data = os.read(fd, 65536)  # bytes: no codec to import while a run goes on
    except OSError:
        return {}
    finally:
        os.close(fd)
    out = {}
    for line in data.splitlines():
        key, _, rest = line.partition(b":")
        words = rest.split()
        if words and words[0].isdigit():
            out[key.decode("utf-8", "replace")] = int(words[0]) // 1024
        if key == b"MemAvailable":
            break
    return out


def used_total() -> tuple[int, int]:
    """The system's (used, total) memory in MB, used as `free` counts it: what is not available."""
    info = read()
    total = info.get("MemTotal", 0)
    if total:
        return total - info.get("MemAvailable", info.get("MemFree", 0)), total
    import psutil  # no /proc (macOS)

    vm = psutil.virtual_memory()
    return int((vm.total - vm.available) // MB), int(vm.total // MB)
