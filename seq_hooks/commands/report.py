"""`seq-hooks report --html FILE`: a timeline of the journal's units per lock, as one self-contained HTML file.

No network and no external asset: the CSS, the script and the data are inline, and a Content-Security-Policy
allows only those exact inline blocks (by hash), so nothing from the journal can run or load anything even if
it slipped past the escaping. The journal's text reaches the page twice, both escaped: in a table (HTML
escaped, readable without JavaScript) and as JSON in a data block (`<`, `>`, `&` as \\u escapes) that the script
reads and puts on the page with textContent only. FILE is written by seq_hooks.commands.outfile (whole or not at all,
never through another user's symlink); `-` is standard output.
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
from seq_hooks.errors import OK, UsageError
from seq_hooks.lock import capacity
from seq_hooks.options import Option, parse
from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

OPTIONS = (
    Option(("--html",), "html", "str", "write the report to FILE (required; - for standard output)", "FILE"),
    Option(("-n", "--count"), "count", "int", "the last N units of the journal (default 1000; 0 = all)", "N"),
)
SUMMARY = ("A timeline of the units from the journal, one lane per lock: how long each waited and ran, its exit "
           "and its peak memory. One HTML file, no network, no external assets.")

CSS = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px; }
p.meta { color: #555; margin: 0 0 12px; }
#timeline svg { width: 100%; height: auto; display: block; }
#timeline text { font: 11px system-ui, sans-serif; fill: #222; }
#timeline text.lock { font-weight: bold; font-size: 12px; }
#timeline text.tick { fill: #777; }
#timeline line.tick { stroke: #e5e5e5; }
#timeline rect.gap { fill: #f3f3f3; }
#timeline text.cmd { fill: #333; }
#timeline text.exit { fill: #555; }
rect.wait { fill: #9ecae1; }
rect.run.ok { fill: #2e7d32; }
rect.run.failed { fill: #c62828; }
rect.run.killed { fill: #ef6c00; }
rect.run.interrupted { fill: #6a1b9a; }
rect.run.error { fill: #757575; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: -1px; }
.legend i.wait { background: #9ecae1; } .legend i.ok { background: #2e7d32; }
.legend i.failed { background: #c62828; } .legend i.killed { background: #ef6c00; }
.legend i.interrupted { background: #6a1b9a; } .legend i.error { background: #757575; }
table { border-collapse: collapse; margin-top: 20px; font-size: 12px; }
th, td { border-bottom: 1px solid #eee; padding: 2px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.cmd { font-family: ui-monospace, monospace; word-break: break-all; }
tr.bad td.exit { color: #c62828; font-weight: bold; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var units = JSON.parse(document.getElementById("units-data").textContent);
  var host = document.getElementById("timeline");
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) { e.setAttribute(k, String(attrs[k])); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function dur(s) {
    if (s < 10) { return s.toFixed(2) + "s"; }
    if (s < 60) { return s.toFixed(1) + "s"; }
    if (s < 3600) { return Math.floor(s / 60) + "m" + ("0" + Math.floor(s % 60)).slice(-2) + "s"; }
    return Math.floor(s / 3600) + "h" + ("0" + Math.floor(s % 3600 / 60)).slice(-2) + "m";
  }
  function mb(v) { return v >= 10240 ? (v / 1024).toFixed(1) + " GB" : v.toFixed(1) + " MB"; }
  function cut(s, n) { return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }
  function clock(t) { return new Date(t * 1000).toLocaleString(); }
  host.textContent = "";
  if (!units.length) { host.textContent = "The journal holds no units yet."; return; }
  var lanes = {}, order = [];
  for (var i = 0; i < units.length; i++) {
    var u = units[i];
    var key = u.lock + "#" + ("00" + u.slot).slice(-3);  // a lock with slots: a lane per slot
    if (!lanes.hasOwnProperty(key)) { lanes[key] = []; order.push(key); } lanes[key].push(u);
  }
  order.sort();
  // busy stretches (a unit queued or running) keep their length; idle gaps longer than a twentieth of the
  // busy time shrink to a fixed break, so a journal spread over days still shows each unit
  var spans = units.map(function (u) { return [u.enqueued, u.ended]; });
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var merged = [];
  for (var q = 0; q < spans.length; q++) {
    var last = merged[merged.length - 1];
    if (last && spans[q][0] <= last[1]) { last[1] = Math.max(last[1], spans[q][1]); }
    else { merged.push([spans[q][0], spans[q][1]]); }
  }
  var busyAll = 0;
  for (q = 0; q < merged.length; q++) { busyAll += merged[q][1] - merged[q][0]; }
  var gapMax = Math.max(busyAll / 20, 1);
  var segs = [{a: merged[0][0], b: merged[0][1]}];
  for (q = 1; q < merged.length; q++) {
    var prev = segs[segs.length - 1];
    if (merged[q][0] - prev.b <= gapMax) { prev.b = merged[q][1]; }
    else { segs.push({a: merged[q][0], b: merged[q][1]}); }
  }
  var LABEL = 300, PLOT = 900, RIGHT = 230, ROW = 18, HEAD = 24, AXIS = 28, GAP = 16;
  var busy = 0;
  for (q = 0; q < segs.length; q++) { busy += segs[q].b - segs[q].a; }
  busy = Math.max(busy, 0.001);
  var scale = (PLOT - GAP * (segs.length - 1)) / busy, off = LABEL;
  for (q = 0; q < segs.length; q++) { segs[q].off = off; off += (segs[q].b - segs[q].a) * scale + GAP; }
  function x(t) {
    var lo = 0, hi = segs.length - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (segs[mid].a <= t) { lo = mid; } else { hi = mid - 1; } }
    var sg = segs[lo];
    return sg.off + (Math.min(Math.max(t, sg.a), sg.b) - sg.a) * scale;
  }
  var rows = 0;
  for (var j = 0; j < order.length; j++) { rows += lanes[order[j]].length; }
  var height = AXIS + order.length * HEAD + rows * ROW + 8;
  var width = LABEL + PLOT + RIGHT;
  var svg = el("svg", {viewBox: "0 0 " + width + " " + height, width: width, height: height,
                       role: "img", "aria-label": "timeline of the units per lock"});
  var steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
               900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 604800];
  var step = steps[steps.length - 1];
  for (var s = 0; s < steps.length; s++) { if (busy / steps[s] <= 8) { step = steps[s]; break; } }
  function hhmmss(t) {
    var d = new Date(t * 1000), p = function (n) { return ("0" + n).slice(-2); };
    var text = p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
    return step < 1 ? text + "." + ("00" + d.getMilliseconds()).slice(-3) : text;
  }
  var lastLabel = -Infinity;
  for (q = 0; q < segs.length; q++) {
    var sg = segs[q];
    var ticks = [sg.a];
    for (var tk = Math.ceil(sg.a / step) * step; tk <= sg.b; tk += step) { if (tk > sg.a) { ticks.push(tk); } }
    for (var n = 0; n < ticks.length; n++) {
      var tx = x(ticks[n]);
      svg.appendChild(el("line", {"class": "tick", x1: tx, x2: tx, y1: AXIS - 6, y2: height}));
      if (tx - lastLabel >= 70) {
        svg.appendChild(el("text", {"class": "tick", x: tx, y: AXIS - 10, "text-anchor": "middle"},
                           hhmmss(ticks[n])));
        lastLabel = tx;
      }
    }
    if (q > 0) {
      var gx = sg.off - GAP;
      var brk = el("g", {"class": "gap"});
      brk.appendChild(el("title", {}, "idle for " + dur(sg.a - segs[q - 1].b)));
      brk.appendChild(el("rect", {"class": "gap", x: gx + 3, y: AXIS - 6, width: GAP - 6, height: height - AXIS}));
      svg.appendChild(brk);
    }
  }
  var y = AXIS;
  for (var k = 0; k < order.length; k++) {
    var lane = lanes[order[k]];
    lane.sort(function (a, b) { return a.enqueued - b.enqueued || a.i - b.i; });
    var lockTitle = lane[0].lock === "" ? "(no lock)" : lane[0].lock, slot = lane[0].slot;
    var head = el("g", {"class": "lane", "data-lock": lockTitle, "data-slot": slot});
    head.appendChild(el("text", {"class": "lock", x: 4, y: y + 16}, "lock " + lockTitle + (slot ? " \u00b7 slot " +
                        slot : "") + " \u2014 " + lane.length + " unit" + (lane.length === 1 ? "" : "s")));
    svg.appendChild(head);
    y += HEAD;
    for (var m = 0; m < lane.length; m++) {
      var v = lane[m];
      var g = el("g", {"class": "unit", "data-unit": v.i, "data-exit": v.exit, "data-lock": lockTitle});
      g.appendChild(el("title", {}, v.command + "\n" + "lock " + lockTitle + ", pid " + v.pid + "\n" +
                       "queued " + clock(v.enqueued) + ", waited " + dur(v.waited_s) + ", ran " +
                       dur(v.duration_s) + "\n" + "exit " + v.exit + " (" + v.reason + ")" +
                       (v.message ? ": " + v.message : "") + "\npeak memory " + mb(v.peak_rss_mb) +
                       (v.attempts > 1 ? "\nattempts " + v.attempts : "")));
      g.appendChild(el("text", {"class": "cmd", x: 4, y: y + 13}, cut(v.command, 48)));
      var ws = x(v.enqueued), we = x(v.started), re = x(v.ended);
      g.appendChild(el("rect", {"class": "wait", x: ws, y: y + 5, width: Math.max(we - ws, 0), height: 8}));
      g.appendChild(el("rect", {"class": "run " + v.outcome, x: we, y: y + 2, width: Math.max(re - we, 2),
                                height: 14}));
      g.appendChild(el("text", {"class": "exit", x: Math.max(re, we + 2) + 6, y: y + 13},
                       "exit " + v.exit + (v.reason !== "exit" ? " (" + v.reason + ")" : "") + " \u00b7 " +
                       dur(v.duration_s) + " \u00b7 peak " + mb(v.peak_rss_mb)));
      svg.appendChild(g);
      y += ROW;
    }
  }
  host.appendChild(svg);
  document.getElementById("units").setAttribute("data-rendered", String(units.length));
})();
"""


def _num(r: dict[str, Any], key: str) -> float | None:
    v = r.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def outcome(code: object, reason: object) -> str:
    if reason in ("timeout", "memory", "procs"):
        return "killed"
    if reason == "interrupted":
        return "interrupted"
    if reason in ("not-found", "not-executable"):
        return "error"
    return "ok" if code == 0 else "failed"


def units(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records the timeline can place (the three times known), as plain JSON-safe values."""
    out: list[dict[str, Any]] = []
    for r in records:
        enq, start, end = _num(r, "enqueued"), _num(r, "started"), _num(r, "ended")
        if enq is None or start is None or end is None:
            continue
        lock = r.get("lock")
        out.append({
            "i": len(out),
            "lock": lock if isinstance(lock, str) else "",
            "command": display.command(r.get("argv")),
            "pid": r.get("pid") if isinstance(r.get("pid"), int) else 0,
            "enqueued": enq,
            "started": max(start, enq),
            "ended": max(end, start),
            "waited_s": _num(r, "waited_s") or max(start - enq, 0.0),
            "duration_s": _num(r, "duration_s") or max(end - start, 0.0),
            "exit": r.get("exit") if isinstance(r.get("exit"), int) else -1,
            "reason": str(r.get("reason", "")),
            "message": str(r.get("message", "") or ""),
            "peak_rss_mb": _num(r, "peak_rss_mb") or 0.0,
            "attempts": r.get("attempts") if isinstance(r.get("attempts"), int) else 1,
            "outcome": outcome(r.get("exit"), r.get("reason")),
        })
    # a lane per slot where a lock had several holders at once; a slot is held until the unit's command ended,
    # not until `ended` (stamped after the release: on a loaded machine the successor starts in between)
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
        f"<td class=\"num\">{e(display.seconds(u['waited_s']))}</td>"
        f"<td class=\"num\">{e(display.seconds(u['duration_s']))}</td>"
        f"<td class=\"num exit\">{u['exit']}</td><td>{e(reason)}</td>"
        f"<td class=\"num\">{e(sizes.megabytes(u['peak_rss_mb']))}</td><td class=\"cmd\">{e(u['command'])}</td></tr>"
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
    csp = (f"default-src 'none'; style-src {_hash(CSS)}; script-src {_hash(SCRIPT)}; img-src 'none'; "
           "connect-src 'none'; form-action 'none'; base-uri 'none'")
    legend = "".join(f'<span><i class="{c}"></i>{t}</span>' for c, t in (
        ("wait", "waiting for the lock"), ("ok", "ran, exit 0"), ("failed", "ran, failed"),
        ("killed", "killed (timeout, memory, processes)"), ("interrupted", "interrupted"),
        ("error", "could not start")))
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n",
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',  # our own text: hashes, keywords
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>seq-hooks report: {e(os.path.basename(project) or project)}</title>\n",
        f"<style>{CSS}</style></head>\n<body>\n",
        f"<h1>seq-hooks: {len(data)} unit{'s' if len(data) != 1 else ''} in {len(locks)} "
        f"lock{'s' if len(locks) != 1 else ''}</h1>\n",
        f'<p class="meta">{e(project)} &middot; {e(when)} &middot; {bad} not ok &middot; '
        f"made {e(display.clock(now))}</p>\n",
        f'<p class="legend">{legend}</p>\n',
        '<div id="timeline"><p>The timeline is drawn by the script in this file; the table below holds the same '
        "units.</p></div>\n",
        '<table id="units"><thead><tr><th>queued</th><th>lock</th><th>waited</th><th>ran</th><th>exit</th>'
        "<th>reason</th><th>peak</th><th>command</th></tr></thead><tbody>\n",
        "\n".join(_row(u) for u in data),
        "\n</tbody></table>\n",
        f'<script id="units-data" type="application/json">{_script_json(data)}</script>\n',
        f"<script>{SCRIPT}</script>\n</body></html>\n",
    ])


def main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog="seq-hooks report", usage="--html FILE [-n N]", summary=SUMMARY)
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
    outfile.write(target, text)
    locks = len({u["lock"] for u in data})
    sys.stdout.write(f"wrote {target}: {len(data)} unit{'s' if len(data) != 1 else ''} in {locks} "
                     f"lock{'s' if locks != 1 else ''}\n")
    return OK
