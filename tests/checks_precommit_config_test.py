from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seq_hooks.checks.precommit_config import Repo, parse_manifest, read_config


def test_config_repos_hooks_and_flow_style(isolated: Path) -> None:
    path = isolated / ".pre-commit-config.yaml"
    path.write_text(
        "repos:\n- repo: local\n  hooks:\n  - "
        "{id: t, entry: pytest, args: [-q, '-x'], language: system}\n"
        "- repo: meta\n  hooks: [{id: check-hooks-apply}]\n"
    )
    repos = read_config(str(path))
    assert repos == [
        Repo(
            "local",
            "",
            [{"id": "t", "entry": "pytest", "args": ["-q", "-x"], "language": "system"}],
            None,
        ),
        Repo("meta", "", [{"id": "check-hooks-apply"}], None),
    ]


def test_no_file_is_none(isolated: Path) -> None:
    assert read_config(str(isolated / ".pre-commit-config.yaml")) is None


@pytest.mark.parametrize(("text", "needle"), [
    ("repos: [\n", "not valid YAML"),
    ("- just a list\n", "has no `repos:` list"),
    ("repos: 3\n", "has no `repos:` list"),
])
def test_bad_files_say_why(isolated: Path, text: str, needle: str) -> None:
    path = isolated / ".pre-commit-config.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=needle):
        read_config(str(path))


def test_manifest_by_id() -> None:
    assert parse_manifest("- id: a\n  entry: mypy\n- id: b\n  entry: ruff\n") == {
        "a": {"id": "a", "entry": "mypy"}, "b": {"id": "b", "entry": "ruff"}}
    assert parse_manifest("hooks: [{id: a}]\n") == {"a": {"id": "a"}}
    assert parse_manifest("not: [a manifest\n") is None
    assert parse_manifest("3\n") is None


def test_yaml_stays_off_the_run_path(isolated: Path) -> None:
    code = (
        "import sys; from seq_hooks.cli import main; rc = main(['run', '--no-lock', '--', "
        "'true']); "
        "sys.exit(rc or ('yaml' in sys.modules and 3))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=isolated, check=False, capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
