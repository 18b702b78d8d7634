"""Checks of seq-hooks' own setup: the configuration, the state dir, the logs, stale queue entries
and leftover processes, the git hook, the shared working tree (a commit's stash, kept snapshots)."""
from __future__ import annotations

import os
import stat

from seq_hooks import display, githook, leftovers, logfile, project
from seq_hooks.checks import INFO, OK, PROBLEM, WARNING, Finding, Scene
from seq_hooks.errors import FatalError
from seq_hooks.lock import admission, tickets, wakeup
from seq_hooks.process import proctree
from seq_hooks.sizes import MB


def configuration(scene: Scene) -> list[Finding]:
    if scene.config_error is not None:
        return [Finding(PROBLEM, "configuration", scene.config_error,
                        "correct it: every seq-hooks command refuses to run until then")]
    source = scene.settings.source
    text = f"{source}: [tool.seq-hooks] parses" if source != "defaults" else \
        "defaults (no [tool.seq-hooks] in pyproject.toml)"
    return [Finding(OK, "configuration", text)]


def state_dir_usable(path: str) -> tuple[bool, list[Finding]]:
    """(usable, findings): whether the queue in the state dir `path` may be read."""
    topic = "state dir"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False, [
            Finding(
                INFO,
                topic,
                f"{path} does not exist yet (the first run makes it, mode {project.MADE_MODE:04o})",
            )
        ]
    except OSError as e:
        return False, [
            Finding(PROBLEM, topic, f"{path}: {e.strerror}", "check the path and its parents")
        ]
    why = project.refusal(path, st)  # what every run does with it
    if why is not None:
        return False, [
            Finding(
                PROBLEM,
                topic,
                f"{why}: every seq-hooks command refuses it",
                "remove it or correct it as said, or set SEQ_HOOKS_HOME to a directory of yours",
            )
        ]
    mode = stat.S_IMODE(st.st_mode)
    if mode & ~project.MADE_MODE & 0o777:
        return True, [
            Finding(
                PROBLEM,
                topic,
                f"{path} has mode {mode:04o}: others can read the queue and the logs",
                f"chmod {project.MADE_MODE:o} {path} (runs use it as it is: "
                f"{project.KEEPS_WHAT_IT_FINDS})",
            )
        ]
    if not os.access(path, os.W_OK | os.X_OK):
        return False, [Finding(PROBLEM, topic, f"{path} is not writable", f"chmod u+rwx {path}")]
    return True, [Finding(OK, topic, f"{path}: yours, mode {mode:04o}")]


def state_dir(scene: Scene) -> list[Finding]:
    if scene.state_error is not None:
        return [
            Finding(
                PROBLEM,
                "state dir",
                f"{scene.state_error}: every seq-hooks command refuses it",
                "give a full path",
            )
        ]
    return state_dir_usable(scene.state)[1]


def logs(scene: Scene) -> list[Finding]:
    if not scene.state_usable:
        return []
    settings = scene.settings
    log_dir = logfile.log_dir(settings, scene.state, scene.root)
    names = logfile.logs(log_dir)
    size = 0
    for n in names:
        try:
            size += os.stat(os.path.join(log_dir, n)).st_size
        except OSError:
            pass
    keep = (
        f"keep_logs {settings.keep_logs or 'unlimited'}, keep_logs_mb "
        f"{settings.keep_logs_mb or 'unlimited'}"
    )
    return [Finding(OK, "logs", f"{len(names)} run logs, {size / MB:.1f} MB in {log_dir} ({keep})")]


def queues(scene: Scene) -> list[Finding]:
    """Stale queue entries and leftover processes of dead runs."""
    if not scene.state_usable:
        return []
    log_dir = logfile.log_dir(scene.settings, scene.state, scene.root)
    stale, found, untouched = leftovers.find(scene.state, log_dir)
    out = []
    for s in stale:
        t = s.ticket
        name = os.path.basename(s.path)
        what = f"pid {t.pid} ({display.fit(display.command(t.argv), 60)})" if t else "unreadable"
        held = (
            " while holding the lock"
            if t is not None and t.granted is not None
            else " while waiting"
        )
        out.append(Finding(PROBLEM, "stale ticket",
                           f"lock {s.lock_id}: {name}, {what}, is dead: it died{held if t else ''}",
                           "seq-hooks clean (the next caller of that lock also removes it)"))
    for lo in found:
        procs = ", ".join(
            f"{pid} ({display.fit(display.clean(proctree.cmdline(pid)), 50)})" for pid in lo.pids
        )
        out.append(Finding(PROBLEM, "leftover processes",
                           f"run {lo.token[:12]}: {lo.why}; still running: pid {procs}",
                           "seq-hooks clean (ends them by their run token, TERM then KILL)"))
    for g in leftovers.groups(scene.state, stale, log_dir):
        out.append(Finding(PROBLEM, "leftover cgroup", f"{g.path}, run {g.token[:12]}: {g.why}",
                           "seq-hooks clean (removes it; the next run's take-over also does)"))
    for u in untouched:
        out.append(
            Finding(
                INFO,
                "unknown run",
                f"pid {', '.join(map(str, u.pids))} carry run {u.token[:12]}, which has no ticket "
                "and no "
                f"journal record; they hang under live pid {u.parent}, so it is most likely a "
                "`--no-lock` run in progress: left alone",
            )
        )
    for lock_id, qdir in tickets.all_queues(scene.state):
        if problem := wakeup.problem(qdir):
            out.append(
                Finding(
                    PROBLEM,
                    "release FIFO",
                    f"lock {display.clean(lock_id)}: {tickets.RELEASE} {problem}: a waiting head "
                    "cannot be "
                    "told of a release (it looks again every "
                    f"{admission.RELEASE_RECHECK:g} s)",
                    "seq-hooks clean (removes it; the next waiter makes a FIFO there)",
                )
            )
    if not out:
        out.append(Finding(OK, "queues", "no stale tickets, no leftover processes of dead runs"))
    return out


def git_hook(scene: Scene) -> list[Finding]:
    try:
        loc = githook.locate(scene.root)
    except FatalError as e:
        return [Finding(INFO, "git hook", f"not checked: {e.message}")]
    where = loc.hooks_dir + (f" (core.hooksPath {loc.hooks_path})" if loc.hooks_path else "")
    states = githook.installed(loc)
    if not states:
        return [
            Finding(
                INFO,
                "git hook",
                f"not installed in {where}: commits run their hooks outside the lock",
                "seq-hooks install-git-hook (optional: the atomic-* hooks queue on their own)",
            )
        ]
    out = []
    for h in states:
        if h.state == "moved":
            out.append(
                Finding(
                    PROBLEM,
                    "git hook",
                    f"{h.hook_type}: `pre-commit install` moved ours to {h.hook_type}.legacy, so "
                    "pre-commit's hooks run outside the lock",
                    "seq-hooks install-git-hook",
                )
            )
        elif not os.access(h.path, os.X_OK):
            out.append(
                Finding(
                    PROBLEM,
                    "git hook",
                    f"{h.path} is ours but not executable: git skips it",
                    f"chmod +x {h.path}",
                )
            )
        elif why := githook.stash_window(h, scene.root):
            out.append(
                Finding(
                    WARNING,
                    "git hook",
                    f"{h.hook_type}: {why}: pre-commit runs in a process of its own after the "
                    "chain's "
                    "stash, and a save landing while it starts (a few hundred ms) makes it stash "
                    "and "
                    "check out the whole tree itself (docs/git.md)",
                    "pre-commit in seq-hooks' environment (`pipx inject seq-hooks pre-commit`, or "
                    "both "
                    "in one venv), then seq-hooks install-git-hook again (for prek's hook: "
                    "seq-hooks "
                    "uninstall-git-hook, pre-commit install, seq-hooks install-git-hook)",
                )
            )
        else:
            out.append(Finding(OK, "git hook", f"{h.hook_type}: ours, in {where}"))
    return out


def shared_tree(scene: Scene) -> list[Finding]:
    """A commit that has files at their index version now, a dead commit's stash not put back yet,
    and the snapshots kept under refs/seq-hooks/kept/ (docs/design.md, "A shared working tree")."""
    from seq_hooks.sharedtree import view  # git plumbing: only for this check

    topic = "working tree"
    out = []
    for s in view.stashed(scene.state) if scene.state_usable else []:
        if s.live:
            out.append(Finding(INFO, topic, view.stashed_line(s)))
        else:
            out.append(
                Finding(
                    WARNING,
                    topic,
                    view.stashed_line(s),
                    "seq-hooks status (any command puts it back)",
                )
            )
    for k in view.kept(scene.root):
        out.append(Finding(INFO, topic, view.kept_line(k)))
    return out or [Finding(OK, topic, "no commit has files stashed, no snapshot kept")]
