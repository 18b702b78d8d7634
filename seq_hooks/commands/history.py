"""`seq-hooks history [-n N] [--failed] [--json]`: the most recent units from the journal, newest
last."""
from __future__ import annotations

import json
import shutil
import sys

from seq_hooks import context, display, journal, sizes
from seq_hooks.errors import OK
from seq_hooks.options import Option, parse

OPTIONS = (
    Option(("-n", "--count"), "count", "int", "show the last N runs (default 20; 0 = all)", "N"),
    Option(("--failed",), "failed", help="only the runs that did not exit 0"),
    Option(
        ("--json",), "json", help='print one JSON object: {"version": 1, "runs": [journal records]}'
    ),
)
SUMMARY = (
    "Recent runs from the journal: when, lock, how long each waited and ran, its exit and why, "
    "peak memory."
)


def lock_name(lock: object) -> str:
    """`default/nested/<token>` shortened to `default/nested/<8 hex>`; no lock (--no-lock) is
    `-`."""
    if not isinstance(lock, str):
        return "-"
    parts = lock.split("/")
    return display.clean("/".join(p[:8] if i % 2 == 0 and i else p for i, p in enumerate(parts)))


def failed(record: journal.Record) -> bool:
    return record.exit != 0


def select(records: list[journal.Record], count: int, only_failed: bool) -> list[journal.Record]:
    chosen = [r for r in records if failed(r)] if only_failed else records
    return chosen[-count:] if count > 0 else chosen


def rows(records: list[journal.Record]) -> list[list[str]]:
    out = [["when", "lock", "waited", "ran", "exit", "reason", "peak", "command"]]
    for r in records:
        reason = r.reason or "?"
        if r.attempts != 1:
            reason += f" (attempt {r.attempts})"
        if r.daemon:  # atomic-mypy: answered by a warm daemon, one started for it, or plain mypy
            reason += f" (daemon: {r.daemon})"
        # every field comes from the journal: none drives the terminal
        out.append([display.clean(cell) for cell in (
            display.clock(r.started or r.enqueued or None),
            lock_name(r.lock),
            display.seconds(r.waited_s),
            display.seconds(r.duration_s),
            "?" if r.exit is None else str(r.exit),
            reason,
            sizes.megabytes(r.peak_rss_mb),
            display.command(r.argv),
        )])
    return out


def render(records: list[journal.Record], width: int | None, colour: bool) -> list[str]:
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
    parsed = parse(
        argv, OPTIONS, prog="seq-hooks history", usage="[-n N] [--failed] [--json]", summary=SUMMARY
    )
    count = parsed.integer("count")
    ctx = context.load()
    read = journal.read_all(ctx.state_dir)
    if read.skipped:
        sys.stderr.write(journal.skipped_note("seq-hooks history", read.skipped))
    records = select(read.records, 20 if count is None else count, parsed.flag("failed"))
    if parsed.flag("json"):
        sys.stdout.write(json.dumps({"version": 1, "runs": [r._asdict() for r in records]}) + "\n")
        return OK
    if not records:
        sys.stdout.write(
            "no failed runs in the journal\n"
            if parsed.flag("failed")
            else "no runs in the journal yet\n"
        )
        return OK
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    sys.stdout.write("\n".join(render(records, width, display.use_colour(sys.stdout))) + "\n")
    return OK
