"""proctree: one scanner over every process (/proc, psutil elsewhere), one walk up the parents,
trees, ending."""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks import envnames
from seq_hooks.process import proctree
from testing.util import COMPUTE, PY, SLEEP, alive, family, fixture, reap, wait_for_file, wait_until


@pytest.fixture(params=["proc", "psutil"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test runs on both ways of reading processes."""
    if request.param == "psutil":
        monkeypatch.setenv("SEQ_HOOKS_PORTABLE", "1")
    yield str(request.param)


def _child(
    isolated: Path, *args: object, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    pidfile = isolated / f"child-{len(list(isolated.glob('child-*')))}.pid"
    proc = subprocess.Popen(fixture("pidfile.py", pidfile, *args), env=env, text=True, cwd=isolated)
    return proc, int(wait_for_file(pidfile))


def test_info_names_parent_state_memory_and_start(path: str) -> None:
    me = proctree.info(os.getpid())
    assert me is not None
    assert me.ppid == os.getppid() and me.state != "Z" and me.rss > 1 << 20 and me.start > 0
    again = proctree.info(os.getpid())
    # stable: it identifies the process with its pid
    assert again is not None and again.start == me.start
    assert proctree.info(2**22 + 7) is None


def test_ancestors_walk_up_to_init(path: str) -> None:
    up = proctree.ancestors()
    assert up[0] == os.getppid()
    assert up[-1] == 1
    assert proctree.ancestors(limit=1) == [os.getppid()]
    assert proctree.is_ancestor(os.getppid(), os.getpid())
    assert not proctree.is_ancestor(os.getpid(), os.getppid())


def test_descendants_and_the_scanner_find_a_marked_child(isolated: Path, path: str) -> None:
    env = {**os.environ, "SEQ_HOOKS_RUN": "tok-proctree", "OTHER": "x"}
    proc, pid = _child(isolated, 60, env=env)
    try:
        assert pid in proctree.descendants(os.getpid())
        assert proctree.pids_with_token("tok-proctree") == [pid]
        found = {p.pid: p for p in proctree.processes()}
        assert os.getpid() not in found  # never ourselves
        p = found[pid]
        assert p.env("OTHER") == "x" and p.env("MISSING") is None
        argv = p.argv()
        assert argv is not None and argv[1].endswith("pidfile.py") and argv[-1] == "60"
        assert os.path.realpath(p.cwd() or "") == os.path.realpath(isolated)
        assert p.name() is not None
        assert "pidfile.py" in proctree.cmdline(pid)
        assert not any(q.pid == pid for q in proctree.processes(skip={pid}))
    finally:
        reap(proc)
    assert proctree.pids_with_token("tok-proctree") == []
    assert proctree.process(pid).env("OTHER") is None and proctree.cmdline(pid) == ""


def test_descendants_leave_out_a_resident_daemon(isolated: Path, path: str) -> None:
    """atomic-mypy's daemon is nobody's unit: the supervisors' walks (memory, signals) skip it and
    its children."""
    plain_proc, plain = _child(isolated, 60)
    daemon_proc, daemon = _child(isolated, 60, env={**os.environ, envnames.DAEMON: "tok-daemon"})
    try:
        assert proctree.is_daemon(daemon) and not proctree.is_daemon(plain)
        assert {plain, daemon} <= set(proctree.descendants(os.getpid()))
        kept = proctree.descendants(os.getpid(), skip=proctree.is_daemon)
        assert plain in kept and daemon not in kept
    finally:
        reap(plain_proc)
        reap(daemon_proc)


def test_open_files_shows_what_a_process_holds(isolated: Path, path: str) -> None:
    held = isolated / "held.txt"
    held.write_text("x")
    ready = isolated / "ready"
    code = (
        f"f = open({str(held)!r}); open({str(ready)!r}, 'w').write('1'); import time; "
        "time.sleep(60)"
    )
    proc = subprocess.Popen([PY, "-c", code])
    try:
        wait_for_file(ready)
        assert str(held) in proctree.process(proc.pid).open_files()
    finally:
        reap(proc)


def test_pss_is_at_most_rss() -> None:
    pss = proctree.pss(os.getpid())
    info = proctree.info(os.getpid())
    assert pss is not None and info is not None
    assert 0 < pss <= info.rss


def test_end_sends_term_then_kill(isolated: Path, path: str) -> None:
    pidfile = isolated / "stubborn.pid"
    proc = subprocess.Popen(fixture("ignore_term.py", pidfile))
    try:
        pid = int(wait_for_file(pidfile))
        # not our child's child here, but end() only needs it to die: a thread reaps the zombie it
        # becomes
        import threading

        threading.Thread(target=proc.wait, daemon=True).start()
        assert proctree.end([pid], 0.3) == []
        assert not alive(pid)
    finally:
        reap(proc)


def test_send_reaches_a_stopped_process(isolated: Path) -> None:
    proc, pid = _child(isolated, 60)
    try:
        os.kill(pid, signal.SIGSTOP)
        # SIGCONT first: a stopped process would never act on TERM
        proctree.send([pid], signal.SIGTERM)
        assert proc.wait(10) == -signal.SIGTERM
    finally:
        reap(proc)


def test_tree_sums_the_live_descendants_and_counts_their_states(tmp_path: Path) -> None:
    # one to compute, one to sleep, one to stop
    with family(tmp_path, COMPUTE, SLEEP, SLEEP) as (parent, pids):
        os.kill(pids[2], signal.SIGSTOP)
        wait_until(
            lambda: proctree.tree(parent.pid)[1:] == (3, 1, 1),
            what="one running and one stopped child",
        )
        assert proctree.tree(parent.pid).rss > 0
        assert proctree.tree(pids[1]) == proctree.Tree(0, 0, 0, 0)  # no children: nothing to sum
