"""docs/design.md is the one place the design's facts live: the code points at its sections, and
they exist."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"


def _sections() -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^## (.+)$", DESIGN.read_text(), re.M)}


def test_design_page_has_the_named_sections_and_the_readme_links_it() -> None:
    assert {
        "Locks",
        "Processes",
        "Memory",
        "pre-commit",
        "Commit storms",
        "Capacity",
    } <= _sections()
    assert "(docs/design.md)" in (ROOT / "README.md").read_text()
    assert "(design.md#the-guides)" in (ROOT / "docs" / "guides.md").read_text()


def _repository_files() -> list[Path]:
    """The files git would commit (tracked, and untracked ones not ignored), text only."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        )
        .stdout.decode()
        .split("\0")
    )
    paths = [ROOT / name for name in listed if name]
    return [p for p in paths if p.is_file() and b"\0" not in p.read_bytes()[:8192]]


def test_every_pointer_names_an_existing_section() -> None:
    sections = _sections()
    for path in _repository_files():
        for m in re.finditer(r'docs/design\.md, "?([^\n"]+)', path.read_text(errors="replace")):
            named = [s for s in sections if m.group(1).startswith(s)]
            assert named, (
                f"{path.relative_to(ROOT)}: {m.group(0)!r} names no section of docs/design.md"
            )


def test_nothing_cites_files_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    for path in _repository_files():
        if path.resolve() == this:
            continue
        text = path.read_text(errors="replace")
        for outside in ("FINDINGS.md", "DESIGN.md", "STYLE.md", "shared/reference"):
            assert outside not in text, (
                f"{path.relative_to(ROOT)} cites {outside}: point to docs/design.md"
            )
