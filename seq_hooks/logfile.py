"""The per-run log file: its name, a header, the command's output as it streams, and a footer with
the outcome.

This module alone builds and parses log file names: `YYYYmmdd-HHMMSS-<token>.log` for a run, and
`YYYYmmdd-HHMMSS-<label>-<token>.log` for a hook run (one log for all its units, the label its hook
id). Retention, doctor and clean ask `parse`/`logs` which files are ours.
"""
from __future__ import annotations

import fcntl
import os
import time

from seq_hooks.errors import FatalError, UsageError, on_file
from seq_hooks.project import ensure_private_dir, open_private
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.sizes import MB

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol

    from seq_hooks.config import Settings

    class Proc(Protocol):
        @property
        def pid(self) -> int: ...
        @property
        def command(self) -> str: ...
        @property
        def peak_rss(self) -> int: ...
        @property
        def system(self) -> tuple[int, int]: ...

    class Ended(Protocol):
        """What the footer needs of a run's outcome (the supervisor's Outcome has it)."""

        @property
        def exit_code(self) -> int: ...
        @property
        def reason(self) -> str: ...
        @property
        def message(self) -> str: ...
        @property
        def duration_s(self) -> float: ...
        @property
        def peak_rss(self) -> int: ...
        @property
        def procs(self) -> Sequence[Proc]: ...
        @property
        def peak_system(self) -> tuple[int, int]: ...


_HEX = frozenset("0123456789abcdef")
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_STAMP = 15  # YYYYmmdd-HHMMSS
_TOKEN = 16


class LogName(NamedTuple):
    stamp: str  # YYYYmmdd-HHMMSS: the second the log was started (names sort by it)
    label: str  # the hook id for a hook run's log, "" for a run's
    token: str  # 16 hex digits


def log_dir(settings: Settings, state_dir: str, root: str) -> str:
    """Where run logs go: `log_dir` from the configuration (relative to the project root), else
    <state>/logs."""
    where = settings.log_dir or os.path.join(state_dir, "logs")
    return where if os.path.isabs(where) else os.path.join(root, where)


def name(token: str, epoch: float, label: str = "") -> str:
    """The file name of a log started at `epoch`; `label` (a hook id) goes between the time and the
    token."""
    if len(token) != _TOKEN or not _HEX.issuperset(token) or not _LABEL.issuperset(label):
        raise ValueError(f"not a log name part: {token!r} {label!r}")
    middle = f"{label}-" if label else ""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(epoch))}-{middle}{token}.log"


def parse(filename: str) -> LogName | None:
    """The parts of one of our log names, None for any other file (a configured log_dir may hold
    others)."""
    if not filename.endswith(".log") or len(filename) < _STAMP + _TOKEN + 5:
        return None
    stem = filename[:-4]
    stamp, token = stem[:_STAMP], stem[-_TOKEN:]
    if not (stamp[:8].isdigit() and stamp[8] == "-" and stamp[9:].isdigit() and stamp.isascii()):
        return None
    if stem[-_TOKEN - 1] != "-" or not _HEX.issuperset(token):
        return None
    label = stem[_STAMP + 1 : -_TOKEN - 1]
    if len(stem) > _STAMP + _TOKEN + 1 and (
        stem[_STAMP] != "-" or not label or not _LABEL.issuperset(label)
    ):
        return None
    return LogName(stamp, label, token)


def logs(log_dir: str, names: list[str] | None = None) -> list[str]:
    """Our log files in `log_dir` (or among `names`, its listing), oldest first: the name starts
    with the time."""
    if names is None:
        try:
            names = os.listdir(log_dir)
        except OSError:
            return []
    return sorted(n for n in names if parse(n) is not None)


def stamp(epoch: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(epoch)) + f".{int(epoch % 1 * 1000):03d}"
    )


def ready(settings: Settings, state_dir: str, root: str) -> str:
    """The log directory (see `log_dir`), created mode 0700 or checked. One that `log_dir`
    configures and that cannot be (a file such as /dev/null, another user's directory) is a
    configuration error naming the key."""
    where = log_dir(settings, state_dir, root)
    try:
        return ensure_private_dir(where, "the log directory")
    except FatalError as e:
        if settings.log_dir is None:
            raise
        raise UsageError(
            f"{settings.source}: log_dir = {settings.log_dir!r}: {e.message}"
        ) from None


def default_path(log_dir: str, token: str, epoch: float, label: str = "") -> str:
    """A new log's path in `log_dir` (made ready by `ready`)."""
    return os.path.join(log_dir, name(token, epoch, label))


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def shell_words(argv: Sequence[str]) -> str:
    """The command line as a shell would take it back: shlex.join's quoting, without importing shlex
    on every run (its import alone costs a plain run ~0.9M instructions)."""
    return " ".join(
        w if w and all(c in _SAFE for c in w) else "'" + w.replace("'", "'\"'\"'") + "'"
        for w in argv
    )


def hold(path: str) -> int:
    """Opens (creating) the log at `path` with a shared flock held while the fd stays open:
    retention never removes a log someone holds (see `in_use`). A hook run holds its one log from
    its first unit to its end, across the waits for the lock between units, when no unit has it
    open."""
    fd = open_private(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)  # read: pump.Log cuts its middle
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    # taken exclusively: retention is removing it this instant; ours is a new file from here on
    except OSError:
        pass
    return fd


def in_use(path: str) -> bool:
    """Whether a live process holds the log (`hold`, `open_log`): it is still being written."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def open_log(path: str, argv: list[str], cwd: str, epoch: float, lock: str | None) -> int:
    fd = hold(path)
    header = (
        f"# seq-hooks run\n# command: {shell_words(argv)}\n# cwd: {cwd}\n# lock: "
        f"{lock or '(none)'}\n"
        f"# pid: {os.getpid()}\n# started: {stamp(epoch)}\n"
    )
    try:
        # a name that was not UTF-8 keeps its bytes
        os.write(fd, header.encode(errors="surrogateescape"))
    # a full disk: no empty log stays (a hook run's earlier units' does), the sentence names it
    except OSError as e:
        if os.fstat(fd).st_size == 0:
            os.unlink(path)
        os.close(fd)
        raise on_file(e, path) from None
    return fd


def _system(used_total: tuple[int, int]) -> str:
    """`5120/24000 MB used`: the system's memory when a peak was seen; "?" when it was not read."""
    used, total = used_total
    return f"{used}/{total} MB used" if total else "?"


def close_log(fd: int, outcome: Ended, epoch: float, attempt: int) -> None:
    lines = [
        f"\n# ended: {stamp(epoch)} (attempt {attempt})",
        f"# exit: {outcome.exit_code} "
        f"({outcome.reason}){' ' + outcome.message if outcome.message else ''}",
        f"# duration: {outcome.duration_s:.3f}s",
        f"# peak tree memory: {outcome.peak_rss / MB:.1f} MB (system: "
        f"{_system(outcome.peak_system)})",
        "# processes (pid, peak MB, system used/total MB at that peak, command):",
    ]
    lines += [f"#   {p.pid:>7} {p.peak_rss / MB:8.1f} {_system(p.system):>18}  {p.command[:200]}"
              for p in outcome.procs]
    try:
        os.write(fd, ("\n".join(lines) + "\n").encode(errors="replace"))
    except OSError:
        pass  # a full disk must not turn the command's own result into an error of ours
    finally:
        os.close(fd)


SIZE_CHECK_EVERY = 16  # one run in this many sums the logs' sizes
BIG_LOG = MB  # a log this big triggers the size check at once


def prune_if_due(
    settings: Settings, state_dir: str, log_dir: str, token: str, log_path: str | None
) -> None:
    """The runner's hook after every run: one listdir says whether retention is due, and only then
    is it imported (~0.5M instructions a run otherwise, docs/design.md "The hot path"). Never
    raises: a run's result matters more."""
    try:
        keep, keep_mb = settings.keep_logs, settings.keep_logs_mb
        if keep <= 0 and keep_mb <= 0:
            return
        listing = os.listdir(log_dir)
        # the cheap count first (no regex, no stat); `retention.prune` looks at the names and sizes
        # properly
        over = keep > 0 and sum(1 for n in listing if n.endswith(".log")) > keep
        size_check = keep_mb > 0 and (int(token[:4], 16) % SIZE_CHECK_EVERY == 0 or _big(log_path))
        if over or size_check:
            from seq_hooks import retention  # only when pruning is due (0.5M a run)

            retention.prune(
                log_dir,
                keep,
                keep_mb if size_check else 0,
                retention.live_tokens(state_dir),
                listing,
            )
    except (OSError, ValueError):
        pass


def _big(path: str | None) -> bool:
    if not path:
        return False
    try:
        return os.stat(path).st_size >= BIG_LOG
    except OSError:
        return False
