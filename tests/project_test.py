from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from seq_hooks import project
from seq_hooks.errors import FatalError
from testing.util import fixture, git, reap, run, seq_hooks, wait_for_file


def test_finds_the_repository_from_a_subdirectory(isolated: Path) -> None:
    sub = isolated / "a" / "b"
    sub.mkdir(parents=True)
    p = project.find(str(sub))
    assert p.root == str(isolated) and p.common_dir == str(isolated / ".git")


def test_a_linked_worktree_shares_the_common_dir(isolated: Path) -> None:
    (isolated / "f").write_text("x")
    git(isolated, "add", "f")
    git(isolated, "commit", "-qm", "init")
    wt = isolated.parent / "wt"
    git(isolated, "worktree", "add", "-q", str(wt))
    p = project.find(str(wt))
    assert p.root == str(wt) and p.common_dir == str(isolated / ".git")
    assert p.git_dir is not None and p.git_dir != p.common_dir
    expected = git(wt, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
    assert p.common_dir == os.path.realpath(expected)


def test_outside_git_state_is_in_xdg_keyed_by_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    p = project.find(str(plain))
    assert p.common_dir is None
    state = project.state_dir(p)
    assert state.startswith(str(tmp_path / "xdg" / "seq-hooks" / "dirs" / "plain-"))
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert project.state_dir(project.find(str(tmp_path))) != state


def test_seq_hooks_home_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQ_HOOKS_HOME", str(tmp_path / "mine"))
    assert project.state_dir(project.find()) == str(tmp_path / "mine")


def test_an_existing_state_dir_is_checked_never_changed(isolated: Path) -> None:
    """Issue 10 item 7: only directories seq-hooks makes get mode 0700; an existing one keeps its
    mode."""
    state = isolated / ".git" / "seq-hooks"
    state.mkdir()
    state.chmod(0o755)
    project.state_dir(project.find())
    assert stat.S_IMODE(state.stat().st_mode) == 0o755
    (isolated / "file").write_text("")
    with pytest.raises(FatalError, match="not a directory"):
        project.ensure_private_dir(str(isolated / "file"))
    made = project.ensure_private_dir(str(isolated / "new" / "deeper" / "state"))
    for d in (isolated / "new", isolated / "new" / "deeper", Path(made)):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o1777, 0o755, 0o700])
def test_seq_hooks_home_that_exists_keeps_its_mode(isolated: Path, mode: int) -> None:
    home = isolated.parent / "home-dir"
    home.mkdir()
    home.chmod(mode)
    env = {**os.environ, "SEQ_HOOKS_HOME": str(home)}
    assert run(seq_hooks("status"), env=env).returncode == 0
    assert run(seq_hooks("run", "--", "true"), env=env).returncode == 0
    assert stat.S_IMODE(home.stat().st_mode) == mode  # a 1777 directory keeps its sticky bit
    assert stat.S_IMODE((home / "locks").stat().st_mode) == 0o700  # what we made is private


def test_a_directory_others_may_write_to_is_refused_not_changed(isolated: Path) -> None:
    home = isolated.parent / "open"
    home.mkdir()
    home.chmod(0o777)
    p = run(seq_hooks("status"), env={**os.environ, "SEQ_HOOKS_HOME": str(home)})
    assert p.returncode == 125 and "other users may write to it (mode 0777)" in p.stderr
    assert "Traceback" not in p.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o777


def test_an_existing_log_dir_keeps_its_mode(isolated: Path) -> None:
    """`log_dir = "../.."` from the repository's own pyproject names an existing directory: it is
    used as it is."""
    outer = isolated.parent
    outer.chmod(0o755)
    before = stat.S_IMODE(outer.stat().st_mode)
    (isolated / "pyproject.toml").write_text('[tool.seq-hooks]\nlog_dir = ".."\n')
    p = run(seq_hooks("run", "--", "true"))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(outer.stat().st_mode) == before
    assert list(outer.glob("*.log"))


def test_seq_hooks_home_with_a_trailing_slash_is_still_refused_as_a_symlink(isolated: Path) -> None:
    """Issue 10 item 18: `link/` resolves the link; the symlink refusal must see through the
    slash."""
    target = isolated.parent / "target"
    target.mkdir(mode=0o700)
    link = isolated.parent / "link"
    link.symlink_to(target)
    for value in (str(link), f"{link}/", f"{link}//"):
        p = run(seq_hooks("status"), env={**os.environ, "SEQ_HOOKS_HOME": value})
        assert p.returncode == 125 and "it is a symlink" in p.stderr, (value, p.stderr)
    assert list(target.iterdir()) == []


def test_open_private_does_not_follow_a_planted_symlink(isolated: Path) -> None:
    target = isolated / "target"
    target.write_text("keep")
    link = isolated / "journal.jsonl"
    link.symlink_to(target)
    with pytest.raises(FatalError, match="cannot open"):
        project.open_private(str(link))
    assert target.read_text() == "keep"


@pytest.fixture
def other_user() -> Iterator[tuple[str, int]]:
    """A second user (and its own group) made with useradd for the test, removed after it."""
    if os.geteuid() != 0 or not (shutil.which("useradd") and shutil.which("runuser")):
        pytest.skip("needs root with useradd and runuser to make a second user")
    name = f"seqh{os.urandom(3).hex()}"
    subprocess.run(["groupadd", name], check=True, capture_output=True, timeout=30)
    try:
        subprocess.run(
            ["useradd", "-M", "-N", "-g", name, "-s", "/bin/sh", name],
            check=True,
            capture_output=True,
            timeout=30,
        )
        try:
            yield name, grp.getgrnam(name).gr_gid
        finally:
            subprocess.run(["userdel", name], check=False, capture_output=True, timeout=30)
    finally:
        subprocess.run(["groupdel", name], check=False, capture_output=True, timeout=30)


def test_a_group_shared_repository_keeps_our_state_out_of_other_members_reach(
        isolated: Path, other_user: tuple[str, int]) -> None:
    """Issue 10 item 11: in a group-shared repository another member may write to `.git`: they could
    move our state dir (and the next call would overlap the running unit) or make `.git/seq-hooks`
    first (and keep us out). So our state there is our own, keyed by the repository, under our XDG
    state dir."""
    name, gid = other_user
    base = Path(tempfile.mkdtemp(prefix="seq-hooks-shared-"))
    try:
        base.chmod(0o755)  # the other member can reach the repository
        repo = base / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "--shared=group", "-b", "main")
        for d in [repo, *repo.rglob("*")]:
            os.chown(d, -1, gid)
        os.chmod(repo / ".git", 0o2775)
        # one unit at a time: the second run must queue behind the holder on our own state
        env = {**os.environ, "XDG_STATE_HOME": str(base / "state"), "SEQ_HOOKS_SLOTS": "1"}
        # the other member gets there first
        made = subprocess.run(
            ["runuser", "-u", name, "--", "mkdir", str(repo / ".git" / "seq-hooks")],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert made.returncode == 0, made.stderr
        pidfile, gate = base / "h.pid", base / "gate"
        holder = subprocess.Popen(
            seq_hooks("run", "--", *fixture("gate.py", pidfile, gate, base / "order", "h")),
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_file(pidfile)
            queues = list((base / "state" / "seq-hooks" / "repos").glob("repo-*/locks/default"))
            assert len(queues) == 1 and len(list(queues[0].glob("*.ticket"))) == 1
            # theirs, untouched and unused
            assert list((repo / ".git" / "seq-hooks").iterdir()) == []
            # whatever they do in .git, our next unit still waits for the running one
            subprocess.run(
                [
                    "runuser",
                    "-u",
                    name,
                    "--",
                    "mv",
                    str(repo / ".git" / "seq-hooks"),
                    str(repo / ".git" / "moved"),
                ],
                check=False,
                capture_output=True,
                timeout=30,
            )
            p = run(seq_hooks("run", "--max-wait", "0.5", "--", "true"), cwd=repo, env=env)
            assert p.returncode == 75, p.stderr
            gate.touch()
            assert holder.wait(30) == 0
        finally:
            gate.touch()
            reap(holder)
    finally:
        shutil.rmtree(base)


def test_shared_is_judged_from_who_may_write_the_common_dir(isolated: Path) -> None:
    common = isolated / ".git"
    assert not project.shared(str(common))
    common.chmod(0o777)
    try:
        assert project.shared(str(common))
        common.chmod(0o1777)
        assert not project.shared(str(common))  # sticky: nobody else can move what is ours
    finally:
        common.chmod(0o755)


def test_a_bare_repository_is_its_own_git_dir(tmp_path: Path) -> None:
    bare = tmp_path / "r.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    for where in (bare, bare / "refs"):
        p = project.find(str(where))
        assert (p.root, p.common_dir, p.git_dir) == (str(bare), str(bare), str(bare))
    # the directory holding it is no repository
    assert project.find(str(tmp_path)).common_dir is None


def test_the_search_stops_below_a_ceiling_directory_as_git_does(isolated: Path) -> None:
    sub = isolated / "a" / "b"
    sub.mkdir(parents=True)

    def git_finds(ceilings: str) -> bool:
        return (
            subprocess.run(
                ["git", "rev-parse", "--git-dir"],
                cwd=sub,
                capture_output=True,
                check=False,
                env={**os.environ, "GIT_CEILING_DIRECTORIES": ceilings},
            ).returncode
            == 0
        )

    for ceilings, found in ((f"/nonexistent::{isolated / 'a'}", False), (str(isolated), False),
                            (str(isolated.parent), True)):
        assert git_finds(ceilings) is found, ceilings
        p = project.find(str(sub), {"GIT_CEILING_DIRECTORIES": ceilings})
        assert p.common_dir == (str(isolated / ".git") if found else None), ceilings
