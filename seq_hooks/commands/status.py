"""`seq-hooks status [--json] [--watch]`: who holds each lock of the project and who waits, in
order."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time

from seq_hooks import context, display, queue_view, sizes
from seq_hooks.commands import watchkeys
from seq_hooks.config import Settings
from seq_hooks.daemons import tend
from seq_hooks.errors import OK, UsageError, signalled
from seq_hooks.lock import capacity
from seq_hooks.lock.tickets import TicketInfo
from seq_hooks.options import Option, parse
from seq_hooks.process import machine
from seq_hooks.queue_view import QueueView, Snapshot
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from typing import TextIO

OPTIONS = (
    Option(
        ("--json",), "json", help="print one JSON object (documented in docs/commands.md) and exit"
    ),
    Option(
        ("--watch",),
        "watch",
        help="redraw about every second until Ctrl-C; on a terminal, k ends the running "
        "unit (after a confirmation) and q quits",
    ),
)
SUMMARY = (
    "For every lock of the project: the holder (pid, command, time held, memory of its tree now) "
    "and the "
    "waiters in order; the resident daemons (atomic-mypy's: pid, memory, idle since, worktree); "
    "then the "
    "machine: available memory, load, the running units' processes. Reads the queue files without "
    "taking "
    "any lock."
)
_GREEN, _YELLOW, _RED, _DIM, _BOLD = "32", "33", "31", "2", "1"
Line = list[tuple[str, str]]


def _stopped(yes: bool) -> Line:
    """A stopped holder or waiter holds up the whole queue until it gets SIGCONT: said where it
    is."""
    return [("stopped ", _RED)] if yes else []


def _memory(t: TicketInfo) -> Line:
    """The warning its runner noted when the tree passed 50% or 75% of its memory limit (the guides'
    monitor's)."""
    if not t.memory_level:
        return []
    code = _RED if t.memory_level >= 75 else _YELLOW
    return [(f"passed {t.memory_level}% of {sizes.megabytes(t.limit_mb)}  ", code)]


def _deadline(h: queue_view.Holder) -> Line:
    """`ends in 1.9s (pipeline deadline 10:42:07)`: when its unit is killed, and by what."""
    if h.deadline_left_s is None:
        return []
    t = h.ticket
    by = (
        f"pipeline deadline {display.clock(t.pipeline_deadline)}"
        if queue_view.deadline_of(t) == "pipeline"
        else "its timeout"
    )
    code = _RED if h.deadline_left_s < 60 else ""
    return [(f"ends in {display.seconds(h.deadline_left_s)} ({by})  ", code)]


def _queue_lines(q: QueueView, owner: int | None) -> list[Line]:
    pad = "  " * (q.depth + 1)
    if q.parent is None:
        head: Line = [("lock ", _BOLD), (q.lock_id, _BOLD)]
    else:
        # a nested queue is keyed by its holder's run token: the calls made under that holder, one
        # at a time
        whose = f" (calls made under pid {owner})" if owner is not None else ""
        head = [
            ("  " * q.depth, ""),
            ("nested ", _BOLD),
            (q.lock_id.rsplit("/", 1)[-1][:12], _BOLD),
            (whose, ""),
        ]
    if q.holder is None and not q.waiting and not q.stale:
        head.append((": free", _DIM))
    if q.room is not None:
        head.append((_room(q.room, len(q.holders)), _DIM))
    lines = [head]
    for h in q.holders:
        lines.append(
            [
                (pad, ""),
                ("holding    ", _GREEN),
                *_stopped(h.stopped),
                (f"pid {h.ticket.pid:<7} ", ""),
                (f"for {display.seconds(h.elapsed_s):<8} ", ""),
                (
                    f"tree {sizes.megabytes(h.tree_rss_mb)} in {h.tree_procs} "
                    f"proc{'s' if h.tree_procs != 1 else ''}  ",
                    "",
                ),
                *_memory(h.ticket),
                *_deadline(h),
                (expected(h.ticket), ""),
                (display.command(h.ticket.argv), ""),
            ]
        )
    for w in q.waiting:
        reasons = (
            [r for r in (q.room.why, q.room.release) if r]
            if q.room is not None and w.position == 1
            else []
        )
        why = f"({'; '.join(reasons)}) " if reasons else ""
        lines.append(
            [
                (pad, ""),
                (f"waiting {w.position:<3}", _YELLOW),
                *_stopped(w.stopped),
                (f"pid {w.ticket.pid:<7} ", ""),
                (f"for {display.seconds(w.waited_s):<8} ", ""),
                (why, _YELLOW),
                (expected(w.ticket), ""),
                (display.command(w.ticket.argv), ""),
            ]
        )
    for t in q.stale:
        lines.append(
            [
                (pad, ""),
                ("stale      ", _RED),
                (f"pid {t.pid:<7} " if t.readable else "", ""),
                (f"ticket {t.number}  ", ""),
                (display.command(t.argv) if t.readable else "(unreadable)", ""),
                ("  (its process is gone; the next caller or seq-hooks clean removes it)", _DIM),
            ]
        )
    return lines


def expected(t: TicketInfo) -> str:
    """`expected 142.0 MB (history of 3 runs)  `, `expected 11.8 GB (no history: the whole budget)
    `, `expected 142.0 MB (history of 1 run, revised at 08:12:03)  `: a unit's expected peak on a
    lock with slots or a budget."""
    if not t.expected_mb:
        return ""
    why = capacity.said(t.expected_from, t.expected_runs) if t.expected_from else ""
    if t.expected_revised:
        why += f", revised at {time.strftime('%H:%M:%S', time.localtime(t.expected_revised))}"
    return f"expected {sizes.megabytes(t.expected_mb)}" + (f" ({why})  " if why else "  ")


def _room(room: queue_view.Room, holding: int) -> str:
    """`  2/4 slots, budget 3.1 GB of 8.0 GB expected (4.9 GB free)`: how full a lock with slots or
    a budget is, and where those are the defaults, what they are."""
    text = f"  {holding}/{room.slots} slots"
    if room.budget_mb:
        text += (
            f", budget {sizes.megabytes(room.used_mb)} of {sizes.megabytes(room.budget_mb)} "
            "expected "
            f"({sizes.megabytes(max(room.budget_mb - room.used_mb, 0))} free)"
        )
    if room.defaults:
        text += " (the defaults: a slot per CPU, half the memory; slots = 1 for one at a time)"
    return text


class Machine(NamedTuple):
    # what can be had without swapping (under a cgroup limit, the room left there)
    available_mb: int
    load: tuple[float, float, float]
    units: int  # running units (holders of a top-level lock; nested ones run inside them)
    procs: int  # processes in their trees


def machine_now(snap: Snapshot) -> Machine:
    top = [h for q in snap.queues if q.parent is None for h in q.holders]
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return Machine(machine.memory_available_mb(), load, len(top), sum(h.tree_procs for h in top))


def _machine_line(m: Machine) -> Line:
    units = (
        f"{m.units} running unit{'s' if m.units != 1 else ''}, {m.procs} "
        f"process{'es' if m.procs != 1 else ''}"
    )
    return [("machine: ", _BOLD), (f"{sizes.megabytes(m.available_mb)} available, ", ""),
            (f"load {m.load[0]:.2f} {m.load[1]:.2f} {m.load[2]:.2f}, ", ""), (units, "")]


def _daemon_lines(daemons: list[tend.View]) -> list[Line]:
    """`daemon mypy  pid 123  312 MB  idle 4m  /work/wt-a`: each live daemon (atomic-mypy's), last
    used first."""
    return [
        [
            ("daemon ", _BOLD),
            (f"{d.kind:<5} ", ""),
            (f"pid {d.pid:<7} ", ""),
            (f"{sizes.megabytes(d.memory_mb):<8} ", ""),
            (f"idle {display.seconds(d.idle_s):<8} " if d.ready else "warming up    ", ""),
            (d.worktree, ""),
        ]
        for d in daemons
    ]


def tree_lines(state_dir: str, root: str, *, kept: bool = True) -> list[Line]:
    """A commit that has files at their index version now (docs/design.md, "A shared working tree"),
    and the snapshots kept under refs/seq-hooks/kept/ (a git call: not redrawn by --watch)."""
    from seq_hooks.sharedtree import view  # git plumbing: only when shown

    lines: list[Line] = [[("stashed ", _YELLOW if s.live else _RED), (view.stashed_line(s), "")]
                         for s in view.stashed(state_dir)]
    if kept:
        lines += [
            [("kept ", _BOLD), (view.kept_line(k)[len("kept ") :], "")] for k in view.kept(root)
        ]
    return lines


def render(snap: Snapshot, width: int | None, colour: bool, m: Machine | None = None,
           tree: list[Line] | None = None) -> list[str]:
    """The text of a snapshot, each line cut to `width` (None: no cut), the working tree's lines,
    then the machine's line last."""
    lines: list[Line] = []
    if not snap.queues:
        lines.append([("no lock has been used in this project yet", _DIM)])
    owners = {h.ticket.token: h.ticket.pid for q in snap.queues for h in q.holders}
    for q in snap.queues:  # a nested queue is named after its holder's token
        lines.extend(
            _queue_lines(q, owners.get(q.lock_id.rsplit("/", 1)[-1]) if q.parent else None)
        )
    lines.extend(tree or [])
    lines.append(_machine_line(m or machine_now(snap)))
    # what came from the state dir (a queue's directory name, a ticket's fields) never drives the
    # terminal
    lines = [[(display.clean(text), code) for text, code in line] for line in lines]
    if width is None:
        return ["".join(display.paint(text, code, colour) for text, code in line) for line in lines]
    return [display.fit_parts(line, width, colour) for line in lines]


def _frame_tty(out: TextIO, lines: list[str], rows: int) -> None:
    if len(lines) > rows:
        lines = [
            *lines[: rows - 1],
            f"… {len(lines) - rows + 1} more lines (a taller terminal shows them)",
        ]
    # home, each line cleared to its end, then the rest of the screen cleared: redrawn in place
    # without flicker
    out.write("\x1b[H" + "\x1b[K\r\n".join(lines) + "\x1b[K\x1b[J")
    out.flush()


def _draw(
    out: TextIO, snap: Snapshot, keys: bool, line: str, tree: list[Line] | None = None
) -> None:
    help_text = watchkeys.HELP + ", Ctrl-C" if keys else "Ctrl-C to quit"
    title = f"seq-hooks status  {time.strftime('%H:%M:%S')}  ({help_text})"
    if not out.isatty():
        out.write("\n".join([title, *render(snap, None, False, tree=tree)]) + "\n\n")
        out.flush()
        return
    size = shutil.get_terminal_size()
    colour = display.use_colour(out)
    head = [display.fit_parts([(title, _DIM)], size.columns, colour)]
    if line:
        head.append(display.fit_parts([(display.clean(line), _BOLD)], size.columns, colour))
    _frame_tty(out, [*head, *render(snap, size.columns, colour, tree=tree)], max(size.lines, 2))


def _act(
    out: TextIO, state_dir: str, snap: Snapshot, action: watchkeys.Action, grace: float
) -> watchkeys.Mode:
    """Ends the confirmed unit, if it still runs; the answer becomes the next prompt line."""
    target = action.end
    if target is None:
        return action.mode
    now = queue_view.snapshot(state_dir)
    if not watchkeys.still_running(target, now):
        return watchkeys.Mode(note=f"unit pid {target.ticket.pid} has ended already")
    _draw(out, now, True, f"ending unit pid {target.ticket.pid}: TERM, KILL after {grace:g}s …")
    return watchkeys.Mode(note=watchkeys.end_unit(target, grace))


def _loop(state_dir: str, out: TextIO, interval: float, grace: float, keys: watchkeys.Keys | None,
          settings: Settings | None = None) -> int:
    mode = watchkeys.Mode()
    while True:
        started = time.monotonic()
        snap = queue_view.snapshot(state_dir, settings)
        _draw(
            out,
            snap,
            keys is not None,
            watchkeys.prompt(mode),
            tree_lines(state_dir, "", kept=False),
        )
        left = max(0.05, interval - (time.monotonic() - started))
        if keys is None:
            time.sleep(left)
            continue
        for key in keys.wait(left):
            action = watchkeys.press(mode, key, snap)
            if action.quit:
                return OK
            mode = _act(out, state_dir, snap, action, grace)


def watch(state_dir: str, out: TextIO, interval: float = 1.0, grace: float = 5.0,
          settings: Settings | None = None) -> int:
    """Redraws until Ctrl-C (or q); on a terminal that is also our standard input, with keys."""
    tty = out.isatty()

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(signalled(signum))

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    # Ctrl-C is how a watch ends, even when started with SIGINT ignored (a background job of a
    # script)
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with contextlib.ExitStack() as stack:
            if tty:
                # alternate screen, cursor hidden: restored on the way out
                out.write("\x1b[?1049h\x1b[?25l")
                stack.callback(_restore, out)
            keys = (
                stack.enter_context(watchkeys.Keys(0)) if tty and watchkeys.Keys.usable(0) else None
            )
            return _loop(state_dir, out, interval, grace, keys, settings)
    except KeyboardInterrupt:
        return OK
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _restore(out: TextIO) -> None:
    try:
        out.write("\x1b[?25h\x1b[?1049l")
        out.flush()
    except (OSError, ValueError):
        pass


def main(argv: list[str]) -> int:
    parsed = parse(
        argv, OPTIONS, prog="seq-hooks status", usage="[--json] [--watch]", summary=SUMMARY
    )
    if parsed.flag("json") and parsed.flag("watch"):
        raise UsageError("--json and --watch do not go together")
    ctx = context.load()
    if parsed.flag("watch"):
        return watch(
            ctx.state_dir, sys.stdout, grace=ctx.settings.kill_after, settings=ctx.settings
        )
    snap = queue_view.snapshot(ctx.state_dir, ctx.settings)
    m = machine_now(snap)
    daemons = tend.views(ctx.state_dir)
    if parsed.flag("json"):
        doc = queue_view.as_json(snap)
        doc["machine"] = {
            "available_mb": m.available_mb,
            "load": list(m.load),
            "running_units": m.units,
            "running_procs": m.procs,
        }
        from seq_hooks.sharedtree import view  # git plumbing: only when shown

        doc["stashed"] = [s.as_dict() for s in view.stashed(ctx.state_dir)]
        doc["kept"] = [k.as_dict() for k in view.kept(ctx.project.root)]
        doc["daemons"] = [d.as_dict() for d in daemons]
        sys.stdout.write(json.dumps(doc) + "\n")
        return OK
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    text = render(snap, width, display.use_colour(sys.stdout), m,
                  [*tree_lines(ctx.state_dir, ctx.project.root), *_daemon_lines(daemons)])
    sys.stdout.write("\n".join(text) + "\n")
    return OK
