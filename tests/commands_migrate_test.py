"""Moving off the guides' scripts, as a user does it: the guides' hook, Makefile and pre-commit
entries in a real repository, `scripts/` deleted, then `seq-hooks doctor` and `seq-hooks migrate`,
and real commits and makes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing.util import FIXTURES, git, run, seq_hooks

GUIDES = FIXTURES / "guides"
BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    """seq-hooks and pre-commit from this checkout's environment first on PATH, as after installing
    them."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def guide_repo(repo: Path, hook: str, where: str) -> Path:
    """The repository as the guides left it: their scripts, Makefile, pre-commit entries and git
    hook. `where`: `live` (ensure-sequential.sh wrote .git/hooks/pre-commit), `kept` (then
    install-git-hook kept it as .seq-hooks-orig), `legacy` (then pre-commit install moved it to
    .legacy)."""
    shutil.copytree(GUIDES / "scripts", repo / "scripts")
    shutil.copy(GUIDES / "Makefile.txt", repo / "Makefile")
    shutil.copy(GUIDES / "pre-commit-config.yaml", repo / ".pre-commit-config.yaml")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    shutil.copy(GUIDES / hook, hooks / "pre-commit")
    if where == "kept":
        assert run(seq_hooks("install-git-hook"), env=env()).returncode == 0
    elif where == "legacy":
        assert run([str(BIN / "pre-commit"), "install"], env=env()).returncode == 0
    return (
        hooks
        / {
            "live": "pre-commit",
            "kept": "pre-commit.seq-hooks-orig",
            "legacy": "pre-commit.legacy",
        }[where]
    )


def commit(repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    (repo / "a.txt").write_text(message + "\n")
    git(repo, "add", "-A")
    return subprocess.run(
        ["git", "commit", "-q", "-m", message],
        cwd=repo,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("hook", "where"),
    [
        ("pipeline-hook", "kept"),
        ("universal-hook", "live"),
        ("universal-hook", "legacy"),
        ("pipeline-hook", "live"),
    ],
)
def test_after_deleting_the_guides_scripts_migrate_makes_commits_work(
    isolated: Path, hook: str, where: str
) -> None:
    guide_hook = guide_repo(isolated, hook, where)
    # the guides' setup works while scripts/ is there
    assert commit(isolated, "with the scripts").returncode == 0
    shutil.rmtree(isolated / "scripts")  # "install seq-hooks and delete scripts/*.sh"
    broken = commit(isolated, "scripts gone")
    assert broken.returncode != 0, broken.stdout + broken.stderr  # every commit fails

    doctor = run(seq_hooks("doctor"), env=env())
    assert doctor.returncode == 1
    shown = os.path.relpath(guide_hook, isolated)
    assert (
        f"{shown}: the guides' git hook calls " in doctor.stdout
        and "is gone: it fails" in doctor.stdout
    )
    assert "seq-hooks migrate renames it to" in doctor.stdout
    assert ".pre-commit-config.yaml:12: entry: ./scripts/safe-run.sh" in doctor.stdout
    assert 'fix: seq-hooks migrate: entry: seq-hooks run -- python3 -c "print(2)"' in doctor.stdout
    assert "Makefile:4: SAFE_RUN := ./scripts/safe-run.sh" in doctor.stdout

    before = {
        p: p.read_bytes()
        for p in (isolated / "Makefile", isolated / ".pre-commit-config.yaml", guide_hook)
    }
    dry = run(seq_hooks("migrate", "--dry-run"), env=env())
    # one line is left to do by hand (chmod scripts/*.sh)
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert {p: p.read_bytes() for p in before} == before  # nothing changed
    assert "would be migrated" in dry.stdout

    done = run(seq_hooks("migrate"), env=env())
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "Makefile:17: @chmod +x scripts/*.sh  (by hand: delete it (seq-hooks needs no scripts))"
        in done.stdout
    )
    # kept, under a name git skips
    assert Path(f"{guide_hook}.from-the-guides").read_bytes() == before[guide_hook]
    # live: ours in its place
    assert not guide_hook.exists() or "# seq-hooks: git hook" in guide_hook.read_text()
    config = (isolated / ".pre-commit-config.yaml").read_text()
    assert (
        "scripts/" not in config and "do seq-hooks run --no-lock --timeout 60 -- python3" in config
    )
    makefile = (isolated / "Makefile").read_text()
    assert "SAFE_RUN := seq-hooks run --\nWAIT_ALL := seq-hooks run --no-lock\n" in makefile
    assert "\t@seq-hooks status --watch\n" in makefile and "\t@chmod +x scripts/*.sh\n" in makefile

    fixed = commit(isolated, "after migrate")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    hook_now = (isolated / ".git" / "hooks" / "pre-commit").read_text()
    if where != "legacy":
        assert "# seq-hooks: git hook" in hook_now  # ours runs pre-commit under the lock
    ran = [
        r["argv"]
        for r in map(
            json.loads, (isolated / ".git" / "seq-hooks" / "journal.jsonl").read_text().splitlines()
        )
    ]
    # the pre-commit entry runs through seq-hooks run now
    assert ["python3", "-c", "print(2)"] in ran

    made = subprocess.run(
        ["make", "test", "lint"],
        cwd=isolated,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0 and "tests ran\nlint ran\n" in made.stdout, (
        made.stdout + made.stderr
    )
    again = run(seq_hooks("doctor"), env=env())
    assert (
        "Makefile:17: @chmod +x scripts/*.sh" in again.stdout
        and "the guides' git hook" not in again.stdout
    )


def test_nothing_to_migrate(isolated: Path) -> None:
    p = run(seq_hooks("migrate"), env=env())
    assert p.returncode == 0 and "nothing calls the guides' scripts" in p.stdout
    doctor = run(seq_hooks("doctor"), env=env())
    assert "nothing calls the guides' scripts" in doctor.stdout
