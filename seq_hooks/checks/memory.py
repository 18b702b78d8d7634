"""Checks of memory enforcement: how seq-hooks samples a unit's tree, and what the machine's cgroups
offer for a limit the kernel enforces."""
from __future__ import annotations

import os

from seq_hooks.checks import INFO, Finding, Scene
from seq_hooks.process import machine, proctree
from seq_hooks.process.treewatch import MAX_SAMPLE_GAP


def _controllers(directory: str) -> list[str]:
    try:
        with open(os.path.join(directory, "cgroup.controllers"), encoding="utf-8") as f:
            return f.read().split()
    except (OSError, UnicodeDecodeError):
        return []


def _v2(point: str, path: str) -> str:
    d = os.path.normpath(point + path)
    if "memory" not in _controllers(d):
        return f"cgroup v2 at {point}: no memory controller in your group"
    if os.access(d, os.W_OK):
        return f"cgroup v2 at {d}: memory controller delegated to you (kernel limit possible)"
    return f"cgroup v2 at {d}: memory controller present, not writable by you"


def enforcement(mountinfo: str | None = None, cgroup: str | None = None) -> list[str]:
    """What the machine offers for a kernel-enforced memory limit, one sentence each, from
    /proc/self/mountinfo and /proc/self/cgroup (or texts in their formats): v2, v1, both (hybrid) or
    none."""
    paths = machine.cgroup_paths(cgroup)
    offers = []
    for point, fstype, opts in machine.mounts(mountinfo):
        if fstype == "cgroup2" and "" in paths:
            offers.append(_v2(point, paths[""]))
        elif fstype == "cgroup" and "memory" in opts.split(",") and "memory" in paths:
            d = os.path.normpath(point + paths["memory"])
            writable = "writable (kernel limit possible)" if os.access(d, os.W_OK) else "read-only"
            offers.append(f"cgroup v1 memory at {d}: {writable}")
    return offers


def memory(scene: Scene) -> list[Finding]:
    settings = scene.settings
    sampler = "/proc" if proctree.use_proc() else "psutil"
    limit = (
        f"{settings.memory_limit_mb} MB per unit"
        if settings.memory_limit_mb
        else "no memory limit (0)"
    )
    offers = enforcement() or ["no cgroup memory controller found"]
    return [
        Finding(
            INFO,
            "memory",
            f"{limit}, enforced by sampling the whole tree from {sampler} (adaptive, "
            f"at least every {MAX_SAMPLE_GAP:g} s); the machine offers: {'; '.join(offers)}",
        )
    ]
