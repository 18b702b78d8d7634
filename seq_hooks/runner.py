"""One unit of work: wait for the lock, run the command supervised (with retries), release, journal
it.

The `run` command, the hooks, `seq-hooks git` and the Python API all come through `execute`.
"""
from __future__ import annotations

import os
import signal
import sys
import time

from seq_hooks import envnames, journal, logfile, sharedtree
from seq_hooks.config import DEFAULT_LOCK, HookSettings, Settings
from seq_hooks.errors import NOT_EXECUTABLE, NOT_FOUND, TIMEOUT, FatalError, Reason
from seq_hooks.process.supervisor import Limits, Outcome, supervise
from seq_hooks.process.treewatch import MAX_SAMPLE_GAP
from seq_hooks.records import TYPE_CHECKING, NamedTuple
from seq_hooks.sizes import MB

if TYPE_CHECKING:
    from collections.abc import Callable

    from seq_hooks.lock import markers, queue
    from seq_hooks.sharedtree import stash


class Result(NamedTuple):
    argv: list[str]
    exit_code: int
    reason: str  # how it ended: a word of errors.Reason (Reason.ALL)
    message: str
    duration_s: float
    waited_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    log: str | None
    lock: str | None
    attempts: int
    # the captured bytes, when they are not UTF-8 (stdout then has U+FFFD)
    stdout_base64: str | None = None
    stderr_base64: str | None = None
    # bytes cut from the middle of a large captured output (its head and tail are kept)
    stdout_cut: int = 0
    stderr_cut: int = 0

    def as_dict(self) -> dict[str, object]:
        return self._asdict()


class Unit(NamedTuple):
    """One execution's identity and what it inherits: fixed before the lock is asked for."""

    token: str
    # the caller's environment; the unit's is built from it once the lock is held
    env: dict[str, str]
    held_by: list[markers.Marker]  # the verified locks held by our ancestors
    deadline: float | None  # the outermost holder's pipeline deadline (epoch seconds), when nested
    enqueued: float


class Request(NamedTuple):
    argv: list[str]
    limits: Limits
    lock: str | None = DEFAULT_LOCK  # None: supervise only (--no-lock)
    retry: int = 0
    max_wait: float | None = None
    capture: bool = False
    # the command writes to our terminal itself (interactive); its output is not logged
    direct: bool = False
    log_path: str | None = None
    quiet: bool = False
    # cap the tools' own threads and workers to this many (threadcaps); 0 = leave them
    threads: int = 0
    # lines for the log, after its header (e.g. that --shell ran a string with sh -c)
    notes: tuple[str, ...] = ()
    # atomic-mypy: how the unit was answered: warm, cold (a daemon started for it) or fallback
    daemon: str = ""
    # files with unstaged edits at their index version while it runs (the git hook's chain)
    stash: bool = False


def limits(
    settings: Settings,
    hook: HookSettings | None = None,
    *,
    timeout: float | None = None,
    kill_after: float | None = None,
    kill_signal: int | None = None,
    memory_limit_mb: int | None = None,
    max_procs: int | None = None,
) -> Limits:
    """A unit's limits: a flag (the arguments) beats a SEQ_HOOKS_* variable, which beats the hook's
    own table, which beats [tool.seq-hooks]; the memory sampling gap is at most MAX_SAMPLE_GAP
    whatever check_interval says."""

    def pick(key: str, flag: float | None) -> float:
        return float(_pick(settings, hook, key) if flag is None else flag)

    gap = settings.check_interval
    return Limits(
        timeout=pick("timeout", timeout),
        kill_after=pick("kill_after", kill_after),
        kill_signal=signal.SIGTERM if kill_signal is None else kill_signal,
        memory_limit_mb=int(pick("memory_limit_mb", memory_limit_mb)),
        max_procs=int(pick("max_procs", max_procs)),
        check_interval=min(gap, MAX_SAMPLE_GAP) if gap > 0 else MAX_SAMPLE_GAP,
    )


def unit_threads(settings: Settings, hook: HookSettings | None = None) -> int:
    """The `threads` cap of a unit (the hook's own, unless SEQ_HOOKS_THREADS is set); 0 = none."""
    return int(_pick(settings, hook, "threads"))


def _pick(settings: Settings, hook: HookSettings | None, key: str) -> float:
    """A setting for one unit: an environment variable beats the hook's table, which beats
    [tool.seq-hooks]."""
    hook_value = getattr(hook, key, None) if key not in settings.from_env else None
    return float(getattr(settings, key) if hook_value is None else hook_value)


def preparer(limits: Limits, *, settings: Settings, state_dir: str,
             root: str) -> Callable[[list[str]], tuple[int, str, str]]:
    """Runs a tool's preparation (uv syncing the project's environment) as a unit of its own, for
    toolenv.find: (exit code, stdout, the last line of why it failed)."""

    def prepare(argv: list[str]) -> tuple[int, str, str]:
        r = execute(
            Request(argv, limits, capture=True, quiet=True),
            settings=settings,
            state_dir=state_dir,
            root=root,
        )
        return (
            r.exit_code,
            r.stdout,
            (r.stderr.strip().splitlines() or [r.message or f"exit {r.exit_code}"])[-1],
        )

    return prepare


def new_token() -> str:
    return os.urandom(8).hex()


def _note(text: str) -> None:
    try:
        sys.stderr.write(f"seq-hooks: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _on_wait(info: queue.WaitInfo) -> None:
    from seq_hooks.lock import queue  # only while waiting for a lock

    where = f"position {info.position}" if info.position > 1 else "next"
    holder = queue.describe(info.holder)
    halted = "".join(
        f"; pid {pid} ahead is stopped (the queue waits until it gets SIGCONT)"
        for pid in info.stopped
    )
    _note(
        f"waiting for lock {info.lock_id!r} ({where}, {info.waited:.0f}s so far): held by "
        f"{holder}{halted}"
    )


def _deadline_in(env: dict[str, str]) -> float | None:
    try:
        return float(env[envnames.DEADLINE])
    except (KeyError, ValueError):
        return None


def inherited_deadline(state_dir: str, env: dict[str, str]) -> float | None:
    """The pipeline deadline (epoch seconds) set by the outermost holder; only trusted under a
    verified holder."""
    if envnames.HOLDER not in env or not _verified_markers(state_dir, env):
        return None
    return _deadline_in(env)


def _spawn_failure(e: FatalError, start: float) -> Outcome:
    reason = Reason.NOT_FOUND if e.code == NOT_FOUND else Reason.NOT_EXECUTABLE
    return Outcome(e.code, reason, e.message, time.monotonic() - start, 0, (), b"", b"")


def _text(data: bytes) -> tuple[str, str | None]:
    """Captured output as text, and its bytes in base64 when they are not UTF-8 (so none is
    lost)."""
    try:
        return data.decode(), None
    except UnicodeDecodeError:
        import binascii  # only for --json output that is not UTF-8

        return data.decode(errors="replace"), binascii.b2a_base64(data, newline=False).decode()


def _attempt(request: Request, env: dict[str, str], token: str, limits: Limits, log_path: str,
             lock_id: str | None, attempt: int, held: queue.Held | None = None) -> Outcome:
    cwd = os.getcwd()
    start_epoch = time.time()
    fd = logfile.open_log(log_path, request.argv, cwd, start_epoch, lock_id)
    start = time.monotonic()
    try:
        notes = [*request.notes, *(["output: not logged (the command wrote to the terminal itself)"]
                                   if request.direct else [])]
        if notes:
            os.write(fd, "".join(f"# {n}\n" for n in notes).encode(errors="surrogateescape"))
        # the 50%/75% memory notes also go into the ticket, where `status` shows them
        on_memory = (
            None
            if held is None
            else lambda level, _s: held.note_memory(level, limits.memory_limit_mb)
        )
        outcome = supervise(
            request.argv,
            env=env,
            token=token,
            limits=limits,
            capture=request.capture,
            direct=request.direct,
            log_fd=fd,
            on_memory=on_memory,
            # for a take-over if we die
            on_procs=None if held is None else held.record,
        )
    except FatalError as e:
        if e.code not in (NOT_FOUND, NOT_EXECUTABLE):
            os.close(fd)
            raise
        outcome = _spawn_failure(e, start)
    logfile.close_log(fd, outcome, time.time(), attempt)
    return outcome


def execute(request: Request, *, settings: Settings, state_dir: str, root: str) -> Result:
    """The story of one unit: take its place in the queue, run it (again, on failure, as asked),
    release the lock, and keep its record."""
    if not request.argv or not request.argv[0]:
        raise FatalError("no command given (put it after --)", 2)
    unit = _begin(state_dir)
    # a log dir that cannot be is said before the unit waits in the queue (a hook's units share a
    # log made ready)
    log_dir = (logfile.ready if request.log_path is None else logfile.log_dir)(
        settings, state_dir, root
    )
    held, lock_id = _take_lock(request, settings, state_dir, unit)
    started = time.time()
    env = _unit_env(unit, held, settings, request.threads)
    journaled = False
    try:
        stashed = _stash(request, root, state_dir, unit) if request.stash else None
        try:
            outcomes, log_path = _attempts(request, env, unit, lock_id, log_dir, held)
        finally:
            _unstash(stashed, state_dir)
        result = _result(
            request, outcomes, log_path, lock_id, waited=started - unit.enqueued if held else 0.0
        )
        # before the lock goes: the head it wakes revises its guess from it
        if held is not None and held.slotted:
            _journal(state_dir, result, unit, (started, time.time()), held, request.daemon)
            journaled = True
    finally:
        if held is not None:
            held.release()
    if not journaled:
        released = held.released if held is not None else time.time()
        _journal(state_dir, result, unit, (started, released), held, request.daemon)
    logfile.prune_if_due(settings, state_dir, log_dir, unit.token, log_path)
    return result


def _verified_markers(state_dir: str, env: dict[str, str]) -> list[markers.Marker]:
    # only under a marker: `run --no-lock` stays off the lock package
    from seq_hooks.lock import markers

    return markers.verified(state_dir, env)


def _stash(request: Request, root: str, state_dir: str, unit: Unit) -> stash.Stash | None:
    """A git hook's chain: the check, and the stash only when there is something to stash."""
    from seq_hooks.sharedtree import changes  # only for a git hook's chain

    found = changes.to_stash(root, unit.env)
    if not found:
        return None
    from seq_hooks.sharedtree import stash  # only with files to stash

    return stash.stash(root, state_dir, unit.token, unit.env, found)


def _unstash(stashed: stash.Stash | None, state_dir: str) -> None:
    """The stashed files back; and a stash whose command was killed goes back now."""
    if stashed is not None:
        from seq_hooks.sharedtree import stash  # only with files to stash

        stash.restore(stashed)
    if sharedtree.orphaned(state_dir):
        from seq_hooks.sharedtree import recover  # only for a dead commit's stash

        recover.recover(state_dir)


def _begin(state_dir: str) -> Unit:
    env = dict(os.environ)
    held_by = _verified_markers(state_dir, env) if envnames.HOLDER in env else []
    # nested runs never outlive the pipeline budget of the outermost holder, which sets it for them
    deadline = _deadline_in(env) if held_by else None
    return Unit(new_token(), env, held_by, deadline, time.time())


def _take_lock(request: Request, settings: Settings, state_dir: str,
               unit: Unit) -> tuple[queue.Held | None, str | None]:
    """The lock held for the unit (None with --no-lock), and its id (a nested queue's under a held
    lock)."""
    if request.lock is None:
        return None, None
    from seq_hooks import daemons  # with the lock's modules: off `run --no-lock`'s path

    # only with a lock: off `run --no-lock`'s path
    from seq_hooks.lock import capacity, markers, queue

    lock_id, _parent = markers.resolve(markers.check_name(request.lock), unit.held_by)
    cap, guess = capacity.plan(
        settings, state_dir, lock_id, request.argv, request.limits.memory_limit_mb
    )
    if cap.budget_mb and daemons.any_recorded(state_dir):
        from seq_hooks.daemons import tend  # only when there are daemons to count

        # a resident daemon (atomic-mypy's) is memory the queue must know about, not a slot: the
        # units share what the daemons leave of the budget
        cap = cap._replace(budget_mb=tend.budget_left(cap.budget_mb, state_dir))
    held = queue.acquire(
        state_dir, lock_id, token=unit.token, argv=request.argv, cwd=os.getcwd(),
        holds=[m.token for m in unit.held_by], max_wait=request.max_wait,
        on_wait=None if request.quiet else _on_wait, takeover_grace=settings.kill_after,
        cap=cap, guess=guess,
    )
    return held, lock_id


def _unit_env(
    unit: Unit, held: queue.Held | None, settings: Settings, threads: int
) -> dict[str, str]:
    """The command's environment: its run token, the locks it holds, the pipeline deadline, the
    thread caps."""
    env = {**unit.env, envnames.RUN: unit.token}
    if threads > 0:
        from seq_hooks.process import threadcaps  # only with threads = N

        env.update(threadcaps.caps(threads, env))
    held_by = [*unit.held_by, held.marker()] if held is not None else unit.held_by
    if held_by:
        from seq_hooks.lock import markers  # only under a lock: off `run --no-lock`'s path

        env[envnames.HOLDER] = markers.value(held_by)
    if unit.deadline is not None:
        env[envnames.DEADLINE] = f"{unit.deadline:.3f}"
    elif held is not None and settings.pipeline_timeout > 0:
        env[envnames.DEADLINE] = f"{time.time() + settings.pipeline_timeout:.3f}"
    return env


def within_deadline(limits: Limits, deadline: float | None) -> Limits | None:
    """The limits cut to what is left of the pipeline deadline; None when it has passed."""
    if deadline is None:
        return limits
    left = deadline - time.time()
    if left <= 0:
        return None
    return limits._replace(timeout=left) if limits.timeout == 0 or limits.timeout > left else limits


def _attempts(request: Request, env: dict[str, str], unit: Unit, lock_id: str | None,
              log_dir: str, held: queue.Held | None = None) -> tuple[list[Outcome], str | None]:
    """Runs the command, and again after a failure or a timeout up to `retry` more times; (outcomes,
    log)."""
    outcomes: list[Outcome] = []
    log_path = request.log_path
    for attempt in range(1, request.retry + 2):
        limits = within_deadline(request.limits, unit.deadline)
        if limits is None:
            outcomes.append(
                Outcome(
                    TIMEOUT,
                    Reason.TIMEOUT,
                    "the pipeline deadline (pipeline_timeout) has passed: not starting",
                    0.0,
                    0,
                    (),
                    b"",
                    b"",
                )
            )
            break
        if log_path is None:
            log_path = logfile.default_path(log_dir, unit.token, time.time())
        # for status: when this attempt is killed, and the pipeline deadline around it
        if held is not None:
            held.note_deadline(
                time.time() + limits.timeout if limits.timeout else None, _deadline_in(env)
            )
        last = _attempt(request, env, unit.token, limits, log_path, lock_id, attempt, held)
        outcomes.append(last)
        if last.exit_code == 0 or last.reason not in (*Reason.BY_ITSELF, Reason.TIMEOUT):
            break
        if attempt <= request.retry and not request.quiet:
            _note(f"exit {last.exit_code} ({last.reason}); retrying ({attempt}/{request.retry})")
    return outcomes, log_path


def _result(request: Request, outcomes: list[Outcome], log_path: str | None, lock_id: str | None,
            waited: float) -> Result:
    last = outcomes[-1]
    (out_text, out_b64), (err_text, err_b64) = _text(last.stdout), _text(last.stderr)
    return Result(
        argv=request.argv,
        exit_code=last.exit_code,
        reason=last.reason,
        message=last.message,
        duration_s=round(sum(o.duration_s for o in outcomes), 4),
        waited_s=round(waited, 4),
        peak_rss_mb=round(max(o.peak_rss for o in outcomes) / MB, 1),
        stdout=out_text,
        stderr=err_text,
        log=log_path,
        lock=lock_id,
        attempts=len(outcomes),
        stdout_base64=out_b64,
        stderr_base64=err_b64,
        stdout_cut=last.cut[0],
        stderr_cut=last.cut[1],
    )


def _journal(
    state_dir: str,
    result: Result,
    unit: Unit,
    span: tuple[float, float],
    held: queue.Held | None,
    daemon: str,
) -> None:
    """The run's record; the command has run, so a journal that cannot be written is only a note."""
    expected_mb = held.expected_mb if held is not None else 0
    try:
        journal.append(
            state_dir,
            journal.Record(
                lock=result.lock,
                pid=os.getpid(),
                token=unit.token,
                argv=result.argv,
                cwd=os.getcwd(),
                enqueued=round(unit.enqueued, 4),
                started=round(span[0], 4),
                ended=round(span[1], 4),
                waited_s=result.waited_s,
                duration_s=result.duration_s,
                exit=result.exit_code,
                reason=result.reason,
                message=result.message,
                peak_rss_mb=result.peak_rss_mb,
                attempts=result.attempts,
                log=result.log,
                key=journal.unit_key(result.argv),
                expected_mb=expected_mb,
                daemon=daemon,
            ),
        )
    except (OSError, FatalError) as e:
        _note(f"could not write the journal: {e}")
