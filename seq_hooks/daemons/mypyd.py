"""atomic-mypy's warm mypy: one mypy daemon (dmypy) per worktree, interpreter and options, sent each
unit.

The daemon keeps mypy's state in memory and re-checks only what changed since the last unit. A
commit never waits for one to start: while a worktree has no warm daemon, its unit runs plain mypy
(as without seq-hooks), and then starts one, which checks that unit's files first at the lowest CPU
priority and only then listens (dmypy_serve.py); a unit that comes while it warms up runs plain mypy
too. A warm daemon's unit is its client, `python -I -S dmypy_check.py STATUS -- FILES` (the same
files as the plain unit; mypy's own client where the daemon's mypy frames messages otherwise), run
through the lock and the supervisor like any unit. The answer is mypy's own or none:
- the daemon runs with the unit's own options, in the unit's directory, by the interpreter that runs
  mypy;
- it is started again when anything it cannot see has changed since it started: the interpreter,
  mypy and the installed packages (the directories of its sys.path and of the checked interpreter's
  site-packages: installing or upgrading a package changes them), the configuration files mypy would
  read and plugins (`record.seen`);
- a client that does not end with mypy's exit 0 or 1 (a crash, an internal error, a timeout, a
  blocking error such as a syntax error, where the daemon's summary differs from mypy's: dmypy_serve
  makes that exit 2) ends the daemon, and the unit runs plain mypy, said in one line; the next unit
  starts a fresh daemon. So does a warm answer with fewer `Cannot determine type` errors than plain
  mypy's or the daemon's last one: errors that come from the order mypy checks an import cycle in,
  which a warm daemon can leave out (it re-checks a module outside its cycle): it would again at
  the next edit, so plain mypy answers until the configuration changes;
- options the daemon refuses (`--follow-imports=silent`), or a daemon not listening START_S after
  its start: plain mypy, said once, until the configuration changes.
The daemon is not a child of any unit: started here (spawn, its own process group), it carries its
own run token and envnames.DAEMON, so the supervisors of the units and of `seq-hooks git` neither
wait for it nor count it, and `status`, `clean` and `doctor` find it by its record
(daemons/record.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

from seq_hooks import envnames, runner
from seq_hooks.config import DEFAULT_LOCK
from seq_hooks.daemons import record, tend
from seq_hooks.daemons.dmypy_serve import order_errors, stamp
from seq_hooks.daemons.record import Record
from seq_hooks.errors import FatalError, Reason
from seq_hooks.process import proctree
from seq_hooks.process.spawn import spawn
from seq_hooks.project import open_private
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

    from seq_hooks.config import Settings
    from seq_hooks.runner import Request, Result

SERVE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dmypy_serve.py")
CHECK = os.path.join(os.path.dirname(SERVE), "dmypy_check.py")
IDLE_S = 900.0  # `daemon_idle_s`: a daemon unused this long stops
# a daemon not listening this long after its start is ended (plain mypy until its configuration
# changes)
START_S = 120.0
MIN_MB = 256  # room made for a new daemon that has never run here
# options the daemon does not honour (reports are written by plain mypy only)
PLAIN_ONLY = (
    "--junit-xml",
    "--any-exprs-report",
    "--cobertura-xml-report",
    "--html-report",
    "--linecount-report",
    "--linecoverage-report",
    "--lineprecision-report",
    "--txt-report",
    "--xml-report",
    "--xslt-html-report",
    "--xslt-txt-report",
    "--memory-xml-report",
    "--install-types",
    "--no-incremental",
)
# environment that changes mypy's answer: part of the key
ENV_PREFIXES = ("MYPY", "FORCE_COLOR", "NO_COLOR")
LEFT_OUT = "its answers leave out errors mypy reports from an import cycle's order"
CONFIG_NAMES = ("mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg")  # mypy's, in its order


class Setup(NamedTuple):
    """Which daemon a hook run's units go to."""

    key: str
    python: str  # runs mypy, its daemon and its client
    flags: list[str]  # mypy's options (the unit's head without the tool and `--`)
    cwd: str
    idle_s: float


def interpreter(tool_argv: tuple[str, ...]) -> str | None:
    """The interpreter that runs mypy: `python -m mypy`'s, or the one beside a `mypy` script (a
    virtualenv)."""
    if len(tool_argv) > 2 and tool_argv[1] == "-m":
        return tool_argv[0]
    if len(tool_argv) != 1:
        return None
    for name in ("python", "python3"):
        candidate = os.path.join(os.path.dirname(tool_argv[0]), name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def plan(tool_argv: tuple[str, ...], flags: list[str], idle_s: float) -> Setup | str:
    """The daemon for these options in this directory, or why plain mypy runs instead."""
    python = interpreter(tool_argv)
    if python is None:
        return f"cannot tell which Python runs {' '.join(tool_argv)}"
    for flag in flags:
        if flag.partition("=")[0] in PLAIN_ONLY:
            return f"{flag.partition('=')[0]} is honoured by plain mypy only"
    cwd = os.getcwd()
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIXES))
    raw = json.dumps([cwd, python, list(tool_argv), flags, env]).encode("utf-8", "surrogateescape")
    return Setup(hashlib.sha256(raw).hexdigest()[:16], python, flags, cwd, idle_s)


def config_candidates(cwd: str) -> list[str]:
    """The files mypy looks for its configuration in (from `cwd` up to the repository's top, then
    the user's)."""
    out: list[str] = []
    here = cwd
    while True:
        out += [os.path.join(here, n) for n in CONFIG_NAMES]
        if (
            any(os.path.exists(os.path.join(here, vcs)) for vcs in (".git", ".hg"))
            or os.path.dirname(here) == here
        ):
            break
        here = os.path.dirname(here)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    home = [os.path.join(xdg, "mypy", "config")] if xdg else []
    return [*out, *home, *(os.path.expanduser(p) for p in ("~/.config/mypy/config", "~/.mypy.ini"))]


def changed(rec: Record) -> str | None:
    """The first thing the daemon cannot see that changed since it started, or None."""
    for path, then in rec.seen.items():
        if stamp(path) != then:
            return f"{path} changed"
    return None


def _stale(rec: Record | None, setup: Setup, argv: list[str]) -> str | None:
    """Why the recorded daemon cannot answer this unit (a new one is started), or None."""
    if rec is None:
        return "no daemon yet"
    if not record.alive(rec):
        return "its process is gone"
    if record.stopped(rec):
        return "it is stopped (SIGSTOP): it would not answer before the unit's timeout"
    if rec.argv != argv:
        return "another mypy or other options"
    return changed(rec)


def daemon_argv(setup: Setup, state_dir: str) -> list[str]:
    return [
        setup.python,
        SERVE,
        "--status-file",
        record.path(state_dir, setup.key, ".status"),
        "daemon",
        "--timeout",
        str(max(int(setup.idle_s), 1)),
        "--",
        *setup.flags,
    ]


def client_argv(setup: Setup, state_dir: str, files: list[str], framed: bool) -> list[str]:
    """The unit's command: our own client where the daemon's mypy frames messages as it does (no
    mypy to import: ~0.13 s less per unit), else mypy's."""
    status = record.path(state_dir, setup.key, ".status")
    if framed:
        return [sys.executable, "-I", "-S", CHECK, status, "--", *files]
    return [setup.python, "-m", "mypy.dmypy", "--status-file", status, "check", "--", *files]


def daemon_env(token: str) -> dict[str, str]:
    """Ours, without the locks and the deadline of the unit that started it: it outlives them."""
    env = {k: v for k, v in os.environ.items() if k not in (envnames.HOLDER, envnames.DEADLINE)}
    env[envnames.RUN] = token
    env[envnames.DAEMON] = token
    return env


def start(setup: Setup, state_dir: str, files: list[str], order_errors: int) -> Record | str:
    """Starts the daemon, which checks `files` first at the lowest CPU priority and then listens
    (dmypy_serve.py); returns at once with its record, or why it could not be started.
    `order_errors`: plain mypy's count in its answer for these files (a warm answer with fewer is
    not taken)."""
    argv = daemon_argv(setup, state_dir)
    status = record.path(state_dir, setup.key, ".status")
    record.forget(state_dir, setup.key)
    warm = open_private(f"{status}.warm", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(warm, json.dumps(files).encode("utf-8", "surrogateescape"))
    finally:
        os.close(warm)
    # before it reads them
    seen = {p: stamp(p) for p in [*config_candidates(setup.cwd), setup.python]}
    token = runner.new_token()
    log = open_private(
        record.path(state_dir, setup.key, ".log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    )
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        pid = spawn(argv, env=daemon_env(token), stdin=null, stdout=log, stderr=log)
    except FatalError as e:
        return e.message
    finally:
        os.close(log)
        os.close(null)
    info = proctree.info(pid)
    now = time.time()
    rec = Record(
        setup.key,
        "mypy",
        pid,
        info.start if info is not None else 0,
        token,
        setup.cwd,
        argv,
        seen,
        now,
        now,
        setup.idle_s,
        order_errors=order_errors,
    )
    record.write(state_dir, rec)
    return rec


def ready(state_dir: str, rec: Record) -> Record | None:
    """record.listening(), and the record saved so when it just became ready (under the daemon's
    flock: run_unit)."""
    now = record.listening(state_dir, rec)
    if now is not None and not rec.ready:
        record.write(state_dir, now)
    return now


def not_starting(state_dir: str, rec: Record) -> str | None:
    """Why a daemon that has not become ready never will (these options are refused, or it is not
    listening after START_S), or None while it may still."""
    if not record.alive(rec):
        if record.took_its_options(state_dir, rec):
            return None  # it ended later: a fresh one may do better
        return f"it exited at start: {_last_words(record.path(state_dir, rec.key, '.status'))}"
    if time.time() - rec.started > START_S:
        return f"it was not listening after {START_S:g}s"
    return None


def _last_words(status: str) -> str:
    log = status[: -len(".status")] + ".log"
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f.read()[-4096:].splitlines() if line.strip()]
    except OSError:
        lines = []
    return lines[-1] if lines else "no output"


def run_unit(
    setup: Setup,
    request: Request,
    files: list[str],
    *,
    state_dir: str,
    settings: Settings,
    execute: Callable[[Request], Result],
    note: Callable[[str], None],
) -> Result:
    """One unit through the warm daemon, or plain mypy: while there is none, the unit runs plain
    mypy and starts one afterwards, which warms up at the lowest CPU priority (the next unit finds
    it warm); a commit never waits for a daemon to start."""
    with record.held(state_dir, setup.key, wait=False) as mine:
        if not mine:
            note("daemon: in use by another commit in this worktree; plain mypy for this unit")
            return execute(request._replace(daemon="fallback"))
        old = record.read(state_dir, setup.key)
        can, rec = _what_it_can_do(state_dir, old, setup, note)
        if can == "answer" and rec is not None:
            return _through(rec, setup, request, files, state_dir, execute, note)
        if can == "nothing":  # off for this configuration: said once, when that was found
            return execute(request._replace(daemon="fallback"))
        if can == "warm up":  # its first check runs: plain mypy meanwhile
            return execute(request._replace(daemon="cold"))
        if old is not None:
            tend.stop(state_dir, old)
        result = execute(request._replace(daemon="cold"))
        if result.reason == Reason.EXIT and result.exit_code in (0, 1):
            _make_room(state_dir, setup.key, settings, old)
            started = start(setup, state_dir, files, order_errors(result.stdout))
            if isinstance(started, str):
                note(f"daemon: could not start ({started}); plain mypy for this unit")
        return result


def _what_it_can_do(
    state_dir: str, old: Record | None, setup: Setup, note: Callable[[str], None]
) -> tuple[str, Record | None]:
    """What the recorded daemon can do for this unit: "answer" (with its record, ready), "warm up"
    (its first check still runs), "nothing" (off until the configuration changes: found now, it is
    stopped and said), or "replace" (none, or one that cannot answer: a new one is started)."""
    argv = daemon_argv(setup, state_dir)
    if old is None:
        return "replace", None
    if old.failed:
        return ("nothing" if old.argv == argv and changed(old) is None else "replace"), None
    rec = ready(state_dir, old)
    if rec is not None:
        return ("answer" if _stale(rec, setup, argv) is None else "replace"), rec
    why = not_starting(state_dir, old)
    if why is not None:
        tend.stop(state_dir, old)
        record.write(state_dir, old._replace(pid=0, failed=why))
        note(f"daemon: could not start ({why}); plain mypy until the configuration changes")
        return "nothing", None
    return ("warm up" if _stale(old, setup, argv) is None else "replace"), None


def _through(
    rec: Record,
    setup: Setup,
    request: Request,
    files: list[str],
    state_dir: str,
    execute: Callable[[Request], Result],
    note: Callable[[str], None],
) -> Result:
    """The unit as the warm daemon answers it; plain mypy's answer instead when the daemon's cannot
    be taken (the daemon is then stopped: the next unit starts a fresh one)."""
    argv = client_argv(setup, state_dir, files, rec.framed)
    result = execute(request._replace(argv=argv, daemon="warm"))
    if result.reason == Reason.INTERRUPTED:
        tend.stop(state_dir, rec)
        return result
    found = order_errors(result.stdout)
    if found < rec.order_errors:
        # it would again on the next edit: this project's answers are plain mypy's from now on
        tend.stop(state_dir, rec)
        record.write(state_dir, rec._replace(pid=0, failed=LEFT_OUT))
        note(
            f"daemon: left out {rec.order_errors - found} `Cannot determine type` error(s) "
            "that mypy reports from the order it checks an import cycle in; stopped it, plain "
            "mypy until the configuration changes (or seq-hooks clean)"
        )
        return execute(request._replace(daemon="fallback"))
    if result.reason == Reason.EXIT and result.exit_code in (0, 1):
        record.write(
            state_dir,
            rec._replace(
                last_used=time.time(),
                peak_mb=max(rec.peak_mb, record.rss_mb(rec)),
                order_errors=found,
            ),
        )
        return result
    tend.stop(state_dir, rec)
    note(f"daemon: {runner_why(result)}; stopped it, plain mypy for this unit")
    return execute(request._replace(daemon="fallback"))


def runner_why(result: Result) -> str:
    last = (result.stderr.strip().splitlines() or [""])[-1]
    if result.reason == Reason.EXIT:
        return f"exit {result.exit_code}" + (f" ({last[:120]})" if last else "")
    return f"{result.reason}: {result.message}" if result.message else result.reason


def _make_room(state_dir: str, key: str, settings: Settings, old: Record | None) -> None:
    """Stops the least recently used daemons when a new one would not fit the budget or the
    machine."""
    from seq_hooks.lock import capacity  # only to make room
    from seq_hooks.process import machine  # only to make room

    cap = capacity.for_lock(settings, DEFAULT_LOCK)
    if not cap.budget_mb and not cap.reserve_mb:
        return
    need = max(MIN_MB, old.peak_mb if old is not None else 0.0)
    tend.make_room(
        state_dir, need, cap.budget_mb, machine.memory_available_mb(), cap.reserve_mb, keep=key
    )
