"""`seq-hooks report --html FILE`: a timeline of the journal's units per lock, as one self-contained
HTML file.

No network and no external asset: the CSS and the script (files of the package, in report_page/) and
the data are inline, and a Content-Security-Policy allows only those exact inline blocks (by hash),
so nothing from the journal can run or load anything even if it slipped past the escaping. The
journal's text reaches the page twice, both escaped: in a table (HTML escaped, readable without
JavaScript) and as JSON in a data block (`<`, `>`, `&` as \\u escapes) that the script reads and
puts on the page with textContent only. FILE is written by seq_hooks.commands.outfile (whole or not
at all, never through another user's symlink); `-` is standard output.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import sys
import time

from seq_hooks import context, display, journal, sizes
from seq_hooks.commands import outfile
from seq_hooks.errors import OK, Reason, UsageError
from seq_hooks.lock import capacity
from seq_hooks.options import Option, parse
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

OPTIONS = (
    Option(
        ("--html",),
        "html",
        "str",
        "write the report to FILE (required; - for standard output)",
        "FILE",
    ),
    Option(
        ("-n", "--count"),
        "count",
        "int",
        "the last N units of the journal (default 1000; 0 = all)",
        "N",
    ),
)
SUMMARY = (
    "A timeline of the units from the journal, one lane per lock: how long each waited and ran, "
    "its exit "
    "and its peak memory. One HTML file, no network, no external assets."
)

# the page's style and script, as files
_PAGE = os.path.join(os.path.dirname(__file__), "report_page")


def _asset(name: str) -> str:
    with open(os.path.join(_PAGE, name), encoding="utf-8") as f:
        return f.read()




def outcome(code: object, reason: object) -> str:
    if reason in Reason.AT_A_LIMIT:
        return "killed"
    if reason == Reason.INTERRUPTED:
        return "interrupted"
    if reason in Reason.NOT_STARTED:
        return "error"
    return "ok" if code == 0 else "failed"


def units(records: list[journal.Record]) -> list[dict[str, Any]]:
    """The records the timeline can place (the three times known), as plain JSON-safe values."""
    out: list[dict[str, Any]] = []
    for r in records:
        enq, start, end = r.enqueued, r.started, r.ended
        if not (enq and start and end):
            continue
        out.append({
            "i": len(out),
            "lock": r.lock or "",
            "command": display.command(r.argv),
            "pid": r.pid,
            "enqueued": enq,
            "started": max(start, enq),
            "ended": max(end, start),
            "waited_s": r.waited_s or max(start - enq, 0.0),
            "duration_s": r.duration_s or max(end - start, 0.0),
            "exit": -1 if r.exit is None else r.exit,
            "reason": r.reason,
            "message": r.message,
            "peak_rss_mb": r.peak_rss_mb,
            "attempts": r.attempts,
            "outcome": outcome(r.exit, r.reason),
        })
    # a lane per slot where a lock had several holders at once; a slot is held until the unit's
    # command ended, not until `ended` (stamped after the release: on a loaded machine the successor
    # starts in between)
    runs = [(u["lock"], u["started"], min(u["ended"], u["started"] + u["duration_s"])) for u in out]
    for u, slot in zip(out, capacity.slots_used(runs), strict=True):
        u["slot"] = slot
    return out


def _script_json(data: object) -> str:
    """JSON that cannot end its <script> block or open a comment: <, > and & become \\u escapes."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _row(u: dict[str, Any]) -> str:
    e = html.escape
    bad = ' class="bad"' if u["outcome"] != "ok" else ""
    reason = u["reason"] + (f": {u['message']}" if u["message"] else "")
    return (
        f"<tr{bad}><td>{e(display.clock(u['enqueued']))}</td><td>{e(u['lock'] or '(no lock)')}</td>"
        f'<td class="num">{e(display.seconds(u["waited_s"]))}</td>'
        f'<td class="num">{e(display.seconds(u["duration_s"]))}</td>'
        f'<td class="num exit">{u["exit"]}</td><td>{e(reason)}</td>'
        f'<td class="num">{e(sizes.megabytes(u["peak_rss_mb"]))}</td><td '
        f'class="cmd">{e(u["command"])}</td></tr>'
    )


def render(data: list[dict[str, Any]], project: str, now: float) -> str:
    e = html.escape
    locks = sorted({u["lock"] or "(no lock)" for u in data})
    bad = sum(1 for u in data if u["outcome"] != "ok")
    if data:
        first = min(u["enqueued"] for u in data)
        last = max(u["ended"] for u in data)
        when = f"from {display.clock(first)} to {display.clock(last)}"
    else:
        when = "no units yet"
    css, script = _asset("timeline.css"), _asset("timeline.js")
    csp = (
        f"default-src 'none'; style-src {_hash(css)}; script-src {_hash(script)}; img-src 'none'; "
        "connect-src 'none'; form-action 'none'; base-uri 'none'"
    )
    legend = "".join(f'<span><i class="{c}"></i>{t}</span>' for c, t in (
        ("wait", "waiting for the lock"), ("ok", "ran, exit 0"), ("failed", "ran, failed"),
        ("killed", "killed (timeout, memory, processes)"), ("interrupted", "interrupted"),
        ("error", "could not start")))
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n',
            # our own text: hashes, keywords
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>seq-hooks report: {e(os.path.basename(project) or project)}</title>\n",
            f"<style>{css}</style></head>\n<body>\n",
            f"<h1>seq-hooks: {len(data)} unit{'s' if len(data) != 1 else ''} in {len(locks)} "
            f"lock{'s' if len(locks) != 1 else ''}</h1>\n",
            f'<p class="meta">{e(project)} &middot; {e(when)} &middot; {bad} not ok &middot; '
            f"made {e(display.clock(now))}</p>\n",
            f'<p class="legend">{legend}</p>\n',
            '<div id="timeline"><p>The timeline is drawn by the script in this file; the table '
            "below holds the same "
            "units.</p></div>\n",
            '<table id="units"><thead><tr><th>queued</th><th>lock</th><th>waited</th><th>ran</th>'
            "<th>exit</th>"
            "<th>reason</th><th>peak</th><th>command</th></tr></thead><tbody>\n",
            "\n".join(_row(u) for u in data),
            "\n</tbody></table>\n",
            f'<script id="units-data" type="application/json">{_script_json(data)}</script>\n',
            f"<script>{script}</script>\n</body></html>\n",
        ]
    )


def main(argv: list[str]) -> int:
    parsed = parse(
        argv, OPTIONS, prog="seq-hooks report", usage="--html FILE [-n N]", summary=SUMMARY
    )
    target = parsed.text("html")
    if not target:
        raise UsageError("--html FILE is required (the report is one HTML file)")
    count = parsed.integer("count")
    count = 1000 if count is None else count
    ctx = context.load()
    records, skipped = journal.read_all(ctx.state_dir)
    data = units(records[-count:] if count > 0 else records)
    text = render(data, ctx.project.root, time.time())
    if skipped:
        sys.stderr.write(journal.skipped_note("seq-hooks report", skipped))
    if target == "-":
        sys.stdout.write(text)
        return OK
    # `--html /dev/stdout | ...`: HTML alone
    note = sys.stderr if outfile.names_stdout(target) else sys.stdout
    outfile.write(target, text)
    locks = len({u["lock"] for u in data})
    note.write(f"wrote {target}: {len(data)} unit{'s' if len(data) != 1 else ''} in {locks} "
                     f"lock{'s' if locks != 1 else ''}\n")
    return OK
