from __future__ import annotations

import sys
from pathlib import Path

from testing.doctor import doctor_run, lines
from testing.util import git, run

CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: tests
        name: tests
        entry: uv run pytest -x
        language: system
        types: [python]
      - id: types
        name: types
        entry: mypy
        language: system
        require_serial: true
      - id: wrapped
        name: wrapped
        entry: seq-hooks run -- pylint
        language: system
"""


def test_pre_commit_hooks_that_fan_out(isolated: Path) -> None:
    (isolated / ".pre-commit-config.yaml").write_text(CONFIG)
    p = doctor_run()
    assert p.returncode == 1
    found = lines(p.stdout, "pre-commit")
    assert "local hook 'tests' fans out" in found[0] and "`uv`" in found[0]
    assert (
        "fix: add `require_serial: true` to it in .pre-commit-config.yaml, or use seq-hooks' "
        "atomic-pytest"
        in p.stdout
    )
    assert not [f for f in found if "'types'" in f or "'wrapped'" in f]
    (isolated / ".pre-commit-config.yaml").write_text(
        CONFIG.replace("types: [python]", "require_serial: true")
    )
    p = doctor_run()
    assert p.returncode == 0
    assert "no heavy hook fans out (3 run serially)" in lines(p.stdout, "pre-commit")[0]


def test_remote_hook_manifest_from_pre_commit_cache(isolated: Path, tmp_path: Path) -> None:
    hooks = tmp_path / "hook-repo"
    hooks.mkdir()
    git(hooks, "init", "-q", "-b", "main")
    (hooks / ".pre-commit-hooks.yaml").write_text(
        "- id: slow-types\n  name: slow types\n  entry: mypy\n  language: system\n"
        "- id: tidy\n  name: tidy\n  entry: echo\n  language: system\n"
        "- id: careful\n  name: careful\n  entry: pytest\n  language: system\n  require_serial: "
        "true\n"
    )
    git(hooks, "add", ".")
    git(
        hooks,
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-q",
        "-m",
        "hooks",
    )
    rev = git(hooks, "rev-parse", "HEAD").stdout.strip()
    (isolated / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: slow-types\n      - "
        "id: tidy\n"
        "      - id: careful\n"
    )
    p = doctor_run()
    assert "not checked (hook repo not in pre-commit's cache" in p.stdout
    installed = run([sys.executable, "-m", "pre_commit", "install-hooks"], cwd=isolated)
    assert installed.returncode == 0, installed.stderr
    p = doctor_run()
    assert p.returncode == 1
    found = lines(p.stdout, "pre-commit")
    assert f"hook from {hooks} 'slow-types' fans out" in found[0]
    assert "light hooks that fan out over the CPUs: tidy" in p.stdout
    assert "careful" not in p.stdout


