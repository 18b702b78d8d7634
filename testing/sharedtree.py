"""A working tree shared by a committer and another writer: the scene, the hook that holds the
commit at a controlled instant, and the check that nobody's save was lost
(docs/design.md, "A shared working tree")."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

from testing.util import PY, git, run, seq_hooks, wait_for_file

# the hook holds the commit until the test says go (bounded), can fix a file, and says when it is
# done
HOOK = r"""#!/bin/sh
C="$SHAREDTREE_CONTROL"
echo $$ > "$C/ready.tmp" && mv "$C/ready.tmp" "$C/ready"
i=0
while [ ! -e "$C/go" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done
if [ -n "$SHAREDTREE_FIX" ]; then printf 'fixed by the hook\n' > "$SHAREDTREE_FIX"; fi
echo done > "$C/done"
"""
# a `git show REF:PATH > PATH` or `git restore --source=REF -- PATH` in a kept line
_KEPT = re.compile(r"git show (\S+?):(\S+) > |git restore --source=(\S+) -- (\S+)")


class Scene:
    """A repository with a staged change and unstaged edits in `stashed.txt`, a clean
    `untouched.txt`, and the control directory the hook reads."""

    def __init__(self, repo: Path, build: bool = True) -> None:
        self.repo = repo
        self.control = repo.parent / "control"
        self.hook = repo.parent / "hold.sh"
        self.mine: dict[str, str] = {}
        if build:
            self._build(repo)

    def copy(self, base: Path) -> Scene:
        """The same scene in `base` (copied, not rebuilt: no git process), with a fresh control
        directory."""
        base.mkdir(parents=True)
        shutil.copytree(self.repo, base / self.repo.name, symlinks=True)
        shutil.copy2(self.hook, base / self.hook.name)
        other = Scene(base / self.repo.name, build=False)
        other.control.mkdir()
        other.mine = dict(self.mine)
        return other

    def _build(self, repo: Path) -> None:
        self.control.mkdir()
        self.hook.write_text(HOOK)
        self.hook.chmod(0o755)
        for name in ("stashed.txt", "fixme.txt", "untouched.txt"):
            (repo / name).write_text(f"{name}: base\n")
        git(repo, "add", ".")
        git(repo, "commit", "-q", "-m", "base", "--no-verify")
        for name in ("stashed.txt", "fixme.txt"):
            (repo / name).write_text(f"{name}: staged\n")
            git(repo, "add", name)
            self.mine[name] = f"{name}: staged\n{name}: the committer's unstaged edit\n"
            (repo / name).write_text(self.mine[name])

    def pre_commit_config(self) -> None:
        (self.repo / ".pre-commit-config.yaml").write_text(
            "repos:\n- repo: local\n  hooks:\n  - id: hold\n    name: hold\n"
            f"    entry: {shlex.quote(str(self.hook))}\n    language: system\n    pass_filenames: "
            "false\n"
            "    always_run: true\n"
        )
        git(self.repo, "add", ".pre-commit-config.yaml")

    def env(self, base: dict[str, str], fix: str | None = None) -> dict[str, str]:
        env = {**base, "SHAREDTREE_CONTROL": str(self.control)}
        if fix:
            env["SHAREDTREE_FIX"] = str(self.repo / fix)
        return env

    def commit(self, env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["git", "commit", "-m", "commit"],
            cwd=self.repo,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def run_stash(self, env: dict[str, str]) -> subprocess.Popen[str]:
        """The chain without pre-commit: `seq-hooks run --stash` around the holding hook (cheap
        trials)."""
        return subprocess.Popen(
            [*seq_hooks("run", "--stash", "--"), str(self.hook)],
            cwd=self.repo,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> None:
        wait_for_file(self.control / "ready")

    def go(self) -> None:
        (self.control / "go").write_text("go\n")

    def done(self) -> None:
        wait_for_file(self.control / "done")


def kept(repo: Path, output: str) -> dict[str, str]:
    """{path: content} of every file a kept line in `output` names, read back with the command it
    gives."""
    out = {}
    for m in _KEPT.finditer(output):
        ref, path = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        path = shlex.split(path)[0]
        shown = git(repo, "show", f"{shlex.split(ref)[0]}:{path}", check=False)
        assert shown.returncode == 0, f"the kept line's command fails: {m.group(0)}: {shown.stderr}"
        out[path] = shown.stdout
    return out


def assert_nothing_lost(repo: Path, output: str, saves: list[tuple[str, str]]) -> None:
    """Every save (the other writer's, the committer's unstaged edits) is in the tree, or kept under
    a ref that a line of the output names with the command that gets it back, or carried by a later
    save made on top of it (a writer that read it and added to it); no stash is left behind."""
    found = kept(repo, output)

    def here(path: str) -> str | None:
        return (repo / path).read_text() if (repo / path).exists() else None

    def safe(path: str, text: str) -> bool:
        return here(path) == text or found.get(path) == text or any(
            p == path and t != text and t.startswith(text) and safe(p, t) for p, t in saves)

    for path, text in saves:
        assert safe(path, text), (
            f"lost: {path} should hold {text!r}; the tree has {here(path)!r}, kept: "
            f"{found.get(path)!r}\n{output}"
        )
    assert not git(repo, "for-each-ref", "refs/seq-hooks/stash/").stdout, (
        "a stash ref was left behind"
    )
    records = list((repo / ".git" / "seq-hooks" / "stashed").glob("*.json"))
    assert not records, f"a stash record was left behind: {records}"


def status(repo: Path) -> subprocess.CompletedProcess[str]:
    return run(seq_hooks("status"), cwd=repo)


__all__ = ["PY", "Scene", "assert_nothing_lost", "kept", "status"]
