from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from seq_hooks import githook, journal
from seq_hooks.errors import UsageError
from testing.util import PY, git, run, seq_hooks

MARKER = "# seq-hooks: git hook"


def write_exe(path: Path, text: str, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def env_dump(out: Path) -> str:
    """A hook body that records the lock marker, the pipeline deadline, its arguments and its
    stdin."""
    return (
        'printf "holder=%s\\ndeadline=%s\\nargs=%s\\n" "$SEQ_HOOKS_HOLDER" "$SEQ_HOOKS_DEADLINE" '
        f'"$*" >> {out}\n'
        f"echo hook-ran >&2\n"
    )


def pre_commit_config(repo: Path, out: Path) -> None:
    """A real pre-commit configuration: a local system hook that records its environment."""
    script = write_exe(repo.parent / "show_env.sh", "#!/bin/sh\n" + env_dump(out))
    (repo / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: show-env\n    name: show-env\n"
        f"    entry: {script}\n    language: system\n    pass_filenames: false\n    always_run: "
        "true\n"
    )
    git(repo, "add", ".pre-commit-config.yaml")


def commit(repo: Path, name: str = "f.txt", *extra: str) -> subprocess.CompletedProcess[str]:
    (repo / name).write_text(f"{name}\n")
    git(repo, "add", name)
    return run(["git", "commit", "-q", "-m", f"add {name}", *extra], cwd=repo)


def snapshot(hooks: Path) -> dict[str, tuple[bytes, int, bool]]:
    """Every file of the hooks folder: bytes (or symlink target), mode, is-a-symlink."""
    out = {}
    for p in sorted(hooks.iterdir()):
        st = p.lstat()
        data = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
        out[p.name] = (data, stat.S_IMODE(st.st_mode), p.is_symlink())
    return out


def state(repo: Path) -> str:
    return str(repo / ".git" / "seq-hooks")


def holder_lines(out: Path) -> list[str]:
    return [line for line in out.read_text().splitlines() if line.startswith("holder=")]


def test_after_install_commit_runs_pre_commits_hooks_under_the_lock(isolated: Path) -> None:
    out = isolated.parent / "env.txt"
    pre_commit_config(isolated, out)
    assert run([PY, "-m", "pre_commit", "install"]).returncode == 0
    pre_commits_hook = (isolated / ".git/hooks/pre-commit").read_bytes()
    p = run(seq_hooks("install-git-hook"))
    assert p.returncode == 0, p.stderr
    assert "kept as" in p.stdout
    hook = isolated / ".git/hooks/pre-commit"
    assert MARKER in hook.read_text().splitlines()
    assert (isolated / ".git/hooks/pre-commit.seq-hooks-orig").read_bytes() == pre_commits_hook

    c = commit(isolated)
    assert c.returncode == 0, c.stderr
    assert "show-env" in c.stdout + c.stderr
    text = out.read_text()
    assert "holder=default:" in text  # pre-commit's hooks saw the lock marker of the hook's run
    deadline = next(line for line in text.splitlines() if line.startswith("deadline="))
    assert float(deadline.split("=")[1]) > 0
    records = [r for r in journal.read(state(isolated)) if r.lock == "default"]
    assert len(records) == 1
    # pre-commit's kept hook is not executed: what it would run, with the chain's stash in place of
    # pre-commit's
    argv = records[0].argv
    assert (
        argv[1:4] == ["-m", "seq_hooks.sharedtree.precommit", "kept-hook"] and records[0].exit == 0
    )
    assert argv[4].endswith("pre-commit.seq-hooks-orig") and argv[5] == "--"
    assert records[0].token in holder_lines(out)[0]


def test_without_a_hook_before_the_hook_runs_pre_commit_for_its_stage(isolated: Path) -> None:
    out = isolated.parent / "env.txt"
    pre_commit_config(isolated, out)
    assert run(seq_hooks("install-git-hook")).returncode == 0
    assert not (isolated / ".git/hooks/pre-commit.seq-hooks-orig").exists()
    c = commit(isolated)
    assert c.returncode == 0, c.stderr
    assert holder_lines(out) and "default:" in holder_lines(out)[0]
    argv = next(r.argv for r in journal.read(state(isolated)) if r.lock == "default")
    assert (
        argv[1:4] == ["-m", "seq_hooks.sharedtree.precommit", "hook-impl"]
        and "--hook-type=pre-commit" in argv
    )


def test_nothing_to_run_means_no_lock_and_success(isolated: Path) -> None:
    assert run(seq_hooks("install-git-hook")).returncode == 0
    assert commit(isolated).returncode == 0
    assert journal.read(state(isolated)) == []


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_existing_hook_is_kept_runs_and_uninstall_restores_it_byte_for_byte(
    isolated: Path, kind: str
) -> None:
    out = isolated.parent / "env.txt"
    hooks = isolated / ".git" / "hooks"
    # no final newline
    body = "#!/bin/sh\n# a user's own hook, odd bytes kept: \xe9 \r\n" + env_dump(out) + "exit 0"
    if kind == "file":
        write_exe(hooks / "pre-commit", body, 0o750)
    else:
        target = write_exe(isolated.parent / "shared-hook", body)
        (hooks / "pre-commit").symlink_to(target)
    before = snapshot(hooks)

    p = run(seq_hooks("install-git-hook"))
    assert p.returncode == 0, p.stderr
    kept = hooks / "pre-commit.seq-hooks-orig"
    assert snapshot(hooks)["pre-commit.seq-hooks-orig"] == before["pre-commit"]
    assert kept.is_symlink() == (kind == "symlink")
    c = commit(isolated)
    assert c.returncode == 0, c.stderr
    assert "hook-ran" in c.stderr
    assert holder_lines(out)[0].startswith("holder=default:")

    u = run(seq_hooks("uninstall-git-hook"))
    assert u.returncode == 0, u.stderr
    assert "restored" in u.stdout
    assert snapshot(hooks) == before  # same names, bytes, modes, symlink
    assert run(seq_hooks("uninstall-git-hook")).stdout.startswith(
        "seq-hooks: no seq-hooks git hook"
    )


def test_uninstall_without_a_hook_before_removes_ours(isolated: Path) -> None:
    hooks = isolated / ".git" / "hooks"
    before = snapshot(hooks)
    assert (
        run(
            seq_hooks("install-git-hook", "--hook-type", "pre-commit", "--hook-type", "commit-msg")
        ).returncode
        == 0
    )
    assert (hooks / "commit-msg").exists()
    assert run(seq_hooks("uninstall-git-hook")).returncode == 0
    assert snapshot(hooks) == before


def test_install_twice_changes_nothing(isolated: Path) -> None:
    hooks = isolated / ".git" / "hooks"
    write_exe(hooks / "pre-commit", "#!/bin/sh\nexit 0\n")
    assert run(seq_hooks("install-git-hook", "-t", "pre-commit", "-t", "pre-push")).returncode == 0
    first = snapshot(hooks)
    times = {p.name: p.lstat().st_mtime_ns for p in hooks.iterdir()}
    again = run(seq_hooks("install-git-hook", "-t", "pre-commit", "-t", "pre-push"))
    assert again.returncode == 0
    assert again.stdout.count("already installed") == 2
    assert snapshot(hooks) == first
    assert {p.name: p.lstat().st_mtime_ns for p in hooks.iterdir()} == times


def test_a_foreign_hook_is_never_overwritten(isolated: Path) -> None:
    hooks = isolated / ".git" / "hooks"
    write_exe(hooks / "pre-commit", "#!/bin/sh\necho mine\n")
    write_exe(hooks / "pre-commit.seq-hooks-orig", "#!/bin/sh\necho also mine\n")
    before = snapshot(hooks)
    p = run(seq_hooks("install-git-hook"))
    assert p.returncode == 1
    assert "refusing to overwrite" in p.stderr and "Traceback" not in p.stderr
    assert snapshot(hooks) == before


def test_hook_types_are_checked_and_deduplicated() -> None:
    assert githook.hook_types([], ("pre-commit",)) == ["pre-commit"]
    assert githook.hook_types(["pre-push", "commit-msg", "pre-push"], ()) == [
        "pre-push",
        "commit-msg",
    ]
    with pytest.raises(UsageError, match="unknown or unsupported hook type 'pre-coomit'"):
        githook.hook_types(["pre-coomit"], ())


def test_core_hooks_path_is_respected(isolated: Path) -> None:
    out = isolated.parent / "env.txt"
    git(isolated, "config", "core.hooksPath", ".githooks")
    write_exe(isolated / ".githooks" / "pre-commit", "#!/bin/sh\n" + env_dump(out))
    sub = isolated / "sub"
    sub.mkdir()
    # relative hooksPath: from the worktree top, not the cwd
    p = run(seq_hooks("install-git-hook"), cwd=sub)
    assert p.returncode == 0, p.stderr
    assert "core.hooksPath is set" in p.stdout
    assert MARKER in (isolated / ".githooks" / "pre-commit").read_text()
    assert (isolated / ".githooks" / "pre-commit.seq-hooks-orig").exists()
    assert not (isolated / ".git" / "hooks" / "pre-commit").exists()
    assert not (sub / ".githooks").exists()
    assert commit(isolated).returncode == 0
    assert holder_lines(out)[0].startswith("holder=default:")


def test_a_commit_in_a_linked_worktree_goes_through_the_same_hook(isolated: Path) -> None:
    out = isolated.parent / "env.txt"
    write_exe(isolated / ".git" / "hooks" / "pre-commit", "#!/bin/sh\n" + env_dump(out))
    assert commit(isolated, "base.txt").returncode == 0
    assert run(seq_hooks("install-git-hook")).returncode == 0
    out.unlink()
    wt = isolated.parent / "wt"
    git(isolated, "worktree", "add", "-q", "-b", "side", str(wt))
    c = commit(wt, "side.txt")
    assert c.returncode == 0, c.stderr
    assert holder_lines(out)[0].startswith("holder=default:")
    records = [r for r in journal.read(state(isolated)) if r.lock == "default"]
    assert [r.cwd for r in records][-1] == str(wt)  # one journal, one lock for every worktree


def test_commit_msg_and_pre_push_get_their_arguments_and_stdin(isolated: Path) -> None:
    out = isolated.parent / "env.txt"
    hooks = isolated / ".git" / "hooks"
    write_exe(
        hooks / "commit-msg", f'#!/bin/sh\n{env_dump(out)}grep -q "add f.txt" "$1" || exit 9\n'
    )
    write_exe(hooks / "pre-push", f"#!/bin/sh\n{env_dump(out)}cat >> {out}\n")
    assert run(seq_hooks("install-git-hook", "-t", "commit-msg", "-t", "pre-push")).returncode == 0
    assert commit(isolated).returncode == 0
    remote = isolated.parent / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    push = run(["git", "push", "-q", str(remote), "main"], cwd=isolated)
    assert push.returncode == 0, push.stderr
    text = out.read_text()
    assert "args=.git/COMMIT_EDITMSG" in text
    assert f"args={remote} {remote}" in text
    assert "refs/heads/main" in text  # pre-push's stdin went through the lock and the supervisor
    assert text.count("holder=default:") == 2


def test_pre_commit_install_after_ours_is_coped_with(isolated: Path) -> None:
    out = isolated.parent / "env.txt"
    hooks = isolated / ".git" / "hooks"
    pre_commit_config(isolated, out)
    assert run([PY, "-m", "pre_commit", "install"]).returncode == 0
    original = snapshot(hooks)
    assert run(seq_hooks("install-git-hook")).returncode == 0
    # pre-commit moves ours to .legacy and runs it before its own hooks
    assert run([PY, "-m", "pre_commit", "install"]).returncode == 0
    assert MARKER in (hooks / "pre-commit.legacy").read_text()
    loc = githook.locate(str(isolated))
    assert githook.inspect(loc, "pre-commit").state == "moved"
    c = commit(isolated, "a.txt")
    # no "migration mode" bug: ours does not call pre-commit again
    assert c.returncode == 0, c.stderr
    assert "pre-commit install moved the seq-hooks pre-commit hook" in c.stderr
    assert holder_lines(out) == ["holder="]  # the hooks ran, outside the lock (the warning says so)

    p = run(seq_hooks("install-git-hook"))
    assert "put back" in p.stdout
    assert githook.inspect(loc, "pre-commit").state == "installed"
    assert not (hooks / "pre-commit.legacy").exists()
    out.unlink()
    assert commit(isolated, "b.txt").returncode == 0
    assert holder_lines(out)[0].startswith("holder=default:")

    assert run(seq_hooks("uninstall-git-hook")).returncode == 0
    assert snapshot(hooks) == original


def test_uninstall_after_pre_commit_install_leaves_pre_commits_hook(isolated: Path) -> None:
    hooks = isolated / ".git" / "hooks"
    pre_commit_config(isolated, isolated.parent / "env.txt")
    foreign = write_exe(hooks / "pre-commit", "#!/bin/sh\necho foreign >&2\n")
    foreign_bytes = foreign.read_bytes()
    assert run(seq_hooks("install-git-hook")).returncode == 0
    assert run([PY, "-m", "pre_commit", "install"]).returncode == 0
    u = run(seq_hooks("uninstall-git-hook"))
    assert u.returncode == 0
    assert githook.is_pre_commit_script(str(hooks / "pre-commit"))
    # pre-commit's migration mode runs it
    assert (hooks / "pre-commit.legacy").read_bytes() == foreign_bytes
    assert not (hooks / "pre-commit.seq-hooks-orig").exists()
    c = commit(isolated)
    assert c.returncode == 0 and "foreign" in c.stderr


def test_hook_finds_seq_hooks_on_path_when_the_installing_python_is_gone(isolated: Path) -> None:
    loc = githook.locate(str(isolated))
    githook.install(loc, "pre-commit", "/nonexistent/python", "")
    out = isolated.parent / "env.txt"
    write_exe(
        isolated / ".git" / "hooks" / "pre-commit.seq-hooks-orig", "#!/bin/sh\n" + env_dump(out)
    )
    bin_dir = Path(PY).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    assert (bin_dir / "seq-hooks").exists()
    assert run(["git", "commit", "-q", "--allow-empty", "-m", "x"], env=env).returncode == 0
    assert holder_lines(out)[0].startswith("holder=default:")
    env["PATH"] = "/usr/bin:/bin"
    c = run(["git", "commit", "-q", "--allow-empty", "-m", "y"], env=env)
    assert c.returncode == 1
    assert "seq-hooks: not found" in c.stderr


def test_commit_under_a_held_default_lock_runs_the_hook_nested(isolated: Path) -> None:
    """`seq-hooks run -- git commit`: the hook's own run must not wait for its ancestor's lock."""
    out = isolated.parent / "env.txt"
    write_exe(isolated / ".git" / "hooks" / "pre-commit", "#!/bin/sh\n" + env_dump(out))
    assert run(seq_hooks("install-git-hook")).returncode == 0
    (isolated / "f.txt").write_text("f")
    git(isolated, "add", "f.txt")
    p = run(
        seq_hooks("run", "--max-wait", "5", "--", "git", "commit", "-q", "-m", "nested"), timeout=60
    )
    assert p.returncode == 0, p.stderr
    locks = [str(r.lock) for r in journal.read(state(isolated))]
    assert locks[0].startswith("default/nested/") and locks[1] == "default"
    # the outer holder's marker and the nested one's
    assert holder_lines(out)[0].count("default") == 2


def test_atomic_hooks_inside_the_commit_run_nested_in_the_hooks_lock(isolated: Path) -> None:
    """Real pre-commit running the generic `atomic` hook, through the installed hook: each file is a
    unit on the child queue of the hook's holder (no deadlock on the lock the hook already holds),
    within its deadline."""
    (isolated / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: atomic-true\n    name: atomic-true\n"
        f"    entry: {PY} -m seq_hooks.hooks.generic -- true\n    language: system\n    "
        "require_serial: true\n"
    )
    for name in ("a.txt", "b.txt"):
        (isolated / name).write_text(name)
    git(isolated, "add", ".")
    assert run(seq_hooks("install-git-hook")).returncode == 0
    c = run(["git", "commit", "-q", "-m", "atomic inside"], timeout=120)
    assert c.returncode == 0, c.stdout + c.stderr
    records = journal.read(state(isolated))
    outer = [r for r in records if r.lock == "default"]
    units = [r for r in records if r.lock != "default"]
    assert len(outer) == 1 and "hook-impl" in outer[0].argv
    assert sorted(r.argv[-1] for r in units) == [".pre-commit-config.yaml", "a.txt", "b.txt"]
    assert {r.lock for r in units} == {f"default/nested/{outer[0].token}"}


def test_pre_commits_kept_hook_is_run_with_its_own_arguments(isolated: Path) -> None:
    """`pre-commit install -c FILE --allow-missing-config -t pre-push`: the chain passes what that
    hook would (its --config, --hook-type, --skip-on-missing-config, --hook-dir), and the hook's own
    arguments and stdin."""
    out = isolated.parent / "env.txt"
    hooks = isolated / ".git" / "hooks"
    pre_commit_config(isolated, out)
    git(isolated, "mv", ".pre-commit-config.yaml", "my config.yaml")
    with (isolated / "my config.yaml").open("a") as f:
        f.write("    stages: [pre-push]\n")
    git(isolated, "add", "my config.yaml")
    for t in ("pre-commit", "pre-push"):
        p = run(
            [
                PY,
                "-m",
                "pre_commit",
                "install",
                "-c",
                "my config.yaml",
                "--allow-missing-config",
                "-t",
                t,
            ]
        )
        assert p.returncode == 0, p.stdout + p.stderr
    assert githook.pre_commit_hook_impl(str(hooks / "pre-push")) == [
        "hook-impl", "--config=my config.yaml", "--hook-type=pre-push", "--skip-on-missing-config",
        "--hook-dir", str(hooks)]
    assert (
        run(
            seq_hooks("install-git-hook", "--hook-type", "pre-commit", "--hook-type", "pre-push")
        ).returncode
        == 0
    )
    assert commit(isolated).returncode == 0
    bare = isolated.parent / "remote.git"
    git(isolated.parent, "init", "-q", "--bare", str(bare))
    p = run(["git", "push", "-q", str(bare), "HEAD:refs/heads/main"], cwd=isolated)
    assert p.returncode == 0, p.stderr
    # the pre-push stage's hook, under the lock
    assert holder_lines(out)[0].startswith("holder=default:")
    argvs = [r.argv for r in journal.read(state(isolated)) if r.lock == "default"]
    assert [a[3] for a in argvs] == ["kept-hook", "kept-hook"]
    assert argvs[1][4].endswith("pre-push.seq-hooks-orig") and argvs[1][6:] == [
        str(bare),
        str(bare),
    ]


@pytest.mark.parametrize("kept", ["pre-commit without pre-commit beside seq-hooks", "prek"])
def test_otherwise_the_kept_hook_runs_after_the_chains_stash(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, kept: str
) -> None:
    """prek's hook, or pre-commit's when the interpreter seq-hooks runs has no pre-commit: the kept
    script runs as it is, after `--stash`; doctor names the window and the fix."""
    monkeypatch.setenv("PREK_HOME", str(isolated.parent / "prek-home"))
    out = isolated.parent / "env.txt"
    hooks = isolated / ".git" / "hooks"
    pre_commit_config(isolated, out)
    tool = (
        [PY, "-m", "pre_commit"]
        if kept.startswith("pre-commit")
        else [str(Path(PY).parent / "prek")]
    )
    assert run([*tool, "install"]).returncode == 0
    loc = githook.locate(str(isolated))
    githook.install(loc, "pre-commit", PY, "" if kept.startswith("pre-commit") else PY)
    c = commit(isolated)
    assert c.returncode == 0, c.stdout + c.stderr
    assert holder_lines(out)[0].startswith("holder=default:")
    argv = next(r.argv for r in journal.read(state(isolated)) if r.lock == "default")
    assert argv[0] == str(hooks / "pre-commit.seq-hooks-orig")
    d = run(seq_hooks("doctor"))
    assert (
        "a save landing while it starts" in d.stdout
        and "pipx inject seq-hooks pre-commit" in d.stdout
    ), d.stdout
    githook.install(loc, "pre-commit", PY, PY)
    d = run(seq_hooks("doctor"))
    assert ("a save landing while it starts" in d.stdout) == (kept == "prek"), d.stdout
