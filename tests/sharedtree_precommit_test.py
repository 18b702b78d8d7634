"""pre-commit run through seq_hooks.sharedtree.precommit: everything pre-commit's own but its stash,
which is the chain's."""
from __future__ import annotations

from pathlib import Path

from testing.util import PY, git, run


def _repo(repo: Path, seen: Path) -> None:
    (repo / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: see\n    name: see\n"
        f"    entry: sh -c 'cp a.txt {seen}' --\n    language: system\n    pass_filenames: false\n"
        "    always_run: true\n")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base", "--no-verify")
    (repo / "a.txt").write_text("a\nunstaged\n")


def test_pre_commit_runs_with_the_chains_stash_in_place_of_its_own(isolated: Path) -> None:
    seen = isolated.parent / "seen.txt"
    _repo(isolated, seen)
    plain = run([PY, "-m", "pre_commit", "run"], cwd=isolated)
    assert plain.returncode == 0, plain.stdout
    assert seen.read_text() == "a\n" and "Stashing unstaged files" in plain.stdout + plain.stderr
    shimmed = run([PY, "-m", "seq_hooks.sharedtree.precommit", "run"], cwd=isolated)
    assert shimmed.returncode == 0, shimmed.stdout + shimmed.stderr
    assert seen.read_text() == "a\n"  # the hooks saw the staged content: stashed the chain's way
    assert "Stashing" not in shimmed.stdout + shimmed.stderr
    assert (isolated / "a.txt").read_text() == "a\nunstaged\n"
    assert not git(isolated, "for-each-ref", "refs/seq-hooks/").stdout
    assert not list((isolated / ".git/seq-hooks/stashed").glob("*.json"))


def test_pre_commits_own_refusals_stay(isolated: Path) -> None:
    seen = isolated.parent / "seen.txt"
    _repo(isolated, seen)
    with (isolated / ".pre-commit-config.yaml").open("a") as f:
        f.write("# unstaged\n")
    p = run([PY, "-m", "seq_hooks.sharedtree.precommit", "run"], cwd=isolated)
    assert p.returncode == 1 and "configuration is unstaged" in p.stdout + p.stderr
    assert not seen.exists()
