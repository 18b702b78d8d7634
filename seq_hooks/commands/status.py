"""`seq-hooks status [--json] [--watch]`: who holds each lock of the project and who waits, in order."""
from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from typing import TextIO

from seq_hooks import context, display, queue_view
from seq_hooks.errors import OK, UsageError
from seq_hooks.options import Option, parse
from seq_hooks.queue_view import QueueView, Snapshot

OPTIONS = (
    Option(("--json",), "json", help="print one JSON object (documented in the README) and exit"),
    Option(("--watch",), "watch", help="redraw about every second until Ctrl-C"),
)
SUMMARY = ("For every lock of the project: the holder (pid, command, time held, memory of its tree now) and the "
           "waiters in order. Reads the queue files without taking any lock.")
_GREEN, _YELLOW, _RED, _DIM, _BOLD = "32", "33", "31", "2", "1"
Line = list[tuple[str, str]]


def _queue_lines(q: QueueView, owner: int | None) -> list[Line]:
    pad = "  " * (q.depth + 1)
    if q.parent is None:
        head: Line = [("lock ", _BOLD), (q.lock_id, _BOLD)]
    else:
        # a nested queue is keyed by its holder's run token: the calls made under that holder, one at a time
        whose = f" (calls made under pid {owner})" if owner is not None else ""
        head = [("  " * q.depth, ""), ("nested ", _BOLD), (q.lock_id.rsplit("/", 1)[-1][:12], _BOLD), (whose, "")]
    if q.holder is None and not q.waiting and not q.stale:
        head.append((": free", _DIM))
    lines = [head]
    if q.holder is not None:
        h = q.holder
        lines.append([
            (pad, ""), ("holding    ", _GREEN), (f"pid {h.ticket.pid:<7} ", ""),
            (f"for {display.seconds(h.elapsed_s):<8} ", ""),
            (f"tree {display.megabytes(h.tree_rss_mb)} in {h.tree_procs} proc{'s' if h.tree_procs != 1 else ''}  ",
             ""),
            (display.command(h.ticket.argv), ""),
        ])
    for w in q.waiting:
        lines.append([
            (pad, ""), (f"waiting {w.position:<3}", _YELLOW), (f"pid {w.ticket.pid:<7} ", ""),
            (f"for {display.seconds(w.waited_s):<8} ", ""), (display.command(w.ticket.argv), ""),
        ])
    for t in q.stale:
        lines.append([
            (pad, ""), ("stale      ", _RED), (f"pid {t.pid:<7} ", ""), (f"ticket {t.number}  ", ""),
            (display.command(t.argv), ""), ("  (its process is gone; seq-hooks clean removes it)", _DIM),
        ])
    return lines


def render(snap: Snapshot, width: int | None, colour: bool) -> list[str]:
    """The text of a snapshot, each line cut to `width` (None: no cut)."""
    lines: list[Line] = []
    if not snap.queues:
        lines.append([("no lock has been used in this project yet", _DIM)])
    holders = {q.lock_id: q.holder.ticket.pid for q in snap.queues if q.holder is not None}
    for q in snap.queues:
        lines.extend(_queue_lines(q, holders.get(q.parent) if q.parent else None))
    if width is None:
        return ["".join(display.paint(text, code, colour) for text, code in line) for line in lines]
    return [display.fit_parts(line, width, colour) for line in lines]


def _frame_tty(out: TextIO, lines: list[str], rows: int) -> None:
    if len(lines) > rows:
        lines = [*lines[: rows - 1], f"… {len(lines) - rows + 1} more lines (a taller terminal shows them)"]
    # home, each line cleared to its end, then the rest of the screen cleared: redrawn in place without flicker
    out.write("\x1b[H" + "\x1b[K\r\n".join(lines) + "\x1b[K\x1b[J")
    out.flush()


def watch(state_dir: str, out: TextIO, interval: float = 1.0) -> int:
    tty = out.isatty()
    colour = display.use_colour(out)
    restore = ""

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    # Ctrl-C is how a watch ends, even when started with SIGINT ignored (a background job of a script)
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if tty:
            out.write("\x1b[?1049h\x1b[?25l")  # alternate screen, cursor hidden: restored in `finally`
            restore = "\x1b[?25h\x1b[?1049l"
        while True:
            started = time.monotonic()
            size = shutil.get_terminal_size()
            snap = queue_view.snapshot(state_dir)
            title = f"seq-hooks status  {time.strftime('%H:%M:%S')}  (Ctrl-C to quit)"
            if tty:
                lines = [display.fit_parts([(title, _DIM)], size.columns, colour),
                         *render(snap, size.columns, colour)]
                _frame_tty(out, lines, max(size.lines, 2))
            else:
                out.write("\n".join([title, *render(snap, None, False)]) + "\n\n")
                out.flush()
            time.sleep(max(0.05, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return OK
    finally:
        if restore:
            try:
                out.write(restore)
                out.flush()
            except (OSError, ValueError):
                pass
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog="seq-hooks status", usage="[--json] [--watch]", summary=SUMMARY)
    if parsed.flag("json") and parsed.flag("watch"):
        raise UsageError("--json and --watch do not go together")
    ctx = context.load()
    if parsed.flag("watch"):
        return watch(ctx.state_dir, sys.stdout)
    snap = queue_view.snapshot(ctx.state_dir)
    if parsed.flag("json"):
        sys.stdout.write(json.dumps(queue_view.as_json(snap)) + "\n")
        return OK
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    text = render(snap, width, display.use_colour(sys.stdout))
    sys.stdout.write("\n".join(text) + "\n")
    return OK

