"""One unit of work: wait for the lock, run the command supervised (with retries), release, journal it.

The `run` command, the hooks, `seq-hooks git` and the Python API all come through `execute`.
"""
from __future__ import annotations

import os
import sys
import time
from typing import NamedTuple

from seq_hooks import capacity, journal, lock, logfile, retention
from seq_hooks.config import Settings
from seq_hooks.errors import NOT_EXECUTABLE, NOT_FOUND, TIMEOUT, FatalError
from seq_hooks.supervisor import Limits, Outcome, supervise

DEADLINE_ENV = "SEQ_HOOKS_DEADLINE"
RUN_ENV = "SEQ_HOOKS_RUN"


class Result(NamedTuple):
    argv: list[str]
    exit_code: int
    reason: str  # exit, signal, timeout, memory, procs, interrupted, not-found, not-executable
    message: str
    duration_s: float
    waited_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    log: str | None
    lock: str | None
    attempts: int

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


class Request(NamedTuple):
    argv: list[str]
    limits: Limits
    lock: str | None = "default"  # None: supervise only (--no-lock)
    retry: int = 0
    max_wait: float | None = None
    capture: bool = False
    direct: bool = False  # the command writes to our terminal itself (interactive); its output is not logged
    log_path: str | None = None
    quiet: bool = False


def new_token() -> str:
    return os.urandom(8).hex()


def _note(text: str) -> None:
    try:
        sys.stderr.write(f"seq-hooks: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _on_wait(info: lock.WaitInfo) -> None:
    where = f"position {info.position}" if info.position > 1 else "next"
    holder = lock.describe(info.holder)
    _note(f"waiting for lock {info.lock_id!r} ({where}, {info.waited:.0f}s so far): held by {holder}")


def _inherited_deadline(env: dict[str, str]) -> float | None:
    """The pipeline deadline (epoch seconds) set by the outermost holder; only trusted under a verified holder."""
    try:
        return float(env[DEADLINE_ENV])
    except (KeyError, ValueError):
        return None


def _spawn_failure(e: FatalError, start: float) -> Outcome:
    reason = "not-found" if e.code == NOT_FOUND else "not-executable"
    return Outcome(e.code, reason, e.message, time.monotonic() - start, 0, (), b"", b"")


def _attempt(request: Request, env: dict[str, str], token: str, limits: Limits, log_path: str,
             lock_id: str | None, attempt: int) -> Outcome:
    cwd = os.getcwd()
    start_epoch = time.time()
    fd = logfile.open_log(log_path, request.argv, cwd, start_epoch, lock_id)
    start = time.monotonic()
    try:
        if request.direct:
            os.write(fd, b"# output: not logged (the command wrote to the terminal itself)\n")
        outcome = supervise(request.argv, env=env, token=token, limits=limits, capture=request.capture,
                            direct=request.direct, log_fd=fd)
    except FatalError as e:
        if e.code not in (NOT_FOUND, NOT_EXECUTABLE):
            os.close(fd)
            raise
        outcome = _spawn_failure(e, start)
    logfile.close_log(fd, outcome, time.time(), attempt)
    return outcome


def execute(request: Request, *, settings: Settings, state_dir: str, root: str) -> Result:
    if not request.argv or not request.argv[0]:
        raise FatalError("no command given (put it after --)", 2)
    env = dict(os.environ)
    token = new_token()
    markers = lock.verified_markers(state_dir, env) if lock.HOLDER_ENV in env else []
    # nested runs never outlive the pipeline budget of the outermost holder, which sets it for them
    deadline = _inherited_deadline(env) if markers else None
    enqueued = time.time()
    held: lock.Held | None = None
    lock_id: str | None = None
    if request.lock is not None:
        lock_id, _parent = lock.resolve(state_dir, lock.check_name(request.lock), markers)
        held = lock.acquire(
            state_dir, lock_id, token=token, argv=request.argv, cwd=os.getcwd(),
            holds=[m.token for m in markers], max_wait=request.max_wait,
            on_wait=None if request.quiet else _on_wait, takeover_grace=settings.kill_after,
        )
        markers = [*markers, held.marker()]
    started = time.time()
    env[RUN_ENV] = token
    if markers:
        env[lock.HOLDER_ENV] = ",".join(str(m) for m in markers)
    if deadline is not None:
        env[DEADLINE_ENV] = f"{deadline:.3f}"
    elif held is not None and settings.pipeline_timeout > 0:
        env[DEADLINE_ENV] = f"{time.time() + settings.pipeline_timeout:.3f}"
    log_dir = logfile.log_dir(settings, state_dir, root)
    outcomes: list[Outcome] = []
    log_path = request.log_path
    try:
        for attempt in range(1, request.retry + 2):
            limits = request.limits
            if deadline is not None:
                left = deadline - time.time()
                if left <= 0:
                    outcomes.append(Outcome(TIMEOUT, "timeout", "the pipeline deadline (pipeline_timeout) has "
                                            "passed: not starting", 0.0, 0, (), b"", b""))
                    break
                if limits.timeout == 0 or limits.timeout > left:
                    limits = limits._replace(timeout=left)
            if log_path is None:
                log_path = logfile.default_path(log_dir, token, time.time())
            outcomes.append(_attempt(request, env, token, limits, log_path, lock_id, attempt))
            last = outcomes[-1]
            if last.exit_code == 0 or last.reason not in ("exit", "signal", "timeout"):
                break
            if attempt <= request.retry and not request.quiet:
                _note(f"exit {last.exit_code} ({last.reason}); retrying ({attempt}/{request.retry})")
    finally:
        if held is not None:
            held.release()
    released = time.time()
    last = outcomes[-1]
    result = Result(
        argv=request.argv,
        exit_code=last.exit_code,
        reason=last.reason,
        message=last.message,
        duration_s=round(sum(o.duration_s for o in outcomes), 4),
        waited_s=round(started - enqueued, 4) if held else 0.0,
        peak_rss_mb=round(max(o.peak_rss for o in outcomes) / 1048576, 1),
        stdout=last.stdout.decode(errors="replace"),
        stderr=last.stderr.decode(errors="replace"),
        log=log_path,
        lock=lock_id,
        attempts=len(outcomes),
    )
    try:
        journal.append(state_dir, {
            "lock": lock_id, "pid": os.getpid(), "token": token, "argv": request.argv, "cwd": os.getcwd(),
            "enqueued": round(enqueued, 4), "started": round(started, 4), "ended": round(released, 4),
            "waited_s": result.waited_s, "duration_s": result.duration_s, "exit": result.exit_code,
            "reason": result.reason, "message": result.message, "peak_rss_mb": result.peak_rss_mb,
            "attempts": result.attempts, "log": log_path, "key": capacity.unit_key(request.argv),
        })
    except (OSError, FatalError) as e:  # the command has run: its result counts more than our bookkeeping
        _note(f"could not write the journal: {e}")
    retention.after_run(settings, state_dir, log_dir, token, log_path)
    return result
