"""The README and the manifest agree: every hook is documented and is a console script of the same name."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_hook_is_documented_and_a_console_script() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    readme = (ROOT / "README.md").read_text()
    ids = [h["id"] for h in hooks]
    assert {"atomic", "atomic-ruff", "atomic-ruff-format", "atomic-mypy", "atomic-pytest", "git-safe"} <= set(ids)
    for hook in hooks:
        assert hook["id"] in scripts, f"{hook['id']} is not a console script"
        assert hook["entry"] == hook["id"], f"{hook['id']}: entry should be the console script of the same name"
        assert f"`{hook['id']}`" in readme, f"{hook['id']} is not documented in README.md"


def test_every_command_is_documented() -> None:
    from seq_hooks.cli import COMMANDS

    readme = (ROOT / "README.md").read_text()
    for name in COMMANDS:
        assert f"seq-hooks {name}" in readme, f"seq-hooks {name} is not documented in README.md"


def test_readme_starts_a_new_user_with_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["bash demo/run", "bash scripts/test"]
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()
