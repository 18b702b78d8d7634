"""`seq-hooks clean [--dry-run]`: removes stale queue entries, ends leftover processes of dead runs,
and stops the resident daemons (atomic-mypy's mypy daemons: by the pid and start time in their
records).

Processes are found by their run token (SEQ_HOOKS_RUN) only, never by name: the guides' kill-orphans
script ended every pytest on the machine. Nothing else is touched.
"""
from __future__ import annotations

import sys

from seq_hooks import context, display, leftovers, logfile
from seq_hooks.errors import FAILED, OK
from seq_hooks.lock import admission, tickets, wakeup
from seq_hooks.options import Option, parse
from seq_hooks.process import proctree, rungroup
from seq_hooks.sharedtree import view

OPTIONS = (Option(("--dry-run",), "dry_run", help="say what would be done, do nothing"),)
SUMMARY = (
    "Remove queue tickets whose process is dead (and empty nested queues), end the "
    "processes still carrying the run token of a dead run (a dead commit's stash is put "
    "back first), remove the cgroups (--max-procs) of runs that are over, and stop the resident "
    "daemons (atomic-mypy's). Never matches processes by name. Snapshots kept under "
    "refs/seq-hooks/kept/ are listed, never removed."
)


def _say(text: str) -> None:
    # names from the state dir never drive the terminal
    sys.stdout.write(display.clean(text) + "\n")


def _proc(pid: int) -> str:
    return f"pid {pid} ({display.fit(display.clean(proctree.cmdline(pid)) or '?', 80)})"


def _ticket(s: leftovers.StaleTicket) -> str:
    t = s.ticket
    name = s.path.rsplit("/", 1)[-1]
    if t is None:
        return f"{s.lock_id}/{name} (unreadable)"
    return f"{s.lock_id}/{name} (pid {t.pid}, {display.fit(display.command(t.argv), 80)})"


def _end_leftovers(found: list[leftovers.Leftover], dry: bool, grace: float) -> tuple[int, bool]:
    """Ends (or, dry, names) the processes of dead runs: (how many, whether all that should end
    did)."""
    did = 0
    ok = True
    for lo in found:
        short = lo.token[:12]
        if dry:
            for pid in lo.pids:
                _say(f"would end {_proc(pid)} of dead run {short}: {lo.why}")
            did += len(lo.pids)
            continue
        names = {pid: _proc(pid) for pid in lo.pids}
        ended, survivors = leftovers.end(lo, grace)
        for pid in ended:
            _say(f"ended {names[pid]} of dead run {short}: {lo.why}")
        for pid in survivors:
            _say(
                f"could not end {names[pid]} of dead run {short} (not ours to signal, or "
                "unkillable)"
            )
            ok = False
        did += len(ended)
    return did, ok


def _remove_stale(
    state: str, stale: list[leftovers.StaleTicket], dry: bool
) -> tuple[int, frozenset[str]]:
    """Removes (or, dry, names) the stale tickets: (how many, the paths a dry run counts as
    gone)."""
    if dry:
        for s in stale:
            _say(f"would remove stale ticket {_ticket(s)}")
        return len(stale), frozenset(s.path for s in stale)
    removed = []
    for lock_id, qdir in tickets.all_queues(state):
        removed += leftovers.remove_stale(qdir, lock_id)
        for gate in admission.stale_gates(qdir):  # a dead waiter's gate (a lock with slots)
            tickets.remove(gate)
    for s in removed:
        _say(f"removed stale ticket {_ticket(s)}")
    return len(removed), frozenset()


def _replace_release_fifos(state: str, dry: bool) -> tuple[int, bool]:
    """Removes (or, dry, names) what is in the place of a queue's release FIFO but is not one we can
    use (a waiter makes a new FIFO): (how many, whether each could be removed)."""
    did, ok = 0, True
    for lock_id, qdir in tickets.all_queues(state):
        problem = wakeup.problem(qdir)
        if not problem:
            continue
        what = f"{display.clean(lock_id)}/{tickets.RELEASE}, which {problem}"
        if dry:
            _say(f"would remove {what} (the next waiter makes a FIFO there)")
        elif tickets.remove(wakeup.fifo_path(qdir)):
            _say(f"removed {what} (the next waiter makes a FIFO there)")
        else:
            _say(
                f"could not remove {what}: remove it yourself (a directory that is not empty is "
                "not ours to empty)"
            )
            ok = False
            continue
        did += 1
    return did, ok


def _remove_nested(state: str, gone: frozenset[str], dry: bool) -> int:
    did = 0
    for path in leftovers.empty_nested(state, tickets.live_tokens(state), gone):
        rel = path[len(tickets.locks_root(state)) + 1 :]
        if dry:
            _say(f"would remove empty nested queue {rel}")
        elif leftovers.remove_nested(path):
            _say(f"removed empty nested queue {rel}")
        else:
            continue
        did += 1
    return did


def _remove_groups(state: str, stale: list[leftovers.StaleTicket], log_dir: str, dry: bool) -> int:
    """Removes (or, dry, names) the empty cgroups of runs that are over (`--max-procs`)."""
    did = 0
    for g in leftovers.groups(state, stale, log_dir):
        if dry:
            _say(f"would remove cgroup {g.path} of run {g.token[:12]}: {g.why}")
        elif rungroup.RunGroup(g.path).remove(patience=rungroup.REAPED):
            _say(f"removed cgroup {g.path} of run {g.token[:12]}: {g.why}")
        else:
            continue
        did += 1
    return did


def _stop_daemons(state: str, dry: bool) -> tuple[int, bool]:
    """Stops (or, dry, names) the resident daemons (atomic-mypy's): (how many, whether all are
    gone)."""
    from seq_hooks.daemons import record, tend  # only where daemons live

    if dry:
        recs = record.all_records(state)
        for r in recs:
            _say(f"would stop the {r.kind} daemon of {r.worktree} (pid {r.pid})")
        return len(recs), True
    stopped, left = tend.stop_all(state)
    for r in stopped:
        _say(f"stopped the {r.kind} daemon of {r.worktree} (pid {r.pid})" if r.pid else
             f"forgot that the {r.kind} daemon of {r.worktree} could not start")
    for r in left:
        _say(
            f"could not stop the {r.kind} daemon of {r.worktree} (pid {r.pid}: not ours to signal, "
            "or unkillable)"
        )
    return len(stopped) + len(left), not left


def main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog="seq-hooks clean", usage="[--dry-run]", summary=SUMMARY)
    dry = parsed.flag("dry_run")
    ctx = context.load()
    state = ctx.state_dir
    log_dir = logfile.log_dir(ctx.settings, state, ctx.project.root)
    stale, found, untouched = leftovers.find(state, log_dir)
    ended, ok = _end_leftovers(found, dry, ctx.settings.kill_after)
    groups = _remove_groups(state, stale, log_dir, dry)  # emptied by the line above
    removed, gone = _remove_stale(state, stale, dry)
    replaced, replaced_ok = _replace_release_fifos(state, dry)
    ok = ok and replaced_ok
    stopped, all_stopped = _stop_daemons(state, dry)
    ok = ok and all_stopped
    did = ended + groups + removed + replaced + _remove_nested(state, gone, dry) + stopped
    for u in untouched:
        pids = ", ".join(str(p) for p in u.pids)
        _say(
            f"left alone: pid {pids} of run {u.token[:12]}: it has no ticket and no journal record "
            "yet and hangs "
            f"under live {_proc(u.parent)} (a --no-lock run, most likely)"
        )
    for k in view.kept(ctx.project.root):  # the user's edits: said, never removed
        _say(view.kept_line(k))
    if not did:
        _say("nothing to clean")
    return OK if ok else FAILED
