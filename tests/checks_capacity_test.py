from __future__ import annotations

from pathlib import Path

from seq_hooks.checks.capacity import recommend
from seq_hooks.lock import capacity
from seq_hooks.process import machine
from testing.doctor import doctor_run, lines


def test_recommends_slots_with_a_budget_where_there_are_cpus() -> None:
    assert recommend(1, 8000).startswith("slots = 1")
    want = 'slots = "auto" (4 here) and memory_budget_mb = "auto" (4000 MB here), the defaults'
    assert recommend(4, 8000) == want


def test_doctor_reports_each_lock_and_what_fits_this_machine(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text(
        "[tool.seq-hooks]\nslots = 64\nmemory_budget_mb = 0\n"
        "[tool.seq-hooks.locks.heavy]\nslots = 1\nmemory_budget_mb = 3000\n"
        "[tool.seq-hooks.locks.wide]\nslots = 2\nmemory_budget_mb = 99999999\n"
    )
    found = lines(doctor_run().stdout, "capacity")
    cpus = machine.usable_cpus()
    assert any(
        "lock 'default': 64 slots, no memory budget: more slots than the" in x for x in found
    ), found
    assert any(
        "lock 'heavy': 1 slot (one unit at a time)" in x and x.split()[0] == "info" for x in found
    ), found
    assert any("lock 'wide'" in x and "over the" in x for x in found), found
    assert any(f"this machine: {cpus} CPU" in x and "recommended" in x for x in found), found
    (isolated / "pyproject.toml").write_text(
        '[tool.seq-hooks]\nslots = "auto"\nmemory_budget_mb = 0\n'
    )
    out = doctor_run().stdout
    if cpus > 1:
        assert any(
            "units run side by side without a memory budget" in x for x in lines(out, "capacity")
        ), out
        assert f'memory_budget_mb = "auto" ({capacity.auto_budget_mb()} MB here)' in out


def test_doctor_says_a_lock_is_at_the_defaults_and_why(isolated: Path) -> None:
    found = lines(doctor_run().stdout, "capacity")
    default = next(x for x in found if "lock 'default'" in x)
    assert default.split()[0] == "info", found
    cpus = machine.usable_cpus()
    assert (
        f"lock 'default': {cpus} slot" in default
        and 'the defaults: slots = "auto", a slot per CPU' in default
    )
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\nslots = 1\n")
    default = next(x for x in lines(doctor_run().stdout, "capacity") if "lock 'default'" in x)
    assert (
        "lock 'default': 1 slot (one unit at a time)" in default and "the defaults" not in default
    )
