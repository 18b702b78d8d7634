from __future__ import annotations

from pathlib import Path

from seq_hooks.checks.capacity import recommend
from seq_hooks.lock import capacity
from seq_hooks.process import machine
from testing.doctor import doctor_run, lines


def test_recommends_slots_with_a_budget_where_there_are_cpus() -> None:
    assert recommend(1, 8000).startswith("slots = 1")
    want = 'slots = "auto" (4 here) and memory_budget_mb = "auto" (4000 MB here) in [tool.seq-hooks]'
    assert recommend(4, 8000) == want


def test_doctor_reports_each_lock_and_what_fits_this_machine(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text(
        '[tool.seq-hooks]\nslots = 64\n[tool.seq-hooks.locks.heavy]\nslots = 1\nmemory_budget_mb = 3000\n'
        "[tool.seq-hooks.locks.wide]\nslots = 1\nmemory_budget_mb = 99999999\n"
    )
    found = lines(doctor_run().stdout, "capacity")
    cpus = machine.usable_cpus()
    assert any("lock 'default': 64 slots, no memory budget: more slots than the" in x for x in found), found
    assert any("lock 'heavy': 1 slot, memory budget 3000 MB" in x and x.split()[0] == "info" for x in found), found
    assert any("lock 'wide'" in x and "over the" in x for x in found), found
    assert any(f"this machine: {cpus} CPU" in x and "recommended" in x for x in found), found
    (isolated / "pyproject.toml").write_text('[tool.seq-hooks]\nslots = "auto"\n')
    out = doctor_run().stdout
    if cpus > 1:
        assert any("units run side by side without a memory budget" in x for x in lines(out, "capacity")), out
        assert f'memory_budget_mb = "auto" ({capacity.auto_budget_mb()} MB here)' in out
