from __future__ import annotations

from pathlib import Path

import pytest

from seq_hooks.checks import threads
from testing.doctor import doctor_run, lines


@pytest.mark.parametrize(
    ("options", "n"),
    [
        ("-q -n auto", "auto"),
        ("-nauto", "auto"),
        ("--numprocesses=4", "4"),
        ("-n 3 --dist load", "3"),
        ("-n=logical", "logical"),
        ("-q -x", None),
        ("-p no:xdist", None),
        ("--numprocesses 2", "2"),
    ],
)
def test_worker_count_in_addopts(options: str, n: str | None) -> None:
    assert threads.workers(options) == n


@pytest.mark.parametrize(("name", "text"), [
    ("pytest.ini", "[pytest]\naddopts = -q -n auto\n"),
    ("pyproject.toml", "[tool.pytest.ini_options]\naddopts = \"-q -n auto\"\n"),
    ("pyproject.toml", "[tool.pytest.ini_options]\naddopts = [\"-q\", \"-n\", \"auto\"]\n"),
    ("tox.ini", "[tox]\nenvlist = py\n[pytest]\naddopts = -q -n auto\n"),
    ("setup.cfg", "[metadata]\nname = x\n[tool:pytest]\naddopts = -q -n auto\n"),
])
def test_addopts_from_every_place_pytest_reads(isolated: Path, name: str, text: str) -> None:
    (isolated / name).write_text(text)
    found = threads.addopts(str(isolated))
    assert found is not None and found[0] == name and threads.workers(found[1]) == "auto"


def test_doctor_points_out_fan_out_and_what_threads_does(isolated: Path) -> None:
    (isolated / "pytest.ini").write_text("[pytest]\naddopts = -q -n auto\n")
    p = doctor_run()
    assert p.returncode == 1
    [line] = lines(p.stdout, "pytest")
    assert (
        "pytest.ini: addopts has `-n auto`: `seq-hooks run -- pytest`" in line
        and "one xdist worker per CPU" in line
    )
    assert "fix: set `threads = 1` (or N) in [tool.seq-hooks]" in p.stdout
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nthreads = 2\n")
    p = doctor_run()
    assert p.returncode == 0, p.stdout
    assert (
        "PYTEST_XDIST_AUTO_NUM_WORKERS=2 in every unit (threads = 2), so a unit starts 2 workers"
        in p.stdout
    )
    (isolated / "pytest.ini").write_text("[pytest]\naddopts = -n 8\n")
    p = doctor_run()
    assert (
        p.returncode == 1
        and "starts 8 xdist workers inside one unit" in lines(p.stdout, "pytest")[0]
    )
    (isolated / "pytest.ini").write_text("[pytest]\naddopts = -q\n")
    assert lines(doctor_run().stdout, "pytest") == []
