from __future__ import annotations

import itertools
import os
import subprocess
import time
from pathlib import Path

import pytest

from seq_hooks import journal
from testing.util import PY, fixture, git, git_repo, reap, run, seq_hooks, wait_for_file, wait_until

SEQ = " ".join(seq_hooks())  # the seq-hooks command line, for shell scripts


def state(repo: Path) -> str:
    return str(repo / ".git" / "seq-hooks")


def start(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def hold_git_lock(repo: Path) -> tuple[subprocess.Popen[str], Path]:
    """Another process holds the project's git lock until the test touches the gate."""
    gate, pidfile = repo.parent / "gate", repo.parent / "holder.pid"
    gate_cmd = fixture("gate.py", pidfile, gate, repo.parent / "order", "h")
    proc = start(seq_hooks("run", "--lock", "git", "--", *gate_cmd), cwd=repo)
    wait_for_file(pidfile)
    return proc, gate


def subjects(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").stdout.split("\n")[:-1]


def test_exit_status_and_output_are_gits(isolated: Path) -> None:
    p = run(seq_hooks("git", "--", "rev-parse", "--is-inside-work-tree"))
    assert (p.returncode, p.stdout, p.stderr) == (0, "true\n", "")
    bad = run(seq_hooks("git", "--", "no-such-subcommand"))
    assert bad.returncode == 1
    assert bad.stdout == "" and "'no-such-subcommand' is not a git command" in bad.stderr
    # no options: `--` may be left out
    assert run(seq_hooks("git", "status", "--short")).returncode == 0
    records = journal.read(state(isolated))
    assert [(r.lock, r.argv[:2], r.exit) for r in records] == [
        ("git", ["git", "rev-parse"], 0),
        ("git", ["git", "no-such-subcommand"], 1),
        ("git", ["git", "status"], 0),
    ]


def test_usage_errors(isolated: Path) -> None:
    p = run(seq_hooks("git", "--max-wait", "1", "status"))
    assert p.returncode == 2 and "put git's arguments after --" in p.stderr
    assert run(seq_hooks("git", "--")).returncode == 2


def test_waits_for_the_git_lock_with_notes_off_stdout(isolated: Path) -> None:
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    holder, gate = hold_git_lock(isolated)
    try:
        waiter = start(seq_hooks("git", "--", "rev-parse", "--abbrev-ref", "HEAD"))
        assert waiter.stderr is not None
        note = waiter.stderr.readline()
        # the holder by its pid: its command line is cut to a width, so a long checkout path hides
        # `gate.py`
        assert "waiting for lock 'git'" in note and f"held by pid {holder.pid} (" in note
        assert waiter.poll() is None
        gate.touch()
        out, _ = waiter.communicate(timeout=30)
        assert waiter.returncode == 0
        assert out == "main\n"
        # lock free again
        assert run(seq_hooks("git", "--max-wait", "0.2", "--", "status")).returncode == 0
    finally:
        gate.touch()
        reap(holder)


def test_max_wait_gives_up_with_75(isolated: Path) -> None:
    holder, gate = hold_git_lock(isolated)
    try:
        p = run(seq_hooks("git", "--max-wait", "0.3", "--", "status"))
        assert p.returncode == 75 and "gave up after waiting 0.3s for lock 'git'" in p.stderr
    finally:
        gate.touch()
        reap(holder)


def _add_commit_script(repo: Path, i: int, go: Path, git_cmd: str) -> str:
    """One worker: wait for the start signal, write its file, add it, commit it (only it)."""
    return (f"while [ ! -e {go} ]; do sleep 0.002; done; echo {i} > f{i}.txt && "
            f"{git_cmd} add f{i}.txt && {git_cmd} commit -q -m c{i} -- f{i}.txt")


def _slow_commit_hook(repo: Path) -> None:
    # each commit holds index.lock for a while (git keeps it during the hooks of a `commit --
    # paths`)
    write_exe(repo / ".git" / "hooks" / "pre-commit", "#!/bin/sh\nsleep 0.3\n")


def _six(repo: Path, git_cmd: str) -> list[subprocess.CompletedProcess[str]]:
    go = repo.parent / f"go-{len(git_cmd)}"
    procs = [
        start(["sh", "-c", _add_commit_script(repo, i, go, git_cmd)], cwd=repo) for i in range(6)
    ]
    try:
        go.touch()
        for p in procs:
            p.wait(120)
    finally:
        for p in procs:
            reap(p)
    return [subprocess.CompletedProcess(p.args, p.returncode, p.stdout.read() if p.stdout else "",
                                        p.stderr.read() if p.stderr else "") for p in procs]


def test_six_concurrent_add_commit_sequences_all_succeed(isolated: Path) -> None:
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    _slow_commit_hook(isolated)
    done = _six(isolated, f"{SEQ} git --")
    assert [d.returncode for d in done] == [0] * 6, [d.stderr for d in done]
    assert sorted(subjects(isolated)) == sorted([*(f"c{i}" for i in range(6)), "root"])
    assert git(isolated, "status", "--porcelain").stdout == ""
    records = [r for r in journal.read(state(isolated)) if r.lock == "git"]
    assert len(records) == 12
    # one git command at a time: each starts after the previous one's run (rounded to 0.1 ms) ended
    spans = sorted((r.started, r.started + r.duration_s) for r in records)
    assert all(a[1] <= b[0] + 0.001 for a, b in itertools.pairwise(spans))


def test_six_plain_concurrent_sequences_trip_over_index_lock(isolated: Path) -> None:
    """What seq-hooks git prevents: the same six sequences with plain git (see
    benchmarks/bench_git.py)."""
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    _slow_commit_hook(isolated)
    done = _six(isolated, "git")
    failed = [d for d in done if d.returncode != 0]
    assert failed, (
        "six plain concurrent add+commit sequences all succeeded (the hook holds index.lock 0.3 s)"
    )
    assert all("index.lock" in d.stderr for d in failed)
    assert len(subjects(isolated)) - 1 == 6 - len(failed)


def test_inside_a_git_hook_git_runs_at_once(isolated: Path) -> None:
    """A hook that calls `seq-hooks git -- add` inside a plain `git commit` must not wait for the
    git lock, held here by an unrelated process: git itself waits for the hook."""
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    write_exe(
        isolated / ".git" / "hooks" / "pre-commit",
        f"#!/bin/sh\necho extra > extra.txt\n{SEQ} git --max-wait 5 -- add extra.txt\n"
        # a hook manager that cleans GIT_* from the environment: the git ancestor is found
        # instead
        f"echo more > more.txt\nenv -u GIT_INDEX_FILE -u GIT_DIR {SEQ} git --max-wait 5 -- add "
        "more.txt\n",
    )
    holder, gate = hold_git_lock(isolated)
    try:
        (isolated / "a.txt").write_text("a\n")
        git(isolated, "add", "a.txt")
        t = time.monotonic()
        c = run(["git", "commit", "-q", "-m", "with extra"])
        assert c.returncode == 0, c.stderr
        assert time.monotonic() - t < 4
    finally:
        gate.touch()
        reap(holder)
    assert git(isolated, "show", "--name-only", "--format=", "HEAD").stdout.split() == [
        "a.txt",
        "extra.txt",
        "more.txt",
    ]
    inner = [r for r in journal.read(state(isolated)) if r.argv[:2] == ["git", "add"]]
    assert [r.lock for r in inner] == [None, None]


def test_hook_inside_seq_hooks_git_commit_with_the_installed_hook(isolated: Path) -> None:
    """`seq-hooks git -- commit` holds the git lock; the installed hook runs the chain under the
    default lock; the chain calls `seq-hooks git -- add`: nothing waits for its own ancestor."""
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    write_exe(isolated / ".git" / "hooks" / "pre-commit",
              f"#!/bin/sh\necho extra > extra.txt\n{SEQ} git --max-wait 5 -- add extra.txt\n"
              f'echo "$SEQ_HOOKS_HOLDER" > {isolated.parent / "holder"}\n')
    assert run(seq_hooks("install-git-hook")).returncode == 0
    (isolated / "a.txt").write_text("a\n")
    git(isolated, "add", "a.txt")
    c = run(seq_hooks("git", "--", "commit", "-q", "-m", "through seq-hooks"), timeout=60)
    assert c.returncode == 0, c.stderr
    assert "extra.txt" in git(isolated, "show", "--name-only", "--format=", "HEAD").stdout
    markers = (isolated.parent / "holder").read_text().strip().split(",")
    assert [m.split(":")[0] for m in markers] == ["git", "default"]
    by_argv = {
        r.argv[1] if r.argv[0] == "git" else "hook": r.lock for r in journal.read(state(isolated))
    }
    assert by_argv == {"commit": "git", "hook": "default", "add": None}


def test_under_a_held_git_lock_git_runs_without_waiting(isolated: Path) -> None:
    p = run(
        seq_hooks("run", "--lock", "git", "--", *seq_hooks("git", "--", "status", "--short")),
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    inner = [r for r in journal.read(state(isolated)) if r.argv[0] == "git"]
    assert [r.lock for r in inner] == [None]


def test_forged_git_marker_does_not_bypass_the_lock(isolated: Path) -> None:
    holder, gate = hold_git_lock(isolated)
    try:
        ticket = next((isolated / ".git/seq-hooks/locks/git").glob("*.ticket"))
        import json

        head = json.loads(ticket.read_text().splitlines()[0])
        env = {**os.environ, "SEQ_HOOKS_HOLDER": f"git:{head['pid']}:{head['token']}"}
        p = run(seq_hooks("git", "--max-wait", "0.3", "--", "status"), env=env)
        assert p.returncode == 75
    finally:
        gate.touch()
        reap(holder)


def test_cross_case_ends_within_seconds_and_loses_no_commit(isolated: Path) -> None:
    """A: `seq-hooks git -- commit` holds `git`; its installed hook waits for `default`.
    B: `seq-hooks run` holds `default`; its command calls `seq-hooks git -- commit` and waits for
    `git`. The wait-for cycle is detected from the queue files: one side fails fast with 75, the
    other commits."""
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    b_holds = isolated.parent / "b-holds-default"
    write_exe(isolated / ".git" / "hooks" / "pre-commit", "#!/bin/sh\nexit 0\n")
    assert run(seq_hooks("install-git-hook")).returncode == 0
    for name in ("a.txt", "b.txt"):
        (isolated / name).write_text(name)
    git(isolated, "add", "a.txt", "b.txt")
    default_q = isolated / ".git/seq-hooks/locks/default"
    # B takes `default`, waits until A's hook queues behind it, then asks for `git`
    b_script = (
        f"touch {b_holds}; n=0; while [ $(ls {default_q} | grep -c ticket) -lt 2 ] && [ $n -lt "
        "2000 ]; "
        f"do sleep 0.01; n=$((n+1)); done; {SEQ} git -- commit -q -m B -- b.txt"
    )
    b = start(seq_hooks("run", "--", "sh", "-c", b_script))
    a = None
    try:
        wait_until(b_holds.exists, what="B holds default")
        t = time.monotonic()
        a = start(seq_hooks("git", "--", "commit", "-q", "-m", "A", "--", "a.txt"))
        codes = {"A": a.wait(30), "B": b.wait(30)}
        elapsed = time.monotonic() - t
    finally:
        for p in (a, b):
            if p is not None:
                reap(p)
    errors = (a.stderr.read() if a.stderr else "") + (b.stderr.read() if b.stderr else "")
    assert elapsed < 10, codes
    assert "lock cycle" in errors
    assert sorted(codes.values()) != [0, 0]
    assert list(codes.values()).count(0) == 1, (codes, errors)  # exactly one side gave up
    winner = next(k for k, v in codes.items() if v == 0)
    assert subjects(isolated)[0] == winner
    loser = "B" if winner == "A" else "A"
    retry = run(
        seq_hooks("git", "--", "commit", "-q", "-m", loser, "--", f"{loser.lower()}.txt"),
        timeout=60,
    )
    assert retry.returncode == 0, retry.stderr
    assert sorted(subjects(isolated)) == ["A", "B", "root"]


_SIDE = """
import os, sys, time
from seq_hooks.lock import queue
from seq_hooks.errors import FatalError
state, mine, other, go, out = sys.argv[1:6]
held = queue.acquire(state, mine, token="first-" + mine, argv=[mine], cwd="/", holds=[])
open(go + "." + mine, "w").close()
deadline = time.monotonic() + 20
while not os.path.exists(go) and time.monotonic() < deadline:
    pass  # spin: both sides close the cycle within microseconds of each other
try:
    queue.acquire(state, other, token="then-" + mine, argv=[mine, "inner"], cwd="/",
                  holds=[held.token], max_wait=10).release()
    code = 0
except FatalError as e:
    code = e.code
held.release()
with open(out + "." + mine, "w") as f:
    f.write(str(code))
"""


def test_a_cycle_closed_by_both_sides_at_once_fails_exactly_one(isolated: Path) -> None:
    """Both waiters see the cycle at the same moment: only the one that joined last gives up (before
    the tie-break in cycles.Watch, both failed in 82 of 100 such rounds)."""
    outcomes = []
    for i in range(8):
        d = isolated.parent / f"round{i}"
        d.mkdir()
        go, out = d / "go", d / "out"
        procs = [
            start([PY, "-c", _SIDE, str(d / "state"), a, b, str(go), str(out)])
            for a, b in (("p", "q"), ("q", "p"))
        ]
        try:
            wait_until(
                lambda g=go: Path(f"{g}.p").exists() and Path(f"{g}.q").exists(),
                what="both hold a lock",
            )
            go.touch()
            assert [p.wait(30) for p in procs] == [0, 0]
        finally:
            for p in procs:
                reap(p)
        outcomes.append(sorted(int(Path(f"{out}.{s}").read_text()) for s in "pq"))
    assert outcomes == [[0, 75]] * 8


def test_six_sequences_with_git_dir_exported_all_land(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_DIR exported by the user (not a hook: no git process above us) still takes the lock. It
    used to run everything at once: 1 of 6 commits landed (issue 10, item 14)."""
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    _slow_commit_hook(isolated)
    monkeypatch.setenv("GIT_DIR", str(isolated / ".git"))
    done = _six(isolated, f"{SEQ} git --")
    assert [d.returncode for d in done] == [0] * 6, [d.stderr for d in done]
    assert sorted(subjects(isolated)) == sorted([*(f"c{i}" for i in range(6)), "root"])
    assert {r.lock for r in journal.read(state(isolated))} == {"git"}


def test_a_temporary_index_outside_a_hook_takes_the_lock(isolated: Path) -> None:
    holder, gate = hold_git_lock(isolated)
    try:
        env = {**os.environ, "GIT_INDEX_FILE": str(isolated.parent / "tmp-index")}
        p = run(seq_hooks("git", "--max-wait", "0.3", "--", "status"), env=env)
        assert p.returncode == 75, p.stderr
    finally:
        gate.touch()
        reap(holder)


def test_dash_c_and_dash_big_c_take_the_lock_of_the_named_repository(isolated: Path) -> None:
    other = git_repo(isolated.parent / "other")
    git(other, "commit", "-q", "--allow-empty", "-m", "other root")
    holder, gate = hold_git_lock(other)  # the other repository's git lock is held
    try:
        p = run(
            seq_hooks(
                "git",
                "--max-wait",
                "0.3",
                "--",
                "-c",
                "core.quotepath=off",
                "-C",
                str(other),
                "log",
            )
        )
        assert p.returncode == 75, p.stderr  # it waited for the other repository's lock, not ours
    finally:
        gate.touch()
        reap(holder)
    p = run(
        seq_hooks("git", "--", "-c", "core.quotepath=off", "-C", str(other), "log", "--format=%s")
    )
    assert (p.returncode, p.stdout) == (0, "other root\n")
    assert [r.lock for r in journal.read(str(other / ".git" / "seq-hooks"))][-1] == "git"
    assert journal.read(state(isolated)) == []
