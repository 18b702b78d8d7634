"""docs/guides.md ("Coming from the guides") covers every script, variable and exit code of the two
bash guides, and what it says about the variables is what the configuration does."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from seq_hooks import config

ROOT = Path(__file__).resolve().parent.parent
GUIDE_SCRIPTS = (
    "wait_all.sh",
    "sequential-executor.sh",
    "memory_monitor.sh",
    "git-safe.sh",
    "make-sequential.sh",
    "monitor-queue.sh",
    "kill-orphans.sh",
    "pre-commit-safe.sh",
    "atomic-hook.sh",
    "example-atomic-pipeline.sh",
    "ensure-sequential.sh",
    "safe-run.sh",
    "scripts/seq",
)
GUIDE_FLAGS = (
    "--timeout",
    "--kill-signal",
    "--retry",
    "--json",
    "--log",
    "--verbose",
    "--install-deps",
    "--help",
    "--limit",
    "--interval",
)
GUIDE_VARIABLES = (
    "MEMORY_LIMIT_MB",
    "MAX_MEMORY_MB",
    "TIMEOUT",
    "PIPELINE_TIMEOUT",
    "CHECK_INTERVAL",
    "MAX_PROCESSES",
    "VERBOSE",
    "PYTEST_MAX_WORKERS",
    "PRE_COMMIT_NO_CONCURRENCY",
)


def _section(title: str) -> str:
    page = (ROOT / "docs" / "guides.md").read_text()
    assert page.startswith("# Coming from the guides\n")
    assert f"\n## {title}\n" in page, f"no '## {title}' in docs/guides.md"
    return page.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _rows(title: str) -> list[list[str]]:
    rows = []
    for line in _section(title).splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    assert len(rows) > 1, f"'{title}' has no table"
    return rows[1:]


def test_every_guide_script_has_a_row() -> None:
    firsts = " ".join(row[0] for row in _rows("Scripts"))
    for script in GUIDE_SCRIPTS:
        assert f"`{script}" in firsts or f" {script}" in firsts, (
            f"{script} is not in the Scripts table"
        )


def test_every_guide_flag_has_a_row() -> None:
    firsts = [row[0] for row in _rows("Flags")]
    for flag in GUIDE_FLAGS:
        assert any(f" {flag}" in first for first in firsts), f"{flag} is not in the Flags table"


def _variable_rows() -> dict[str, list[str]]:
    table = {}
    for row in _rows("Variables (`.env.development`)"):
        for name in re.findall(r"`([A-Z][A-Z_]+)`", row[0]):
            table[name] = row
    return table


def test_every_guide_variable_has_a_row() -> None:
    table = _variable_rows()
    for name in GUIDE_VARIABLES:
        assert name in table, f"{name} is not in the Variables table"


def test_every_fallback_the_configuration_honours_is_documented_with_its_setting() -> None:
    table = _variable_rows()
    for setting, names in config.ENV_NAMES.items():
        for name in names[1:]:
            assert name in table, f"{name} (a fallback for {setting}) is not in the Variables table"
            row = table[name]
            assert f"`{setting}`" in row[1], (
                f"{name}: the table does not name the setting {setting}"
            )
            assert f"`{names[0]}`" in row[2], f"{name}: the table does not name {names[0]}"


def test_exit_code_differences_are_stated() -> None:
    rows = {row[0]: row for row in _rows("Exit codes")}
    usage = next(row for first, row in rows.items() if first.startswith("usage"))
    assert usage[1] == "1" and usage[2].startswith("**2**")
    pipeline = next(row for first, row in rows.items() if "pipeline" in first)
    assert "126" in pipeline[1] and pipeline[2].startswith("**124**")


def test_every_variable_the_table_maps_to_a_setting_is_honoured() -> None:
    """A row whose setting column starts with a setting says the guide's variable sets it: the
    configuration must read it (a row that only points elsewhere starts with words: "not read; set
    `threads` instead")."""
    for name, row in _variable_rows().items():
        claimed = re.match(r"`([a-z_]+)`", row[1])
        if claimed is None or not name.isupper() or name.startswith("SEQ_HOOKS_"):
            continue
        setting = claimed.group(1)
        assert setting in config.ENV_NAMES, (
            f"{name}: the table names {setting}, which is not a setting"
        )
        assert name in config.ENV_NAMES[setting], (
            f"the table says {name} sets {setting}; the configuration ignores it"
        )


def test_the_command_aliases_route_through_seq_hooks_run(isolated: Path, tmp_path: Path) -> None:
    """The snippet, sourced in bash as a user's rc file would: `pytest -q` runs the real pytest
    (here a stand-in on PATH) under `seq-hooks run`, with its words untouched; `command pytest` runs
    it directly."""
    block = re.search(r"```bash\n(.*?)```", _section("Command aliases"), re.S)
    assert block is not None
    snippet = tmp_path / "seq-hooks-aliases.sh"
    snippet.write_text(block.group(1))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # stand-ins that say whether they run under seq-hooks, and with what
    for name in ("pytest", "make"):
        (bin_dir / name).write_text(
            f'#!/bin/sh\necho "{name} run=${{SEQ_HOOKS_RUN:-none}} args=$*"\n'
        )
        (bin_dir / name).chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    script = (
        f"source {snippet}\ntype -t pytest\npytest -q --timeout 5\nmake test\ncommand pytest -x\n"
    )
    p = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "function"
    assert re.fullmatch(r"pytest run=[0-9a-f]{16} args=-q --timeout 5", lines[1]), lines
    assert re.fullmatch(r"make run=[0-9a-f]{16} args=test", lines[2]), lines
    assert lines[3] == "pytest run=none args=-x"  # `command pytest`: the real one, directly
    journal = (isolated / ".git" / "seq-hooks" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["argv"] for line in journal] == [
        ["pytest", "-q", "--timeout", "5"],
        ["make", "test"],
    ]
