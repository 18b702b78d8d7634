"""The words for how a unit ended: one owner (seq_hooks.errors.Reason), and the user's page lists
exactly those."""
from __future__ import annotations

import re
from pathlib import Path

from seq_hooks.errors import Reason

ROOT = Path(__file__).resolve().parents[1]


def test_the_commands_page_lists_every_reason_a_unit_reports() -> None:
    text = " ".join((ROOT / "docs" / "commands.md").read_text().split())
    listed = re.search(r"`reason` is how the unit ended: (.*?) \(as in", text)
    assert listed is not None
    assert tuple(re.findall(r"`([a-z-]+)`", listed.group(1))) == Reason.ALL


def test_the_groups_are_made_of_the_words() -> None:
    groups = (Reason.BY_ITSELF, Reason.AT_A_LIMIT, Reason.NOT_STARTED, (Reason.INTERRUPTED,))
    # each word in exactly one group
    assert sorted(w for g in groups for w in g) == sorted(Reason.ALL)


def test_no_module_spells_a_reason_where_it_compares_or_sets_one() -> None:
    words = "|".join(re.escape(w) for w in (*Reason.ALL, Reason.DETACHED))
    pattern = re.compile(
        rf"""(reason\s*[!=]=\s*|reason in \(|Verdict\(|begin\()["']({words})["']"""
    )
    spelled = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in (ROOT / "seq_hooks").rglob("*.py")
               for m in pattern.finditer(p.read_text())]
    assert spelled == []
