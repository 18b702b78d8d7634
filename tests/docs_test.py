"""The documentation stays true: every relative link and #anchor in README.md and docs/*.md leads
somewhere, every page has a title, and docs/configuration.md states the code's defaults, keys and
environment names."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from seq_hooks import config

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        ROOT / "examples" / "README.md",
        *(ROOT / "docs").glob("*.md"),
    ]
)
CONFIGURATION = ROOT / "docs" / "configuration.md"
NOT_SETTINGS = (
    "hooks",
    "locks",
    "source",
    "from_env",
)  # Settings fields that are not [tool.seq-hooks] keys of their own


def _prose(text: str) -> str:
    """`text` without fenced code blocks and code spans, where brackets are code, not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (not - and _), spaces to
    dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.M | re.S)
    seen: dict[str, int] = {}
    found = set()
    for m in re.finditer(r"^#{1,6} (.+)$", text, re.M):
        base = _anchor(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def _links(page: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"\]\(([^)\s]+)\)", _prose(page.read_text()))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_leads_somewhere(page: Path) -> None:
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto:: not ours to check offline
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.relative_to(ROOT)}: {link}: {path} does not exist"
        if anchor:
            assert target.suffix == ".md", (
                f"{page.relative_to(ROOT)}: {link}: an anchor into a file that is not a page"
            )
            assert anchor in _anchors(target), (
                f"{page.relative_to(ROOT)}: {link}: no heading makes #{anchor} "
                f"in {target.relative_to(ROOT)}"
            )


def test_the_link_checker_sees_a_broken_link_and_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n## Its `part`: two\n\n[ok](#its-part-two) [code `[x](nowhere)`] [bad](#nope)\n"
    )
    assert _links(page) == ["#its-part-two", "#nope"]
    assert _anchors(page) == {"a-page", "its-part-two"}


@pytest.mark.parametrize("page", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_every_docs_page_has_a_title(page: Path) -> None:
    first = page.read_text().splitlines()[0]
    assert first.startswith("# "), f"docs/{page.name} does not start with a '# Title'"


def test_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 300, f"README.md has {len(lines)} lines: move detail into docs/"
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in "\n".join(lines), (
            f"README.md does not link docs/{page.name}"
        )


# --- docs/configuration.md ------------------------------------------------------------------------


def _table_rows(text: str, header: str) -> list[list[str]]:
    """The rows of the table whose header line starts with `header`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        rows.append([cell.strip() for cell in line.strip()[1:-1].split("|")])  # no cell holds a |
    return rows


def _settings_rows() -> dict[str, list[str]]:
    rows = _table_rows(CONFIGURATION.read_text(), "| key | default |")
    return {row[0].strip("`"): row for row in rows}


def _stated_default(cell: str) -> Any:
    """A default cell is a TOML value in backticks, or "unset"."""
    if cell == "unset":
        return None
    m = re.fullmatch(r"`(.+)`", cell)
    assert m, f"a default must be `a TOML value` or unset, got {cell!r}"
    value = tomllib.loads(f"v = {m.group(1)}")["v"]
    return tuple(value) if isinstance(value, list) else value


def test_every_declared_setting_is_a_field_of_settings_with_its_default() -> None:
    keys = [k for k in config.Settings._fields if k not in NOT_SETTINGS]
    assert list(config.SETTINGS) == keys, (
        "the declared fields must come first in Settings, in order"
    )
    for key, declared in config.SETTINGS.items():
        assert config.Settings._field_defaults[key] is declared.default


def test_the_settings_table_is_the_declarations() -> None:
    """Each row of docs/configuration.md's table: the key, its default, its environment variables in
    order and its meaning, as config.SETTINGS declares them (doctor says the same meaning)."""
    rows = _settings_rows()
    assert list(rows) == list(config.SETTINGS), (
        "the page's rows and the declarations differ (or their order)"
    )
    for key, declared in config.SETTINGS.items():
        cells = rows[key]
        stated = _stated_default(cells[1])
        assert stated == declared.default and isinstance(stated, bool) == isinstance(
            declared.default, bool
        ), (
            f"docs/configuration.md says {key} defaults to {cells[1]}; the code says "
            f"{declared.default!r}"
        )
        names = tuple(re.findall(r"`([A-Z][A-Z_]+)`", cells[2]))
        assert names == declared.env, (
            f"{key}: the page names {names}, the code reads {declared.env}"
        )
        assert cells[3] == declared.meaning, (
            f"{key}: the page's meaning differs from its declaration"
        )


def test_the_sampling_gap_the_check_interval_names_is_the_codes() -> None:
    from seq_hooks.process.treewatch import MAX_SAMPLE_GAP

    assert (
        f"never further apart than {MAX_SAMPLE_GAP:g} s"
        in config.SETTINGS["check_interval"].meaning
    )


def test_hook_and_lock_tables_name_every_key() -> None:
    text = CONFIGURATION.read_text()
    for title, fields in (
        ("## Per hook", config.HookSettings._fields),
        ("## Per lock", config.LockSettings._fields),
    ):
        part = text.split(title, 1)[1].split("\n## ", 1)[0]
        stated = {row[0].strip("`") for row in _table_rows(part, "| key |")}
        assert stated == set(fields), (
            f"{title}: the page names {sorted(stated)}, the code has {sorted(fields)}"
        )


def test_the_example_is_valid_and_sets_nothing_to_its_default() -> None:
    text = CONFIGURATION.read_text()
    block = text.split("## An example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    table = tomllib.loads(block)["tool"]["seq-hooks"]
    values = config.from_table(table, "docs/configuration.md")
    for key, value in values.items():
        if key not in NOT_SETTINGS:
            assert value != config.Settings._field_defaults[key], (
                f"the example sets {key} to its default"
            )
