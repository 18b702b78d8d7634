"""Each call of a guide script, as the guides wrote them, and the seq-hooks command line it
becomes."""
from __future__ import annotations

import pytest

from seq_hooks import guide_scripts


@pytest.mark.parametrize(
    ("line", "scripts", "new"),
    [
        (
            "WAIT_ALL := ./scripts/wait_all.sh",
            ["wait_all.sh"],
            "WAIT_ALL := seq-hooks run --no-lock",
        ),
        ("SAFE_RUN := ./scripts/safe-run.sh", ["safe-run.sh"], "SAFE_RUN := seq-hooks run --"),
        ("\t@./scripts/monitor-queue.sh", ["monitor-queue.sh"], "\t@seq-hooks status --watch"),
        ("\t@./scripts/kill-orphans.sh", ["kill-orphans.sh"], "\t@seq-hooks clean"),
        ("./scripts/seq uv run pytest", ["seq"], "seq-hooks run -- uv run pytest"),
        ("seq 1 10", [], "seq 1 10"),  # coreutils' seq
        ("./scripts/git-safe.sh commit -m x", ["git-safe.sh"], "seq-hooks git -- commit -m x"),
        (
            "./scripts/make-sequential.sh test",
            ["make-sequential.sh"],
            "seq-hooks run --lock make -- make test",
        ),
        ("./scripts/ensure-sequential.sh", ["ensure-sequential.sh"], "seq-hooks doctor"),
        (
            "entry: ./scripts/safe-run.sh uv run mypy",
            ["safe-run.sh"],
            "entry: seq-hooks run -- uv run mypy",
        ),
        (
            'bash -c \'for f in "$@"; do ./scripts/wait_all.sh --timeout 60 -- ruff format "$f" || '
            'exit 1; done\' --',
            ["wait_all.sh"],
            'bash -c \'for f in "$@"; do seq-hooks run --no-lock --timeout 60 -- ruff format "$f" '
            '|| exit 1; done\' --',
        ),
        (
            '    "${SCRIPT_DIR}/memory_monitor.sh" --pid $$ --limit "${MEMORY_LIMIT_MB:-2048}" '
            '--interval 5 &',
            ["memory_monitor.sh"],
            '    seq-hooks watch --pid $$ --memory-limit "${MEMORY_LIMIT_MB:-2048}" &',
        ),
        (
            'SEQ_EXEC="$SCRIPT_DIR/scripts/sequential-executor.sh"',
            ["sequential-executor.sh"],
            # an assignment keeps its quotes: `$SEQ_EXEC uv run pytest` splits it
            'SEQ_EXEC="seq-hooks run --"',
        ),
        (
            '"$PROJECT_ROOT/scripts/sequential-executor.sh" pre-commit "$@"',
            ["sequential-executor.sh"],
            'seq-hooks run -- pre-commit "$@"',
        ),  # a quoted command word does not
        ('./scripts/atomic-hook.sh "ruff format" x.py', ["atomic-hook.sh"], None),
        ("\t@chmod +x scripts/*.sh", ["scripts/*.sh"], None),
    ],
)
def test_calls_and_their_replacement(line: str, scripts: list[str], new: str | None) -> None:
    assert guide_scripts.calls_in(line) == scripts
    assert guide_scripts.rewrite(line) == new
