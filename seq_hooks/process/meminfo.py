"""The machine's memory as /proc/meminfo says it (psutil where there is no /proc): the one reader,
for the machine's facts (`machine`) and for the run log, which puts the system's memory beside each
peak of a tree. Small and without imports of its own: the supervisor reads it while a run goes
on."""
from __future__ import annotations

from seq_hooks.sizes import MB


def read() -> dict[str, int]:
    """/proc/meminfo in MB; {} where there is no /proc."""
    try:
        with open("/proc/meminfo", "rb") as f:  # bytes: no codec to import while a run goes on
            data = f.read()
    except OSError:
        return {}
    out = {}
    for line in data.splitlines():
        key, _, rest = line.partition(b":")
        words = rest.split()
        if words and words[0].isdigit():
            out[key.decode("utf-8", "replace")] = int(words[0]) // 1024
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
