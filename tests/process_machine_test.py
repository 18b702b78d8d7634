from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks.process import machine
from testing.util import run

HYBRID_MOUNTS = """\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = "4:memory:/process_api/abc\n1:cpu,cpuacct:/\n0::/user.slice\n"
UNIFIED_MOUNTS = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_mounts_and_cgroup_paths_parse_the_kernel_formats() -> None:
    assert machine.mounts(HYBRID_MOUNTS)[2] == ("/sys/fs/cgroup/unified", "cgroup2", "rw")
    assert machine.cgroup_paths(HYBRID_CGROUP) == {
        "memory": "/process_api/abc",
        "cpu": "/",
        "cpuacct": "/",
        "": "/user.slice",
    }


def test_cgroup_dirs_prefer_a_v1_hierarchy_and_list_the_parents() -> None:
    mounts, paths = machine.mounts(HYBRID_MOUNTS), machine.cgroup_paths(HYBRID_CGROUP)
    assert machine.cgroup_dirs("memory", mounts, paths) == (
        "v1",
        [
            "/sys/fs/cgroup/memory/process_api/abc",
            "/sys/fs/cgroup/memory/process_api",
            "/sys/fs/cgroup/memory",
        ],
    )
    assert machine.cgroup_dirs("cpu", mounts, paths) == ("v1", ["/sys/fs/cgroup/cpu"])
    # a controller only the unified hierarchy has
    assert machine.cgroup_dirs("io", mounts, paths) == ("v2", ["/sys/fs/cgroup/unified/user.slice",
                                                               "/sys/fs/cgroup/unified"])
    unified = machine.mounts(UNIFIED_MOUNTS)
    assert machine.cgroup_dirs("cpu", unified, {"": "/a/b"}) == (
        "v2", ["/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a", "/sys/fs/cgroup"])
    assert machine.cgroup_dirs("cpu", [], {}) == ("", [])


def test_cpu_quota_is_the_tightest_of_the_group_and_its_parents(tmp_path: Path) -> None:
    child, parent = tmp_path / "a" / "b", tmp_path / "a"
    child.mkdir(parents=True)
    (child / "cpu.max").write_text("max 100000\n")
    (parent / "cpu.max").write_text("150000 100000\n")
    assert machine.cpu_quota("v2", [str(child), str(parent), str(tmp_path)]) == 1.5
    (child / "cpu.max").write_text("50000 100000\n")
    assert machine.cpu_quota("v2", [str(child), str(parent)]) == 0.5
    assert machine.cpu_quota("v2", [str(tmp_path)]) is None
    (tmp_path / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu.cfs_period_us").write_text("100000\n")
    assert machine.cpu_quota("v1", [str(tmp_path)]) is None
    (tmp_path / "cpu.cfs_quota_us").write_text("250000\n")
    assert machine.cpu_quota("v1", [str(tmp_path)]) == 2.5


def _in_child(code: str, pre: str = "") -> str:
    """What `code` prints in a new interpreter, after `pre` ran there first (before seq_hooks is
    imported)."""
    done = run(
        [sys.executable, "-c", f"{pre}\nfrom seq_hooks.process import machine\nprint({code})"]
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_usable_cpus_follow_the_affinity_mask() -> None:
    assert machine.usable_cpus() >= 1
    assert (
        _in_child(
            "machine.usable_cpus()",
            "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})",
        )
        == "1"
    )


def _v1_group(controller: str) -> Iterator[Path]:
    """A fresh cgroup v1 group of `controller` next to ours, removed afterwards; skips where we
    cannot make one."""
    version, dirs = machine.cgroup_dirs(controller)
    if version != "v1" or not os.access(dirs[-1], os.W_OK):
        pytest.skip(f"no writable cgroup v1 {controller} hierarchy here")
    group = Path(dirs[-1]) / f"seq-hooks-test-{os.getpid()}"
    group.mkdir()
    try:
        yield group
    finally:
        group.rmdir()


@pytest.fixture
def cpu_group() -> Iterator[Path]:
    yield from _v1_group("cpu")


@pytest.fixture
def memory_group() -> Iterator[Path]:
    yield from _v1_group("memory")


def test_usable_cpus_follow_a_real_cgroup_cpu_quota(cpu_group: Path) -> None:
    (cpu_group / "cpu.cfs_period_us").write_text("100000")
    (cpu_group / "cpu.cfs_quota_us").write_text("50000")  # half a CPU: rounded up to one
    join = f"open({str(cpu_group / 'cgroup.procs')!r}, 'w').write(str(__import__('os').getpid()))"
    assert _in_child("machine.usable_cpus()", join) == "1"


def test_memory_follows_a_real_cgroup_memory_limit(memory_group: Path) -> None:
    (memory_group / "memory.limit_in_bytes").write_text(str(512 << 20))
    # joined, the child touches 16 MB: the group's usage must not hang on what importing seq_hooks
    # happens to cost
    join = (
        f"open({str(memory_group / 'cgroup.procs')!r}, 'w').write(str(__import__('os').getpid()))\n"
        "ballast = b'x' * (16 << 20)"
    )
    total, available = _in_child(
        "machine.memory_total_mb(), machine.memory_available_mb()", join
    ).split()
    assert int(total) == 512
    assert 0 < int(available) < 512


def test_memory_without_a_limit_is_the_machines() -> None:
    with open("/proc/meminfo", encoding="utf-8") as f:
        info = {line.split(":")[0]: int(line.split()[1]) // 1024 for line in f}
    total = machine.memory_total_mb()
    assert total <= info["MemTotal"]
    assert 0 < machine.memory_available_mb() <= total
