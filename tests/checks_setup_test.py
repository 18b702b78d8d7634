from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from testing.doctor import doctor_run, lines
from testing.queue import STATE, finished_run, plant_ticket, start_with_token
from testing.util import (
    alive,
    end_orphan,
    fixture,
    git,
    reap,
    run,
    seq_hooks,
    tickets,
    wait_for_file,
    wait_until,
)


def test_finds_stale_ticket_and_leftover_process_but_spares_the_live_and_the_foreign(
    isolated: Path,
) -> None:
    gate = isolated / "gate"
    holder = subprocess.Popen(
        seq_hooks(
            "run",
            "-q",
            "--",
            *fixture("gate.py", isolated / "h.pid", gate, isolated / "order", "holder"),
        )
    )
    planted: list[subprocess.Popen[bytes]] = []
    try:
        wait_for_file(isolated / "h.pid")
        qdir = isolated / STATE / "locks" / "default"
        stale = plant_ticket(qdir, 99, ["python", "crashed.py"], os.urandom(8).hex(), granted=False)
        ended = os.urandom(8).hex()
        finished_run(isolated, ended)
        planted.append(start_with_token(isolated, "leftover", ended))
        # another project's run
        planted.append(start_with_token(isolated, "foreign", os.urandom(8).hex()))
        p = doctor_run()
        assert p.returncode == 1, p.stdout
        [ticket] = lines(p.stdout, "stale ticket")
        assert (
            f"lock default: {stale.name}" in ticket
            and "crashed.py" in ticket
            and "PROBLEM" in ticket
        )
        [left] = lines(p.stdout, "leftover processes")
        assert (
            f"run {ended[:12]}" in left
            and f"pid {planted[0].pid} " in left
            and "in the journal" in left
        )
        assert str(planted[1].pid) not in p.stdout and str(holder.pid) not in p.stdout
        assert p.stdout.count("fix: seq-hooks clean") == 2
        assert p.stdout.endswith("2 problems found\n")
        assert all(alive(x.pid) for x in planted) and stale.exists()  # it reports; clean acts
        gate.touch()
        assert holder.wait(30) == 0
        assert tickets(qdir) == [stale]
    finally:
        gate.touch()
        for x in [holder, *planted]:
            reap(x)


def test_finds_what_a_killed_runner_left(isolated: Path) -> None:
    runner = subprocess.Popen(
        seq_hooks("run", "-q", "--", *fixture("pidfile.py", isolated / "child.pid", 60))
    )
    child = int(wait_for_file(isolated / "child.pid"))
    try:
        runner.send_signal(signal.SIGKILL)  # the runner dies holding the lock; its command runs on
        runner.wait(10)
        wait_until(lambda: not alive(runner.pid), what="the runner to be gone")
        assert alive(child)
        p = doctor_run()
        assert p.returncode == 1
        assert "died while holding the lock" in lines(p.stdout, "stale ticket")[0]
        [left] = lines(p.stdout, "leftover processes")
        assert f"pid {child} " in left and "its runner died (ticket default/" in left
    finally:
        reap(runner)
        end_orphan(child)


def test_a_live_no_lock_run_is_left_alone(isolated: Path) -> None:
    runner = subprocess.Popen(
        seq_hooks("run", "-q", "--no-lock", "--", *fixture("pidfile.py", isolated / "c.pid", 60))
    )
    try:
        child = int(wait_for_file(isolated / "c.pid"))
        p = doctor_run()
        assert p.returncode == 0, p.stdout
        [info] = lines(p.stdout, "unknown run")
        assert f"pid {child} " in info and f"live pid {runner.pid}" in info and "left alone" in info
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(20)
        reap(runner)


def test_git_hook_installed_or_not(isolated: Path) -> None:
    assert "not installed" in lines(doctor_run().stdout, "git hook")[0]
    assert run(seq_hooks("install-git-hook")).returncode == 0
    p = doctor_run()
    assert p.returncode == 0
    assert "pre-commit: ours, in " in lines(p.stdout, "git hook")[0]
    hook = isolated / ".git" / "hooks" / "pre-commit"
    hook.chmod(0o644)
    p = doctor_run()
    assert p.returncode == 1 and "is ours but not executable" in lines(p.stdout, "git hook")[0]
    hook.chmod(0o755)
    elsewhere = isolated / "my-hooks"
    git(isolated, "config", "core.hooksPath", "my-hooks")
    p = doctor_run()
    assert (
        f"not installed in {elsewhere} (core.hooksPath my-hooks)" in lines(p.stdout, "git hook")[0]
    )
