"""The machine's memory as /proc/meminfo says it (psutil where there is no /proc): the one reader, for the
machine's facts (`machine`) and for the run log, which puts the system's memory beside each peak of a tree.
Small and without imports of its own: the supervisor reads it while a run goes on."""
from __future__ import annotations

from seq_hooks.sizes import MB


def read() -> dict[str, int]:
    """/proc/meminfo in MB; {} where there is no /proc."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return {}
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        words = rest.split()
        if words and words[0].isdigit():
            out[key] = int(words[0]) // 1024
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
