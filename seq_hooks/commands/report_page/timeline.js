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
