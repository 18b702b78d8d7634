from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from testing.queue import STATE, finished_run, plant_ticket, start_with_token
from testing.util import (
    alive,
    end_orphan,
    fixture,
    reap,
    run,
    seq_hooks,
    tickets,
    wait_for_file,
    wait_until,
)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_clean_removes_what_dead_runs_left_and_touches_nothing_else(isolated: Path) -> None:
    gate = isolated / "gate"
    qdir = isolated / STATE / "locks" / "default"
    holder = subprocess.Popen(
        seq_hooks(
            "run",
            "-q",
            "--",
            *fixture("gate.py", isolated / "h.pid", gate, isolated / "order", "holder"),
        )
    )
    others: list[subprocess.Popen[bytes]] = []
    killed_child = 0
    try:
        wait_for_file(isolated / "h.pid")
        [live_ticket] = tickets(qdir)
        # a runner killed while holding lock `other`: its command runs on, its granted ticket stays
        runner = subprocess.Popen(seq_hooks("run", "-q", "--lock", "other", "--",
                                            *fixture("pidfile.py", isolated / "orphan.pid", 60)))
        others.append(runner)
        killed_child = int(wait_for_file(isolated / "orphan.pid"))
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
        # a dead waiter's ticket behind the live holder, and a process of a run that has ended
        stale = plant_ticket(qdir, 99, ["python", "crashed.py"], os.urandom(8).hex(), granted=False)
        ended = os.urandom(8).hex()
        finished_run(isolated, ended)
        leftover = start_with_token(isolated, "leftover", ended)
        others.append(leftover)
        # never ours: a process with a token this project does not know (another project's run), and
        # a live --no-lock run (it has a log, no ticket, no journal record, and its runner is alive)
        foreign = start_with_token(isolated, "foreign", os.urandom(8).hex())
        others.append(foreign)
        no_lock = subprocess.Popen(seq_hooks("run", "-q", "--no-lock", "--",
                                             *fixture("pidfile.py", isolated / "nolock.pid", 60)))
        others.append(no_lock)
        no_lock_child = int(wait_for_file(isolated / "nolock.pid"))
        # nested queues: an empty one of a dead holder (removable) and one of the live holder (kept)
        holder_token = _ticket_token(live_ticket)
        dead_nested = qdir / "nested" / os.urandom(8).hex()
        live_nested = qdir / "nested" / holder_token
        for d in (dead_nested, live_nested):
            d.mkdir(parents=True, mode=0o700)
            (d / ".seq").write_text("3\n")
        other_q = isolated / STATE / "locks" / "other"
        [orphan_ticket] = tickets(other_q)
        before = _tree(isolated / STATE)

        dry = run(seq_hooks("clean", "--dry-run"))
        assert dry.returncode == 0, dry.stderr
        assert _tree(isolated / STATE) == before  # a dry run changes nothing
        assert alive(killed_child) and alive(leftover.pid)
        assert (
            f"would end pid {killed_child} " in dry.stdout
            and f"would end pid {leftover.pid} " in dry.stdout
        )
        assert f"would remove stale ticket default/{stale.name}" in dry.stdout
        assert f"would remove stale ticket other/{orphan_ticket.name}" in dry.stdout
        assert f"would remove empty nested queue default/nested/{dead_nested.name}" in dry.stdout

        done = run(seq_hooks("clean"))
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert f"ended pid {killed_child} " in out and "its runner died (ticket other/" in out
        assert f"ended pid {leftover.pid} " in out and "in the journal" in out
        assert f"removed stale ticket default/{stale.name} (pid " in out and "crashed.py" in out
        assert f"removed stale ticket other/{orphan_ticket.name}" in out
        assert f"removed empty nested queue default/nested/{dead_nested.name}" in out
        assert f"left alone: pid {no_lock_child} of run " in out
        assert leftover.wait(10) == -signal.SIGTERM
        wait_until(lambda: not alive(killed_child), what="the orphan to end")
        assert not stale.exists() and not orphan_ticket.exists() and not dead_nested.exists()
        # untouched: the holder, its ticket and nested queue, the foreign process, the --no-lock run
        assert alive(holder.pid) and tickets(qdir) == [live_ticket] and live_nested.is_dir()
        assert alive(foreign.pid) and alive(no_lock.pid) and alive(no_lock_child)
        assert "foreign" not in out and str(foreign.pid) not in out
        gone = (
            stale,
            orphan_ticket,
            orphan_ticket.with_suffix(".procs"),
            dead_nested,
            dead_nested / ".seq",
        )
        assert set(_tree(isolated / STATE)) == set(before) - {
            str(p.relative_to(isolated / STATE)) for p in gone
        }

        again = run(seq_hooks("clean"))
        assert again.stdout.startswith("left alone: ") and again.stdout.endswith(
            "nothing to clean\n"
        )
        gate.touch()
        assert holder.wait(30) == 0
    finally:
        gate.touch()
        for p in [holder, *others]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # a runner ends its command's tree, then itself
        for p in [holder, *others]:
            try:
                p.wait(20)
            finally:
                reap(p)
        if killed_child:
            end_orphan(killed_child)


def _ticket_token(path: Path) -> str:
    from seq_hooks.lock import tickets as format_

    info = format_.read(str(path))
    assert info is not None
    return info.token


def test_clean_with_nothing_to_do(isolated: Path) -> None:
    assert run(seq_hooks("clean")).stdout == "nothing to clean\n"
    assert run(seq_hooks("clean", "--dry-run")).stdout == "nothing to clean\n"


def test_clean_judges_tickets_only_under_the_queue_counter_lock(
    isolated: Path, monkeypatch: object
) -> None:
    """tickets.make holds `.seq` while it numbers, creates and renames a ticket: clean takes it
    first, and gives up on that queue (bounded) rather than judge a ticket while a caller may be
    making one."""
    import fcntl

    import pytest

    from seq_hooks import leftovers

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(leftovers, "SEQ_WAIT", 0.2)
    qdir = isolated / STATE / "locks" / "default"
    stale = plant_ticket(qdir, 5, ["x"], os.urandom(8).hex(), granted=False)
    # its maker died before the rename
    half_made = qdir / f".new-{os.getpid() + 1}-{os.urandom(8).hex()}"
    half_made.write_text("")
    fd = os.open(qdir / ".seq", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert leftovers.remove_stale(str(qdir), "default") == []
        assert stale.exists() and half_made.exists()
        fcntl.flock(fd, fcntl.LOCK_UN)
        removed = leftovers.remove_stale(str(qdir), "default")
    finally:
        os.close(fd)
    assert sorted(os.path.basename(r.path) for r in removed) == sorted([half_made.name, stale.name])
    assert not stale.exists() and not half_made.exists()
