from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seq_hooks import journal, logfile, retention
from testing.util import fixture, reap, run, seq_hooks, tickets, wait_for_file, wait_until

STATE = Path(".git") / "seq-hooks"


def _log(d: Path, i: int, size: int = 10, token: str | None = None) -> Path:
    p = d / f"20250101-{i:06d}-{token or os.urandom(8).hex()}.log"
    p.write_bytes(b"x" * size)
    return p


def _configure(repo: Path, **keys: int) -> None:
    lines = "".join(f"{k} = {v}\n" for k, v in keys.items())
    (repo / "pyproject.toml").write_text(f"[tool.seq-hooks]\n{lines}")


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    return d


def test_prune_keeps_the_newest_and_never_touches_foreign_files(logdir: Path) -> None:
    logs = [_log(logdir, i) for i in range(10)]
    foreign = [logdir / "notes.log", logdir / "20250101-000001-nothex.log", logdir / "keep.txt"]
    for f in foreign:
        f.write_text("mine")
    removed = retention.prune(str(logdir), keep=4, keep_mb=0)
    assert sorted(removed) == [p.name for p in logs[:6]]
    assert sorted(p.name for p in logdir.iterdir() if p not in foreign) == [
        p.name for p in logs[6:]
    ]
    assert all(f.exists() for f in foreign)


def test_prune_size_cap_removes_oldest_first_but_keeps_the_newest(logdir: Path) -> None:
    mb = 1048576
    logs = [_log(logdir, i, size=mb // 2) for i in range(6)]  # 3 MB in all
    retention.prune(str(logdir), keep=0, keep_mb=1)
    assert sorted(logdir.iterdir()) == logs[4:]  # 1 MB left: the two newest
    big = _log(logdir, 99, size=3 * mb)
    retention.prune(str(logdir), keep=0, keep_mb=1)
    # over the cap on its own, but the newest log always stays
    assert sorted(logdir.iterdir()) == [big]


def test_prune_breaks_ties_within_a_second_by_last_write(logdir: Path) -> None:
    a = logdir / "20250101-000000-ffffffffffffffff.log"
    b = logdir / "20250101-000000-0000000000000000.log"
    a.write_text("older")
    b.write_text("newer")
    os.utime(a, ns=(1, 10**18))
    os.utime(b, ns=(1, 2 * 10**18))
    assert retention.prune(str(logdir), keep=1, keep_mb=0) == [a.name]


def test_prune_spares_logs_of_live_runs(logdir: Path) -> None:
    live = _log(logdir, 0, token="0123456789abcdef")
    newer = [_log(logdir, i) for i in range(1, 5)]
    retention.prune(str(logdir), keep=2, keep_mb=0, protect=frozenset({"0123456789abcdef"}))
    assert sorted(logdir.iterdir()) == [live, *newer[2:]]


@pytest.mark.parametrize(("keep", "runs", "expected"), [(3, 6, 3), (0, 4, 4)])
def test_runs_keep_the_configured_number_of_logs(
    isolated: Path, keep: int, runs: int, expected: int
) -> None:
    _configure(isolated, keep_logs=keep)
    for i in range(runs):
        assert run(seq_hooks("run", "--", "sh", "-c", f"echo run {i}")).returncode == 0
    logs = sorted(str(p) for p in (isolated / STATE / "logs").iterdir())
    newest = [str(r.log) for r in journal.read(str(isolated / STATE))][-expected:]
    assert logs == sorted(newest)  # exactly the newest `expected`: the oldest went first
    assert f"run {runs - 1}" in Path(newest[-1]).read_text()


def test_size_cap_applies_after_a_big_run(isolated: Path) -> None:
    _configure(isolated, keep_logs=100, keep_logs_mb=1)
    big = "import sys; sys.stdout.write('y' * 1200000)"
    for _ in range(2):
        assert run([*seq_hooks("run", "--quiet", "--", "python3", "-c", big)]).returncode == 0
    logs = list((isolated / STATE / "logs").iterdir())
    assert len(logs) == 1  # each log is over 1 MB: only the newest stays
    assert logs[0].stat().st_size > 1200000


def test_a_live_holders_log_survives_retention(isolated: Path) -> None:
    _configure(isolated, keep_logs=1)
    pidfile, gate, order = isolated / "holder.pid", isolated / "gate", isolated / "order"
    holder = subprocess.Popen(
        seq_hooks("run", "--", *fixture("gate.py", pidfile, gate, order, "holder"))
    )
    try:
        wait_for_file(pidfile)
        logdir = isolated / STATE / "logs"
        wait_until(lambda: len(list(logdir.glob("*.log"))) == 1, what="the holder's log")
        holder_log = next(logdir.glob("*.log"))
        for i in range(3):  # other runs on another lock end while the holder still runs
            assert run(seq_hooks("run", "--lock", "other", "--", "echo", str(i))).returncode == 0
        names = sorted(p.name for p in logdir.glob("*.log"))
        assert holder_log.name in names
        assert len(names) == 2  # the holder's, kept because it is live, and the newest
        gate.touch()
        assert holder.wait(30) == 0
        assert tickets(isolated / STATE / "locks" / "default") == []
    finally:
        reap(holder)


def test_hook_logs_are_pruned_like_run_logs(isolated: Path) -> None:
    """A hook run names its log `<time>-<hook id>-<token>.log`: retention counts and prunes it
    too."""
    _configure(isolated, keep_logs=2)
    (isolated / "a.py").write_text("x = 1\n")
    atomic = str(Path(sys.executable).parent / "atomic")
    for i in range(5):
        assert run([atomic, "--", "echo", f"hook {i}", "--", "a.py"]).returncode == 0
    logdir = isolated / STATE / "logs"
    assert len([n for n in os.listdir(logdir) if "-atomic-" in n]) == 2
    for i in range(4):
        assert run(seq_hooks("run", "--", "echo", str(i))).returncode == 0
    names = sorted(os.listdir(logdir))
    assert len(names) == 2 and not [n for n in names if "-atomic-" in n], names


def test_prune_takes_hook_logs_oldest_first_among_run_logs(logdir: Path) -> None:
    hook = logdir / "20250101-000001-atomic-ruff-0123456789abcdef.log"
    hook.write_text("hook")
    runs = [_log(logdir, i) for i in (0, 2, 3)]
    assert retention.prune(str(logdir), keep=2, keep_mb=0) == [runs[0].name, hook.name]
    assert sorted(logdir.iterdir()) == runs[1:]


def test_prune_spares_a_log_a_live_process_holds(logdir: Path) -> None:
    logs = [_log(logdir, i) for i in range(3)]
    fd = logfile.hold(str(logs[0]))  # as a hook run holds its log between its units
    try:
        assert retention.prune(str(logdir), 1, 0) == [logs[1].name]
    finally:
        os.close(fd)
    assert logfile.in_use(str(logs[0])) is False
    assert retention.prune(str(logdir), 1, 0) == [logs[0].name]


# the hook's first unit (a.py) says it started and waits for GO; its second (b.py) only prints
UNIT = (
    "import os, sys, time\nif sys.argv[-1] == 'a.py':\n    open(sys.argv[1], 'w').write('1')\n"
    "    t = time.monotonic()\n    while not os.path.exists(sys.argv[2]) and time.monotonic() - t "
    "< 60:\n"
    "        time.sleep(0.01)\nprint('unit', sys.argv[-1])\n"
)


def test_a_hook_runs_log_survives_retention_while_it_waits_between_units(
    isolated: Path, one_at_a_time: None
) -> None:
    _configure(isolated, keep_logs=1)
    for name in ("a.py", "b.py"):
        (isolated / name).write_text("x = 1\n")
    started, go, gate = isolated / "u1-started", isolated / "u1-go", isolated / "gate"
    atomic = str(Path(sys.executable).parent / "atomic")
    hook = subprocess.Popen(
        [atomic, "--", sys.executable, "-c", UNIT, str(started), str(go), "--", "a.py", "b.py"],
        stdout=subprocess.PIPE,
        text=True,
    )
    holder = None
    try:
        wait_for_file(started)
        # a holder queues behind unit 1, so unit 2 waits for it: the hook's log is then open in no
        # unit
        holder = subprocess.Popen(
            seq_hooks(
                "run",
                "--",
                *fixture("gate.py", isolated / "h.pid", gate, isolated / "order", "holder"),
            )
        )
        queue = isolated / STATE / "locks" / "default"
        wait_until(lambda: len(tickets(queue)) == 2, what="the holder queued behind unit 1")
        go.touch()
        wait_for_file(isolated / "h.pid")
        wait_until(lambda: len(tickets(queue)) == 2, what="unit 2 queued behind the holder")
        logdir = isolated / STATE / "logs"
        hook_log = next(logdir.glob("*-atomic-*.log"))
        for i in range(3):  # other runs end meanwhile and prune down to keep_logs = 1
            assert run(seq_hooks("run", "--lock", "other", "--", "echo", str(i))).returncode == 0
        assert hook_log.exists()
        gate.touch()
        out, _ = hook.communicate(timeout=60)
        assert hook.returncode == 0, out
    finally:
        gate.touch()
        go.touch()
        for p in (hook, holder):
            if p is not None:
                reap(p)
    text = hook_log.read_text()
    # one log, both units' sections: never removed and remade
    assert "unit a.py" in text and "unit b.py" in text
