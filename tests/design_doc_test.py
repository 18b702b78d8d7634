"""docs/design.md is the one place the design's facts live: the code points at its sections, and they exist."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"


def _sections() -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^## (.+)$", DESIGN.read_text(), re.M)}


def test_design_page_has_the_named_sections_and_the_readme_links_it() -> None:
    assert {"Locks", "Processes", "Memory", "pre-commit", "Commit storms", "Capacity"} <= _sections()
    assert "(docs/design.md)" in (ROOT / "README.md").read_text()


def _repository_files() -> list[Path]:
    skip = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
    found = []
    for path in ROOT.rglob("*"):
        if path.is_file() and not skip & set(path.relative_to(ROOT).parts) and path.suffix in {".py", ".md", ""}:
            found.append(path)
    return found


def test_every_pointer_names_an_existing_section() -> None:
    sections = _sections()
    for path in _repository_files():
        for m in re.finditer(r'docs/design\.md, "?([^\n"]+)', path.read_text(errors="replace")):
            named = [s for s in sections if m.group(1).startswith(s)]
            assert named, f"{path.relative_to(ROOT)}: {m.group(0)!r} names no section of docs/design.md"
