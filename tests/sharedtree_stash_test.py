"""A commit's stash with another writer in the tree: through a real `git commit`, pre-commit and the
seq-hooks git hook, the other writer saves at a controlled instant; nothing anyone saved is lost."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from testing.sharedtree import Scene, assert_nothing_lost
from testing.util import PY, git, git_repo, run, seq_hooks

BIN = Path(sys.executable).parent

WRITER = "the other writer's save\n"


def _save(path: Path, line: str = WRITER) -> str:
    """The other writer reads the file as it is now, adds a line, saves it (by rewriting it in
    place, as many tools do): what it saved."""
    text = path.read_text() + line
    path.write_text(text)
    return text


@pytest.mark.parametrize("target", ["untouched.txt", "stashed.txt"])
@pytest.mark.parametrize("hook", ["fixing", "plain"])
@pytest.mark.parametrize("instant", ["before", "hooks", "restore"])
def test_another_writers_save_during_a_commit_is_never_lost(isolated: Path, instant: str, hook: str,
                                                             target: str) -> None:
    scene = Scene(isolated)
    scene.pre_commit_config()
    assert run(seq_hooks("install-git-hook")).returncode == 0
    saves = list(scene.mine.items())
    path = isolated / target
    if instant == "before":  # saved before the commit: the commit stashes it too
        first = _save(path, "the other writer's first save\n")
        saves = [(p, t) for p, t in saves if p != target] + [(target, first)]
    commit = scene.commit(
        scene.env(dict(os.environ), fix="fixme.txt" if hook == "fixing" else None)
    )
    scene.ready()
    if instant in ("before", "hooks"):  # while the hooks run, what it reads is the index version
        saves.append((target, _save(path)))
        scene.go()
    else:  # the moment the hooks are done: the commit puts the tree back
        scene.go()
        scene.done()
        saves.append((target, _save(path)))
    output = commit.communicate(timeout=120)[0]
    if hook == "fixing":
        assert commit.returncode == 1, output  # a hook that modifies files still fails the commit
    assert_nothing_lost(isolated, output, saves)


@pytest.mark.parametrize("installer", ["pre-commit", "prek"])
@pytest.mark.parametrize("target", ["untouched.txt", "stashed.txt"])
def test_through_pre_commits_or_preks_own_installed_hook(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, installer: str, target: str
) -> None:
    """`pre-commit install` (or `prek install`) first, then `seq-hooks install-git-hook`: the kept
    hook is their script, the chain still stashes first."""
    monkeypatch.setenv("PREK_HOME", str(isolated.parent / "prek-home"))
    scene = Scene(isolated)
    scene.pre_commit_config()
    tool = [PY, "-m", "pre_commit"] if installer == "pre-commit" else [str(BIN / "prek")]
    installed = run([*tool, "install"], cwd=isolated)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert run(seq_hooks("install-git-hook")).returncode == 0
    assert (isolated / ".git/hooks/pre-commit.seq-hooks-orig").exists()
    commit = scene.commit(scene.env(dict(os.environ), fix="fixme.txt"))
    scene.ready()
    saves = [*scene.mine.items(), (target, _save(isolated / target))]
    scene.go()
    output = commit.communicate(timeout=120)[0]
    assert commit.returncode == 1, output
    assert "hold" in output
    assert_nothing_lost(isolated, output, saves)


def _stash_run(
    repo: Path, script: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`seq-hooks run --stash` around a shell script (the chain the git hook runs, without
    pre-commit)."""
    return run([*seq_hooks("run", "--stash", "--"), "sh", "-c", script], cwd=repo, env=env)


def _bytes_and_modes(repo: Path) -> dict[str, tuple[bytes, int, bool]]:
    """Every path of the worktree but .git: bytes (or a symlink's target), mode, symlink."""
    out = {}
    for p in sorted(repo.rglob("*")):
        if ".git" in p.relative_to(repo).parts or (p.is_dir() and not p.is_symlink()):
            continue
        st = p.lstat()
        data = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
        out[str(p.relative_to(repo))] = (data, st.st_mode, p.is_symlink())
    return out


def test_the_hooks_see_the_staged_content_and_every_kind_of_unstaged_edit_comes_back(
    isolated: Path,
) -> None:
    """A deletion, a rename, a binary file, a mode, a symlink, names with spaces and not UTF-8: the
    chain sees the index versions; afterwards every byte and mode is as before."""
    repo = isolated
    names = {
        "plain.txt": b"plain\n",
        "gone.txt": b"gone\n",
        "old name.txt": b"moved\n",
        "blob.bin": b"\0\1\2\xff",
        "mode.sh": b"echo\n",
        "space dir/with space.txt": b"space\n",
    }
    for name, data in names.items():
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_bytes(data)
    (repo / "link").symlink_to("plain.txt")
    latin = os.fsencode(repo) + b"/caf\xe9.txt"
    with open(latin, "wb") as f:
        f.write(b"latin\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base", "--no-verify")
    git(repo, "mv", "old name.txt", "new name.txt")
    (repo / "new name.txt").write_bytes(b"moved\nand edited\n")
    (repo / "gone.txt").unlink()
    (repo / "blob.bin").write_bytes(b"\xff\xfe\0binary edit")
    (repo / "mode.sh").chmod(0o755)
    (repo / "link").unlink()
    (repo / "link").symlink_to("blob.bin")
    (repo / "space dir/with space.txt").write_bytes(b"space\nedited\n")
    with open(latin, "wb") as f:
        f.write(b"latin\nedited\n")
    before = _bytes_and_modes(repo)
    seen = isolated.parent / "seen"
    p = _stash_run(repo, f"mkdir {seen} && cp -a . {seen}/ && git diff --stat > {seen}.diff")
    assert p.returncode == 0, p.stdout + p.stderr
    assert _bytes_and_modes(repo) == before
    # what the chain saw: the index versions
    assert (seen / "gone.txt").read_bytes() == b"gone\n"
    assert (seen / "new name.txt").read_bytes() == b"moved\n"
    assert (seen / "blob.bin").read_bytes() == b"\0\1\2\xff"
    assert not os.access(seen / "mode.sh", os.X_OK)
    assert os.readlink(seen / "link") == "plain.txt"
    assert (seen / "space dir/with space.txt").read_bytes() == b"space\n"
    with open(os.fsencode(seen) + b"/caf\xe9.txt", "rb") as f:
        assert f.read() == b"latin\n"
    assert (isolated.parent / "seen.diff").read_text() == ""  # no unstaged edit in sight
    assert not git(repo, "for-each-ref", "refs/seq-hooks/").stdout


def test_without_unstaged_edits_nothing_is_written(isolated: Path) -> None:
    (isolated / "a.txt").write_text("a\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    (isolated / "a.txt").write_text("staged\n")
    git(isolated, "add", "a.txt")
    inode = (isolated / "a.txt").stat().st_ino
    p = _stash_run(isolated, "true")
    assert p.returncode == 0, p.stderr
    assert (isolated / "a.txt").stat().st_ino == inode
    assert not git(isolated, "for-each-ref", "refs/seq-hooks/").stdout
    assert not (isolated / ".git/seq-hooks/stashed").exists()


def test_crlf_with_autocrlf_comes_back_byte_for_byte(isolated: Path) -> None:
    git(isolated, "config", "core.autocrlf", "true")
    (isolated / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    edited = b"one\r\ntwo\nmixed\r\n"
    (isolated / "dos.txt").write_bytes(edited)
    seen = isolated.parent / "seen.txt"
    p = _stash_run(isolated, f"cp dos.txt {seen}")
    assert p.returncode == 0, p.stderr
    assert seen.read_bytes() == b"one\r\ntwo\r\n"  # as `git checkout` writes it here
    assert (isolated / "dos.txt").read_bytes() == edited


def test_intent_to_add_files_and_submodules_are_left_alone(isolated: Path) -> None:
    sub = git_repo(isolated.parent / "sub")
    (sub / "s.txt").write_text("s\n")
    git(sub, "add", ".")
    git(sub, "commit", "-q", "-m", "s")
    git(isolated, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "sub")
    (isolated / "a.txt").write_text("a\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    (isolated / "sub/s.txt").write_text("the submodule's own edit\n")
    (isolated / "new.txt").write_text("intent to add\n")
    git(isolated, "add", "-N", "new.txt")
    (isolated / "a.txt").write_text("a\nedit\n")
    seen = isolated.parent / "seen"
    p = _stash_run(isolated, f"mkdir {seen} && cp new.txt sub/s.txt a.txt {seen}/")
    assert p.returncode == 0, p.stderr
    assert (seen / "new.txt").read_text() == "intent to add\n"
    assert (seen / "s.txt").read_text() == "the submodule's own edit\n"
    assert (seen / "a.txt").read_text() == "a\n"
    assert (isolated / "a.txt").read_text() == "a\nedit\n"
    assert " A new.txt" in git(isolated, "status", "--porcelain").stdout


@pytest.mark.parametrize("blocker", ["ref", "record"])
def test_a_snapshot_that_cannot_be_kept_stops_before_the_tree_is_touched(
    isolated: Path, blocker: str
) -> None:
    """A stash ref or record that cannot be written (here: a file where their directory goes; a
    read-only .git or a full disk fail the same way): exit 2 with why, the tree untouched, the
    command never run."""
    (isolated / "a.txt").write_text("a\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    (isolated / "a.txt").write_text("a\nunstaged\n")
    inode = (isolated / "a.txt").stat().st_ino
    if blocker == "ref":
        (isolated / ".git/refs/seq-hooks").write_text("in the way\n")
    else:
        (isolated / ".git/seq-hooks").mkdir(exist_ok=True, mode=0o700)
        (isolated / ".git/seq-hooks/stashed").write_text("in the way\n")
    ran = isolated.parent / "ran"
    p = _stash_run(isolated, f"touch {ran}")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "before touching the working tree" in p.stderr
    assert not ran.exists()
    assert (isolated / "a.txt").stat().st_ino == inode and (
        isolated / "a.txt"
    ).read_text() == "a\nunstaged\n"
    if blocker == "record":
        assert not git(isolated, "for-each-ref", "refs/seq-hooks/").stdout


def test_an_unstaged_pre_commit_config_is_not_stashed(isolated: Path) -> None:
    """pre-commit refuses to run with an unstaged configuration: the chain leaves it for pre-commit
    to say."""
    (isolated / ".pre-commit-config.yaml").write_text("repos: []\n")
    (isolated / "a.txt").write_text("a\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    (isolated / ".pre-commit-config.yaml").write_text("repos: []\n# edited\n")
    (isolated / "a.txt").write_text("a\nedit\n")
    seen = isolated.parent / "seen.txt"
    p = _stash_run(isolated, f"cp a.txt {seen}")
    assert p.returncode == 0, p.stderr
    assert seen.read_text() == "a\nedit\n"


def _seeing_config(repo: Path, stage: str = "pre-commit") -> None:
    """A pre-commit hook (at `stage`) that copies a.txt as it sees it to $SEEN."""
    (repo / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: see\n    name: see\n"
        "    entry: sh -c 'cp a.txt \"$SEEN\"' --\n    language: system\n    pass_filenames: "
        "false\n"
        f"    always_run: true\n    stages: [{stage}]\n"
    )
    (repo / "a.txt").write_text("a\n")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base", "--no-verify")


@pytest.mark.parametrize("how", ["pre-commit", "commit-msg", "skip", "partial", "all"])
def test_each_stage_and_way_of_committing_sees_the_staged_content(isolated: Path, how: str) -> None:
    """Every stage pre-commit stashes for, SKIP= (pre-commit stashes all the same), a partial commit
    (`git commit PATH`: its own index) and `git commit -a` (nothing left unstaged: nothing
    stashed)."""
    _seeing_config(isolated, "commit-msg" if how == "commit-msg" else "pre-commit")
    assert (
        run(
            seq_hooks("install-git-hook", "--hook-type", "pre-commit", "--hook-type", "commit-msg")
        ).returncode
        == 0
    )
    (isolated / "a.txt").write_text("a\nstaged\n")
    git(isolated, "add", "a.txt")
    (isolated / "a.txt").write_text("a\nstaged\nunstaged\n")
    (isolated / "b.txt").write_text("b\nfor a partial commit\n")
    seen = isolated.parent / "seen.txt"
    env = {**os.environ, "SEEN": str(seen), **({"SKIP": "see"} if how == "skip" else {})}
    args = {"partial": ["--", "b.txt"], "all": ["-a"]}.get(how, [])
    c = run(["git", "commit", "-q", "-m", "c", *args], cwd=isolated, env=env)
    assert c.returncode == 0, c.stdout + c.stderr
    expected = {"skip": None, "partial": "a\n", "all": "a\nstaged\nunstaged\n"}.get(
        how, "a\nstaged\n"
    )
    assert (seen.read_text() if seen.exists() else None) == expected
    assert (isolated / "a.txt").read_text() == "a\nstaged\nunstaged\n"
    assert not git(isolated, "for-each-ref", "refs/seq-hooks/").stdout


def test_a_hook_that_was_there_before_and_is_not_pre_commit_sees_the_working_tree(
    isolated: Path,
) -> None:
    """A kept foreign hook (`.seq-hooks-orig`) is not pre-commit: it stashes nothing, and neither
    does the chain."""
    _seeing_config(isolated)
    hook = isolated / ".git/hooks/pre-commit"
    hook.write_text('#!/bin/sh\ncp a.txt "$SEEN"\n')
    hook.chmod(0o755)
    assert run(seq_hooks("install-git-hook")).returncode == 0
    assert (isolated / ".git/hooks/pre-commit.seq-hooks-orig").exists()
    (isolated / "b.txt").write_text("b\nstaged\n")
    git(isolated, "add", "b.txt")
    (isolated / "a.txt").write_text("a\nunstaged\n")
    seen = isolated.parent / "seen.txt"
    c = run(["git", "commit", "-q", "-m", "c"], cwd=isolated, env={**os.environ, "SEEN": str(seen)})
    assert c.returncode == 0, c.stderr
    assert seen.read_text() == "a\nunstaged\n"


def test_a_save_between_the_read_and_the_swap_makes_the_stash_read_again(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer saves b.txt after the stash read it and before it is put at its index version:
    what was done is put back, the tree is read again, and the snapshot holds the new save."""
    from seq_hooks.sharedtree import changes, files, stash

    for name in ("a.txt", "b.txt"):
        (isolated / name).write_text(f"{name}\n")
    git(isolated, "add", ".")
    git(isolated, "commit", "-q", "-m", "base", "--no-verify")
    (isolated / "a.txt").write_text("a edit\n")
    (isolated / "b.txt").write_text("b edit\n")
    real = files.replace
    calls: list[bytes] = []

    def saving_first(path: bytes, expect: files.State, new: files.Content) -> bool:
        calls.append(path)
        if path.endswith(b"b.txt") and len(calls) == 2:
            (isolated / "b.txt").write_text("b saved by the other writer\n")
        return real(path, expect, new)

    monkeypatch.setattr(files, "replace", saving_first)
    state = str(isolated / ".git" / "seq-hooks")
    found = changes.to_stash(str(isolated), os.environ)
    s = stash.stash(str(isolated), state, "token", os.environ, found)
    assert s is not None and s.name.endswith("-2")  # the second reading
    assert (isolated / "a.txt").read_text() == "a.txt\n" and (
        isolated / "b.txt"
    ).read_text() == "b.txt\n"
    assert {f.path: f.mine.data for f in s.files} == {b"a.txt": b"a edit\n",
                                                       b"b.txt": b"b saved by the other writer\n"}
    assert stash.restore(s) == []
    assert (isolated / "a.txt").read_text() == "a edit\n"
    assert (isolated / "b.txt").read_text() == "b saved by the other writer\n"
    assert not git(isolated, "for-each-ref", "refs/seq-hooks/").stdout


@pytest.mark.parametrize("setup", ["alone", "after pre-commit install"])
def test_a_save_just_before_pre_commit_looks_is_stashed_the_chains_way(
    isolated: Path, setup: str
) -> None:
    """Another writer saves a clean file just before pre-commit looks for unstaged edits (here from
    the legacy hook, which pre-commit runs just before): the chain's stash, in pre-commit's place,
    takes it (pre-commit's own would check out the whole tree and wipe the writer's next save), and
    the writer's next save stays. The same through the README's steps (`pre-commit install`, then
    `seq-hooks install-git-hook`: pre-commit's hook kept)."""
    scene = Scene(isolated)
    scene.pre_commit_config()
    if setup != "alone":
        installed = run([PY, "-m", "pre_commit", "install"], cwd=isolated)
        assert installed.returncode == 0, installed.stdout + installed.stderr
    assert run(seq_hooks("install-git-hook")).returncode == 0
    assert (isolated / ".git/hooks/pre-commit.seq-hooks-orig").exists() == (setup != "alone")
    first = "untouched.txt: base\nthe other writer's save while pre-commit starts\n"
    legacy = isolated / ".git/hooks/pre-commit.legacy"
    legacy.write_text(f"#!/bin/sh\nprintf '%s' {shlex.quote(first)} > untouched.txt\n")
    legacy.chmod(0o755)
    commit = scene.commit(scene.env(dict(os.environ), fix="fixme.txt"))
    scene.ready()
    assert (isolated / "untouched.txt").read_text() == "untouched.txt: base\n"  # its index version
    saves = [
        *scene.mine.items(),
        ("untouched.txt", first),
        ("untouched.txt", _save(isolated / "untouched.txt")),
    ]
    scene.go()
    output = commit.communicate(timeout=120)[0]
    assert "Unstaged files detected" not in output  # pre-commit's own stash never ran
    assert_nothing_lost(isolated, output, saves)


def test_through_the_hook_a_snapshot_that_cannot_be_kept_stops_the_commit_with_exit_2(
    isolated: Path,
) -> None:
    """The same inside pre-commit (the chain's stash in its place): pre-commit's "unexpected error"
    is not what the user reads, the commit stops before the tree is touched."""
    _seeing_config(isolated)
    assert run(seq_hooks("install-git-hook")).returncode == 0
    (isolated / "b.txt").write_text("b\nstaged\n")
    git(isolated, "add", "b.txt")
    (isolated / "a.txt").write_text("a\nunstaged\n")
    inode = (isolated / "a.txt").stat().st_ino
    (isolated / ".git/refs/seq-hooks").write_text("in the way\n")
    seen = isolated.parent / "seen.txt"
    c = run(["git", "commit", "-q", "-m", "c"], cwd=isolated, env={**os.environ, "SEEN": str(seen)})
    assert c.returncode != 0
    assert (
        "seq-hooks: cannot keep a snapshot" in c.stderr
        and "before touching the working tree" in c.stderr
    )
    assert "unexpected error" not in c.stdout + c.stderr
    assert not seen.exists()
    assert (isolated / "a.txt").stat().st_ino == inode
    assert git(isolated, "log", "--format=%s", "-1").stdout.strip() == "base"
