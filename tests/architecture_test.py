"""docs/architecture.md is the package's map: every module is on it, and the imports keep to its
rules."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "seq_hooks"
MAP = (ROOT / "docs" / "architecture.md").read_text()

BASE = {"records", "errors", "envnames", "display", "options", "sizes", "jsontext"}
SETTINGS = {"config", "context", "project"}
TOP_FAMILIES = ("hooks", "commands", "checks")


def _modules() -> dict[str, Path]:
    """Dotted names under seq_hooks (a package by its own name), without __main__."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and parts[-1] != "__main__":
            found[".".join(parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    """The seq_hooks modules a module imports (`from seq_hooks.lock import queue` is lock.queue)."""
    names = set(_modules())
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == "seq_hooks"
        ):
            base = node.module.removeprefix("seq_hooks").removeprefix(".")
            for alias in node.names:
                joined = f"{base}.{alias.name}" if base else alias.name
                out.add(joined if joined in names else base)
    return out - {""}


def test_every_module_is_on_the_map() -> None:
    block = MAP.split("```")[1]
    missing = [
        name for name in _modules() if name.split(".")[-1] not in re.findall(r"[a-z_]+", block)
    ]
    assert not missing, f"docs/architecture.md does not list: {', '.join(sorted(missing))}"


def _family(name: str) -> str:
    head = name.split(".", maxsplit=1)[0]
    if head in ("lock", "process", *TOP_FAMILIES):
        return head
    return "base" if head in BASE else "settings" if head in SETTINGS else head


@pytest.mark.parametrize(("family", "allowed"), [
    ("base", {"base"}),
    ("process", {"base", "process"}),
    ("lock", {"base", "process", "settings", "journal", "lock"}),
])
def test_the_engines_import_only_what_the_map_allows(family: str, allowed: set[str]) -> None:
    wrong = [
        f"{name} imports {target}"
        for name, path in _modules().items()
        if _family(name) == family
        for target in _imports(path)
        if _family(target) not in allowed
    ]
    assert not wrong, "; ".join(wrong)


def test_nothing_below_the_front_imports_it() -> None:
    front = {"cli", "api", *TOP_FAMILIES}
    wrong = [
        f"{name} imports {target}"
        for name, path in _modules().items()
        if _family(name) not in front
        for target in _imports(path)
        if _family(target) in front
    ]
    assert not wrong, "; ".join(wrong)


def test_the_engine_packages_import_nothing_of_their_own() -> None:
    for package in ("lock", "process"):
        tree = ast.parse((PACKAGE / package / "__init__.py").read_text())
        assert all(isinstance(n, ast.Expr) for n in tree.body), (
            f"seq_hooks/{package}/__init__.py imports"
        )
