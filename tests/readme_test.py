"""The README and the manifest agree: every hook is documented and is a console script of the same
name."""
from __future__ import annotations

import importlib
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
    assert {
        "atomic",
        "atomic-ruff",
        "atomic-ruff-format",
        "atomic-mypy",
        "atomic-pytest",
        "git-safe",
    } <= set(ids)
    for hook in hooks:
        assert hook["id"] in scripts, f"{hook['id']} is not a console script"
        assert hook["entry"] == hook["id"], (
            f"{hook['id']}: entry should be the console script of the same name"
        )
        assert f"`{hook['id']}`" in readme, f"{hook['id']} is not documented in README.md"


def _first_column(section: str) -> list[str]:
    """The first cell of each row of the table under README's `## section`, without its
    backticks."""
    part = (ROOT / "README.md").read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        line for line in part.splitlines() if line.startswith("| ") and not line.startswith("| ---")
    ]
    return [row.split(" | ")[0].strip("| `") for row in rows[1:]]


def test_readme_hook_table_is_the_manifest() -> None:
    ids = [h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())]
    assert sorted(_first_column("The hooks")) == sorted(ids)


def test_readme_units_are_the_hooks_defaults() -> None:
    """The "files per unit" column says each hook's own default (its Spec.batch: 0 is all in
    one)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    part = (ROOT / "README.md").read_text().split("\n## The hooks\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in part.splitlines() if line.startswith("| `")]
    for row in rows:
        hook, said = row[0].strip(" `"), row[-1].strip()
        module = importlib.import_module(scripts[hook].split(":")[0])
        spec = getattr(module, "SPEC", None)
        if spec is None:
            assert said == "no files", f"{hook}: takes no files, the README says {said!r}"
            continue
        stated = 0 if said == "all in one" else int(said.split()[0])
        assert stated == spec.batch, (
            f"{hook}: the README says {said!r}, the hook's default is {spec.batch}"
        )


def test_every_command_has_a_line_in_the_readme_and_a_section_in_the_docs() -> None:
    from seq_hooks.cli import COMMANDS

    listed = [cell.split()[1] for cell in _first_column("Commands")]
    assert listed == list(COMMANDS), "README's Commands table and seq_hooks.cli.COMMANDS differ"
    docs = (ROOT / "docs" / "commands.md").read_text() + (ROOT / "docs" / "git.md").read_text()
    for name in COMMANDS:
        assert re.search(rf"^## .*`seq-hooks {name}[ `]", docs, re.M), (
            f"no section for seq-hooks {name} in docs/"
        )


def test_readme_gives_a_fresh_clone_two_development_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("\n## Development\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quick, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["bash demo/run", "bash scripts/test"]
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()
