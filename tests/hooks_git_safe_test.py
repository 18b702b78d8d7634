from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from seq_hooks.hooks import git_safe
from testing.util import PY, fixture, git, git_repo, reap, run, seq_hooks, wait_for_file

SEQ = " ".join(seq_hooks())
GIT_SAFE = [PY, "-m", "seq_hooks.hooks.git_safe"]

_HOLD = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # as git takes a lock file
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
deadline = time.monotonic() + 60
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.01)
"""


@contextmanager
def held_open(lock: Path) -> Iterator[int]:
    """A process that has `lock` open until the block ends; yields its pid (handshake through a pid
    file)."""
    pidfile, gate = (
        lock.parent.parent / f"{lock.name}.{os.getpid()}.pid",
        lock.parent.parent / "gate",
    )
    proc = subprocess.Popen([PY, "-c", _HOLD, str(lock), str(pidfile), str(gate)])
    try:
        yield int(wait_for_file(pidfile))
    finally:
        gate.touch()
        reap(proc)
        gate.unlink()
        pidfile.unlink()


def safe(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = git_safe.main(list(args))
    return code, capsys.readouterr().out


def test_a_quiet_repository_passes(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert safe(capsys) == (0, "")
    assert run(GIT_SAFE).returncode == 0


def test_a_live_index_lock_fails_naming_the_pid(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = isolated / ".git" / "index.lock"
    with held_open(lock) as pid:
        code, out = safe(capsys)
        assert code == 1
        assert f".git/index.lock: held open by pid {pid} ({PY} -c" in out
        assert "another git operation is live in this repository" in out
        # --fix-stale never removes a lock some process uses
        assert safe(capsys, "--fix-stale")[0] == 1
        assert lock.exists()
    lock.unlink()


def test_a_stale_index_lock_is_reported_and_removed_with_fix_stale(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = isolated / ".git" / "index.lock"
    lock.touch()
    code, out = safe(capsys)
    assert code == 1
    assert (
        "stale (no process has it open" in out
        and f"rm -f {lock}" in out
        and "git-safe --fix-stale" in out
    )
    assert lock.exists()
    code, out = safe(capsys, "--fix-stale")
    assert code == 0 and "removed (stale" in out
    assert not lock.exists()
    assert safe(capsys) == (0, "")


def test_a_stale_shared_lock_is_reported_too(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated / ".git" / "packed-refs.lock").touch()
    code, out = safe(capsys)
    assert code == 1 and ".git/packed-refs.lock: stale" in out


@contextmanager
def git_waiting_in_editor(repo: Path, *commit_args: str) -> Iterator[int]:
    """A real `git commit` that stays live (its editor waits); yields the git process's pid."""
    pidfile = repo.parent / f"editor-{repo.name}.pid"
    env = {**os.environ, "GIT_EDITOR": " ".join(fixture("pidfile.py", pidfile, 60))}
    proc = subprocess.Popen(
        ["git", "commit", *commit_args],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    editor = int(wait_for_file(pidfile))
    try:
        yield proc.pid
    finally:
        os.kill(editor, 9)  # the editor we started fails: git aborts the commit
        proc.wait(30)
        pidfile.unlink()


def test_a_running_commit_in_this_worktree_fails_and_one_in_another_repository_does_not(
        isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = git_repo(isolated.parent / "other")
    (other / "x").write_text("x")
    git(other, "add", "x")
    other_lock = other / ".git" / "HEAD.lock"
    with git_waiting_in_editor(other), held_open(other_lock):
        # git processes and held locks of other repositories never count
        assert safe(capsys) == (0, "")
    (isolated / "y").write_text("y")
    git(isolated, "add", "y")
    with git_waiting_in_editor(isolated) as pid:
        code, out = safe(capsys)
        assert code == 1
        assert f"pid {pid} (git commit) is running in this worktree" in out


def test_an_index_lock_kept_by_a_running_commit_a_is_live(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated / "y").write_text("y")
    git(isolated, "add", "y")
    git(isolated, "commit", "-q", "-m", "y")
    (isolated / "y").write_text("changed")
    with git_waiting_in_editor(isolated, "-a") as pid:
        # git keeps it, closed, until the commit ends
        assert (isolated / ".git" / "index.lock").exists()
        code, out = safe(capsys)
        assert code == 1
        assert f".git/index.lock: exists while pid {pid} (git commit -a) is running" in out
        assert safe(capsys, "--fix-stale")[0] == 1
        assert (isolated / ".git" / "index.lock").exists()


@pytest.mark.parametrize("args", [[], ["-a"], ["--", "f.txt"]])
def test_as_a_hook_of_the_commit_itself_it_passes(isolated: Path, args: list[str]) -> None:
    """During `git commit -a` (or with paths) git holds index.lock while its hooks run: that is
    ours."""
    hook = isolated / ".git" / "hooks" / "pre-commit"
    hook.write_text(
        f"#!/bin/sh\n{' '.join(GIT_SAFE)} || exit 1\nls .git >> {isolated.parent / 'seen'}\n"
    )
    hook.chmod(0o755)
    (isolated / "f.txt").write_text("1")
    git(isolated, "add", "f.txt")
    git(isolated, "commit", "-q", "-m", "first")
    (isolated / "f.txt").write_text("2")
    if not args:
        git(isolated, "add", "f.txt")
    c = run(["git", "commit", "-m", "second", *args])
    assert c.returncode == 0, c.stdout + c.stderr
    if args:
        # the case is real: the lock was there
        assert "index.lock" in (isolated.parent / "seen").read_text()
        # git sends hooks' stdout there
        assert "belongs to the git command that runs this hook" in c.stderr


def test_real_pre_commit_runs_git_safe_and_seq_hooks_git_add_inside_a_commit(
    isolated: Path,
) -> None:
    """git-safe and a hook that calls `seq-hooks git -- add`, under real pre-commit and the
    installed hook, inside `seq-hooks git -- commit -a`: everything completes."""
    (isolated / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n"
        f"  - id: git-safe\n    name: git-safe\n    entry: {' '.join(GIT_SAFE)}\n    language: "
        "system\n"
        "    pass_filenames: false\n    always_run: true\n"
        f"  - id: add-stamp\n    name: add-stamp\n    entry: sh -c 'date > stamp.txt && {SEQ} git "
        "-- add stamp.txt'\n"
        "    language: system\n    pass_filenames: false\n    always_run: true\n"
    )
    (isolated / "f.txt").write_text("1")
    git(isolated, "add", ".pre-commit-config.yaml", "f.txt")
    git(isolated, "commit", "-q", "--no-verify", "-m", "first")
    assert run([PY, "-m", "pre_commit", "install"]).returncode == 0
    assert run(seq_hooks("install-git-hook")).returncode == 0
    (isolated / "f.txt").write_text("2")
    c = run(seq_hooks("git", "--", "commit", "-a", "-m", "second"), timeout=120)
    assert c.returncode == 0, c.stdout + c.stderr
    assert "git-safe....." in c.stderr and "Passed" in c.stderr
    assert git(isolated, "show", "--name-only", "--format=", "HEAD").stdout.split() == [
        "f.txt",
        "stamp.txt",
    ]


def test_a_merge_in_progress_is_a_note_unless_strict(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated / "f").write_text("base\n")
    git(isolated, "add", "f")
    git(isolated, "commit", "-q", "-m", "base")
    git(isolated, "checkout", "-q", "-b", "side")
    (isolated / "f").write_text("side\n")
    git(isolated, "commit", "-q", "-am", "side")
    git(isolated, "checkout", "-q", "main")
    (isolated / "f").write_text("main\n")
    git(isolated, "commit", "-q", "-am", "main")
    # a conflict: the merge waits for us
    assert git(isolated, "merge", "side", check=False).returncode != 0
    code, out = safe(capsys)
    assert code == 0 and ".git/MERGE_HEAD: a merge is in progress" in out
    code, out = safe(capsys, "--strict")
    assert code == 1 and "finish or abort it first" in out


def test_another_worktrees_index_lock_is_only_a_note(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(isolated, "commit", "-q", "--allow-empty", "-m", "root")
    wt = isolated.parent / "wt"
    git(isolated, "worktree", "add", "-q", "-b", "side", str(wt))
    wt_lock = isolated / ".git" / "worktrees" / "wt" / "index.lock"
    with held_open(wt_lock) as pid:
        code, out = safe(capsys)
        assert code == 0
        assert f"held open by pid {pid}" in out and "another worktree of this repository" in out
        inside = run(GIT_SAFE, cwd=wt)
        assert inside.returncode == 1 and f"held open by pid {pid}" in inside.stdout
        assert "live in this repository" in inside.stdout


def test_portable_fallback_finds_the_holder_with_psutil(isolated: Path) -> None:
    env = {**os.environ, "SEQ_HOOKS_PORTABLE": "1"}
    with held_open(isolated / ".git" / "index.lock") as pid:
        p = run(GIT_SAFE, env=env)
        assert p.returncode == 1 and f"held open by pid {pid}" in p.stdout
    (isolated / ".git" / "index.lock").unlink()
    assert run(GIT_SAFE, env=env).returncode == 0


def test_outside_git_it_says_so(isolated: Path) -> None:
    outside = isolated.parent / "plain"
    outside.mkdir()
    p = run(
        GIT_SAFE, cwd=outside, env={**os.environ, "GIT_CEILING_DIRECTORIES": str(isolated.parent)}
    )
    assert p.returncode == 1
    assert p.stderr.startswith("git-safe: not in a git repository") and "Traceback" not in p.stderr


def test_another_users_lock_file_is_never_removed(
    isolated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = isolated / ".git" / "index.lock"
    lock.touch()
    owner = lock.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1000)  # as if we were another, non-root user
    code, out = safe(capsys, "--fix-stale")
    assert code == 1 and f"belongs to uid {owner}, whose processes git-safe cannot see" in out
    assert lock.exists()


def _journal(repo: Path) -> list[tuple[str | None, list[str]]]:
    from seq_hooks import journal

    return [(r.lock, r.argv) for r in journal.read(str(repo / ".git" / "seq-hooks"))]


def test_a_git_command_runs_under_the_git_lock(isolated: Path, tmp_path: Path) -> None:
    """The guides' `git-safe.sh add .` ran git: `git-safe add .`, `git-safe -- commit -m x` and
    `git-safe push origin main` run git under the project's git lock (they exited 0 and ran
    nothing)."""
    script = str(Path(PY).parent / "git-safe")
    (isolated / "new.txt").write_text("x\n")
    p = run([script, "add", "."])
    assert p.returncode == 0, p.stderr
    assert git(isolated, "diff", "--cached", "--name-only").stdout == "new.txt\n"
    p = run([script, "--", "commit", "-q", "-m", "from git-safe"])
    assert p.returncode == 0, p.stderr
    assert git(isolated, "log", "-1", "--format=%s").stdout == "from git-safe\n"
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(isolated, "remote", "add", "origin", str(remote))
    p = run([script, "push", "-q", "origin", "main"])
    assert p.returncode == 0, p.stderr
    assert git(remote, "log", "-1", "--format=%s", "main").stdout == "from git-safe\n"
    assert _journal(isolated) == [
        ("git", ["git", "add", "."]),
        ("git", ["git", "commit", "-q", "-m", "from git-safe"]),
        ("git", ["git", "push", "-q", "origin", "main"]),
    ]
    bad = run([script, "no-such-subcommand"])  # git's own status and message
    assert bad.returncode == 1 and "'no-such-subcommand' is not a git command" in bad.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--"], "no git arguments after --"),
    (["--strict", "add", "."], "--fix-stale and --strict are for the check alone"),
    (["--bogus", "add"], "unknown option --bogus"),
])
def test_git_command_usage_errors_exit_2(isolated: Path, args: list[str], needle: str) -> None:
    p = run([*GIT_SAFE, *args])
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr


def test_under_pre_commit_words_are_file_names_not_a_git_command(isolated: Path) -> None:
    (isolated / "add").write_text("x\n")
    p = run([*GIT_SAFE, "add", "."], env={**os.environ, "PRE_COMMIT": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert git(isolated, "diff", "--cached", "--name-only").stdout == ""  # checked, nothing run
    assert _journal(isolated) == []
