from __future__ import annotations

from pathlib import Path

from seq_hooks.commands import install_git_hook, uninstall_git_hook
from testing.util import git, run, seq_hooks


def test_bad_hook_type_is_a_usage_error(isolated: Path) -> None:
    p = run(seq_hooks("install-git-hook", "--hook-type", "pre-coomit"))
    assert p.returncode == 2
    assert "unknown or unsupported hook type 'pre-coomit'" in p.stderr
    assert not (isolated / ".git" / "hooks" / "pre-coomit").exists()


def test_each_type_once_then_unchanged_then_uninstalled(isolated: Path, capsys) -> None:
    assert (
        install_git_hook.main(["-t", "pre-push", "--hook-type", "commit-msg", "-t", "pre-push"])
        == 0
    )
    hooks = isolated / ".git" / "hooks"
    out = capsys.readouterr().out.splitlines()
    assert out == [f"seq-hooks: pre-push: installed at {hooks / 'pre-push'}",
                   f"seq-hooks: commit-msg: installed at {hooks / 'commit-msg'}"]
    assert install_git_hook.main(["-t", "pre-push"]) == 0
    assert (
        capsys.readouterr().out
        == f"seq-hooks: pre-push: already installed at {hooks / 'pre-push'} (unchanged)\n"
    )
    assert uninstall_git_hook.main([]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == [
        f"seq-hooks: commit-msg: removed {hooks / 'commit-msg'}",
        f"seq-hooks: pre-push: removed {hooks / 'pre-push'}",
    ]
    assert uninstall_git_hook.main([]) == 0
    assert (
        capsys.readouterr().out == f"seq-hooks: no seq-hooks git hook in {hooks}: nothing to do\n"
    )


def test_core_hooks_path_is_said(isolated: Path, capsys) -> None:
    git(isolated, "config", "core.hooksPath", "my-hooks")
    assert install_git_hook.main([]) == 0
    assert capsys.readouterr().out.endswith(
        f"seq-hooks: core.hooksPath is set (my-hooks): the hooks went to {isolated / 'my-hooks'}\n")
