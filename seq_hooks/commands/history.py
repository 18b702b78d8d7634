"""`seq-hooks history [-n N] [--failed] [--json]`: the most recent units from the journal, newest last."""
from __future__ import annotations

import json
import shutil
import sys

from seq_hooks import context, display, journal, sizes
from seq_hooks.errors import OK
from seq_hooks.options import Option, parse
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

OPTIONS = (
    Option(("-n", "--count"), "count", "int", "show the last N runs (default 20; 0 = all)", "N"),
    Option(("--failed",), "failed", help="only the runs that did not exit 0"),
    Option(("--json",), "json", help="print one JSON object: {\"version\": 1, \"runs\": [journal records]}"),
)
SUMMARY = "Recent runs from the journal: when, lock, how long each waited and ran, its exit and why, peak memory."


def _number(record: dict[str, Any], key: str) -> float | None:
    v = record.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def lock_name(lock: object) -> str:
    """`default/nested/<token>` shortened to `default/nested/<8 hex>`; no lock (--no-lock) is `-`."""
    if not isinstance(lock, str):
        return "-"
    parts = lock.split("/")
    return display.clean("/".join(p[:8] if i % 2 == 0 and i else p for i, p in enumerate(parts)))


def failed(record: dict[str, Any]) -> bool:
    return record.get("exit") != 0


def select(records: list[dict[str, Any]], count: int, only_failed: bool) -> list[dict[str, Any]]:
    chosen = [r for r in records if failed(r)] if only_failed else records
    return chosen[-count:] if count > 0 else chosen


def rows(records: list[dict[str, Any]]) -> list[list[str]]:
    out = [["when", "lock", "waited", "ran", "exit", "reason", "peak", "command"]]
    for r in records:
        reason = str(r.get("reason", "?"))
        if r.get("attempts", 1) not in (1, None):
            reason += f" (attempt {r['attempts']})"
        out.append([display.clean(cell) for cell in (  # every field comes from the journal: none drives the terminal
            display.clock(_number(r, "started") or _number(r, "enqueued")),
            lock_name(r.get("lock")),
            display.seconds(_number(r, "waited_s")),
            display.seconds(_number(r, "duration_s")),
            str(r.get("exit", "?")),
            reason,
            sizes.megabytes(_number(r, "peak_rss_mb")),
            display.command(r.get("argv", "?")),
        )])
    return out


def render(records: list[dict[str, Any]], width: int | None, colour: bool) -> list[str]:
    table = rows(records)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    lines = []
    for n, row in enumerate(table):
        parts: list[tuple[str, str]] = []
        for i, cell in enumerate(row[:-1]):
            code = "1" if n == 0 else ("31" if i in (4, 5) and failed(records[n - 1]) else "")
            right = i in (2, 3, 4, 6)
            parts += [(cell.rjust(widths[i]) if right else cell.ljust(widths[i]), code), ("  ", "")]
        parts.append((row[-1], "1" if n == 0 else ""))
        if width is None:
            lines.append("".join(display.paint(t, c, colour) for t, c in parts).rstrip())
        else:
            lines.append(display.fit_parts(parts, width, colour).rstrip())
    return lines


def main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog="seq-hooks history", usage="[-n N] [--failed] [--json]", summary=SUMMARY)
    count = parsed.integer("count")
    ctx = context.load()
    read = journal.read_all(ctx.state_dir)
    if read.skipped:
        sys.stderr.write(journal.skipped_note("seq-hooks history", read.skipped))
    records = select(read.records, 20 if count is None else count, parsed.flag("failed"))
    if parsed.flag("json"):
        sys.stdout.write(json.dumps({"version": 1, "runs": records}) + "\n")
        return OK
    if not records:
        sys.stdout.write("no failed runs in the journal\n" if parsed.flag("failed") else "no runs in the journal yet\n")
        return OK
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    sys.stdout.write("\n".join(render(records, width, display.use_colour(sys.stdout))) + "\n")
    return OK
