from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from seq_hooks import envnames, journal
from seq_hooks.errors import UsageError
from seq_hooks.lock import markers, tickets
from seq_hooks.lock.markers import Marker
from testing.queue import queue, start_holder
from testing.util import PY, assert_no_overlap, fixture, reap, run, seq_hooks, wait_until
from testing.util import tickets as ticket_files


def test_lock_names() -> None:
    for good in ("default", "git", "a", "A_b-c.d", "9" * 64):
        assert markers.check_name(good) == good
    for bad in ("", "nested", "../x", ".hidden", "-x", "a/b", "a b", "é", "x" * 65):
        with pytest.raises(UsageError, match="invalid lock name"):
            markers.check_name(bad)


def test_parse_keeps_well_formed_markers_only() -> None:
    value = "default:12:abc, git/nested/abc:13:def,bad,:1:x,default:x:y,default:\u0661:z"
    assert markers.parse(value) == [
        Marker("default", 12, "abc"),
        Marker("git/nested/abc", 13, "def"),
    ]
    assert (
        markers.value([Marker("default", 12, "abc"), Marker("git", 3, "d")])
        == "default:12:abc,git:3:d"
    )


def test_resolve_joins_the_innermost_holder_of_the_same_lock() -> None:
    outer, inner = Marker("default", 1, "o"), Marker("default/nested/o", 2, "i")
    assert markers.resolve("default", []) == ("default", None)
    assert markers.resolve("default", [outer, inner]) == ("default/nested/o/nested/i", inner)
    assert markers.resolve("git", [outer]) == ("git", None)


def test_verified_keeps_only_a_live_ancestor_that_holds_the_lock_now(isolated: Path) -> None:
    state = str(isolated / ".git" / "seq-hooks")
    qdir = tickets.queue_dir(state, "default")
    os.makedirs(qdir, mode=0o700)
    _n, fd, _s = tickets.make(qdir, "tok", ["x"], "/", [])
    me = os.getpid()
    try:
        env = {envnames.HOLDER: f"default:{me}:tok"}
        assert markers.verified(state, env) == []  # queued, not granted yet
        tickets.mark_granted(fd)
        assert markers.verified(state, env) == [Marker("default", me, "tok")]
        assert markers.verified(state, {envnames.HOLDER: f"default:{me}:other"}) == []
        assert markers.verified(state, {envnames.HOLDER: f"../default:{me}:tok"}) == []
        # a true marker given to a process that is not the holder's descendant
        code = ("import sys; from seq_hooks.lock import markers; "
                "sys.exit(len(markers.verified(sys.argv[1], {'SEQ_HOOKS_HOLDER': sys.argv[2]})))")
        child = subprocess.run(
            [PY, "-c", code, state, f"default:{me}:tok"], check=False, timeout=30
        )
        assert child.returncode == 1  # our child: we are its ancestor
        sibling = subprocess.run(
            ["sh", "-c", f'{PY} -c "$0" "$1" "$2"; exit $?', code, state, f"default:{me}:tok"],
            check=False,
            timeout=30,
        )
        assert sibling.returncode == 1  # a grandchild too
    finally:
        os.close(fd)
    assert markers.verified(state, {envnames.HOLDER: f"default:{me}:tok"}) == []  # released


def test_nested_run_does_not_wait_for_its_ancestor(isolated: Path) -> None:
    p = run(seq_hooks("run", "--", *seq_hooks("run", "--", "echo", "hi")), timeout=30)
    assert p.returncode == 0
    assert p.stdout == "hi\n"


def test_parallel_nested_siblings_still_go_one_at_a_time(isolated: Path) -> None:
    stamps = isolated / "stamps"
    inner = " ".join(seq_hooks("run", "--", *fixture("stamp.py", stamps, "$i", 0.05)))
    script = f"for i in 1 2 3; do {inner} & done; wait"
    p = run(seq_hooks("run", "--", "sh", "-c", script), timeout=60)
    assert p.returncode == 0, p.stderr
    assert_no_overlap(stamps, 3)
    nested = [
        str(r.lock) for r in journal.read(str(isolated / ".git" / "seq-hooks")) if r.argv[0] != "sh"
    ]
    assert len(nested) == 3 and all(n.startswith("default/nested/") for n in nested)


def test_forged_marker_does_not_jump_the_queue(isolated: Path, one_at_a_time: None) -> None:
    holder, gate = start_holder(isolated)
    try:
        wait_until(lambda: len(ticket_files(queue(isolated))) == 1, what="holder queued")
        info = tickets.read_queue(str(queue(isolated)))[0]
        # a true marker, but we are not the holder's descendant
        marker = f"default:{info.pid}:{info.token}"
        env = {**os.environ, "SEQ_HOOKS_HOLDER": marker}
        p = run(seq_hooks("run", "--max-wait", "0.5", "--", "true"), env=env)
        assert p.returncode == 75
        assert "gave up after waiting 0.5s" in p.stderr
        assert f"pid {info.pid}" in p.stderr
    finally:
        gate.touch()
        reap(holder)
