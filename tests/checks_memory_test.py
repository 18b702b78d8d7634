from __future__ import annotations

from pathlib import Path

import pytest

from seq_hooks.checks.memory import enforcement
from testing.doctor import doctor_run, lines

V2_MOUNT = (
    "29 23 0:26 / {root} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
)
V1_MOUNT = (
    "35 25 0:30 / {root} rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory\n"
)
CPU_MOUNT = (
    "36 25 0:31 / {root} rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,cpu,cpuacct\n"
)
OTHER = (
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n24 22 0:5 / /dev rw - devtmpfs udev "
    "rw\n"
)


def group(base: Path, path: str, controllers: str | None = None) -> Path:
    d = base / path.lstrip("/")
    d.mkdir(parents=True)
    if controllers is not None:
        (d / "cgroup.controllers").write_text(controllers + "\n")
    return d


def test_v2_with_the_memory_controller(tmp_path: Path) -> None:
    d = group(tmp_path, "/user.slice/session-1.scope", "cpuset cpu io memory pids")
    offers = enforcement(OTHER + V2_MOUNT.format(root=tmp_path), "0::/user.slice/session-1.scope\n")
    assert offers == [
        f"cgroup v2 at {d}: memory controller delegated to you (kernel limit possible)"
    ]


def test_v2_without_the_memory_controller(tmp_path: Path) -> None:
    group(tmp_path, "/app", "cpu pids")
    offers = enforcement(V2_MOUNT.format(root=tmp_path) + OTHER, "0::/app\n")
    assert offers == [f"cgroup v2 at {tmp_path}: no memory controller in your group"]


def test_v1_memory_hierarchy(tmp_path: Path) -> None:
    mem, cpu = tmp_path / "memory", tmp_path / "cpu"
    d = group(mem, "/docker/abc")
    group(cpu, "/docker/abc")
    mountinfo = OTHER + V1_MOUNT.format(root=mem) + CPU_MOUNT.format(root=cpu)
    offers = enforcement(
        mountinfo, "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n"
    )
    assert offers == [f"cgroup v1 memory at {d}: writable (kernel limit possible)"]


def test_hybrid_has_both(tmp_path: Path) -> None:
    mem, unified = tmp_path / "memory", tmp_path / "unified"
    d1 = group(mem, "/user.slice")
    group(unified, "/user.slice", "")
    mountinfo = OTHER + V1_MOUNT.format(root=mem) + V2_MOUNT.format(root=unified)
    offers = enforcement(mountinfo, "9:memory:/user.slice\n0::/user.slice\n")
    assert offers == [f"cgroup v1 memory at {d1}: writable (kernel limit possible)",
                      f"cgroup v2 at {unified}: no memory controller in your group"]


@pytest.mark.parametrize("cgroup", ["", "0::/\n"])
def test_no_cgroup_mounts(cgroup: str) -> None:
    assert enforcement(OTHER, cgroup) == []


def test_a_v1_mount_of_another_controller_is_not_memory(tmp_path: Path) -> None:
    group(tmp_path, "/x")
    assert enforcement(CPU_MOUNT.format(root=tmp_path), "4:cpu,cpuacct:/x\n") == []


def test_doctor_reports_the_sampler_and_the_limit() -> None:
    p = doctor_run({"SEQ_HOOKS_MEMORY_LIMIT_MB": "0"})
    line = lines(p.stdout, "memory")[0]
    assert "no memory limit (0), enforced by sampling the whole tree from /proc" in line
    assert "the machine offers: " in line
