"""The files of a lock queue: the one place that writes, reads and lists them
(docs/design.md, "Locks").

A queue is a directory under `<state>/locks/`:
- `.seq`: the last number handed out (a decimal line), flocked for a moment by each caller that
  joins;
- `<number, 12 digits>.ticket`: one per caller, made as `.new-<pid>-<token>` already flocked and
  renamed, so nobody ever sees it unlocked. Line 1 is a JSON object: pid, token, argv (capped: see
  `ARGV_CAP`), cwd, since, holds, and on a lock with slots or a budget the unit's expected peak
  (expected_mb, expected_from, expected_runs, expected_revised); line 2, appended when the lock is
  granted, is {"granted": epoch seconds}. A waiter whose expected peak is revised rewrites its line
  1 the same way (`rewrite`): a new file, flocked, renamed over the old one, so a reader sees one or
  the other and the path is never unflocked. The flock is held by its owner as long as it lives: a
  ticket nobody holds the flock of belongs to a dead process, whatever it says.
- `<number>.procs`, next to a holder's ticket: `<pid> <start time>` lines, every process its run's
  tree has had (from the supervisor's samples), so that whoever takes over from a dead holder finds
  them even when they dropped the run token from their environment (`env -i`, sudo). The holder
  keeps it open in an fd its command inherits, so a process the samples never saw (the command
  itself, if the runner dies right after starting it) is still found: it has the file open;
- `nested/<holder token>/`: the queue of the calls made under that holder (a queue of the same
  form).
Any other `<digits>.ticket` (not padded, torn, foreign) is still a ticket: it is listed, probed and
taken over.
"""
from __future__ import annotations

import fcntl
import os
import time

from seq_hooks import jsontext
from seq_hooks.errors import on_file
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from seq_hooks.lock.capacity import Estimate

SUFFIX = ".ticket"
NEW_PREFIX = ".new-"
SEQ = ".seq"
NESTED = "nested"
PROCS_SUFFIX = ".procs"
# `.gate-<token>`: flocked by a waiter of a lock with slots until it is admitted (admission.py)
GATE_PREFIX = ".gate-"
RELEASE = ".release"  # the FIFO a releaser wakes the head of a lock with slots through (wakeup.py)
HANDED = "fd"  # a `.procs` record's first line: `fd <number>`, where the holder's command has it
MAX_PROCS_READ = 4 << 20  # bytes of a `.procs` file read: ~200,000 processes
# characters of argv kept in a ticket: it identifies the run; the journal and log keep it all
ARGV_CAP = 4096
MAX_READ = 65536  # bytes read of a ticket; a bigger one is not ours (it is listed as unreadable)
# a FIFO in a ticket's place never blocks
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class TicketInfo(NamedTuple):
    number: int
    path: str
    pid: int  # 0 when unreadable
    token: str  # "" when unreadable
    argv: list[str]
    cwd: str
    since: float  # epoch seconds when it joined the queue
    granted: float | None  # epoch seconds when it got the lock
    holds: list[str]  # tokens of the locks its caller already held (for cycle detection)
    alive: bool  # someone holds its flock
    readable: bool = True  # False: torn, garbage or foreign; only its place in the queue is known
    # its expected peak memory, where the lock has slots or a budget (capacity.py)
    expected_mb: int = 0
    # the slots its caller was admitted under: a ticket that says none (the plain lock's) runs alone
    slots: int = 1
    budget_mb: int = 0  # the memory budget its caller was admitted under (0: none)
    # what that comes from: capacity.BASES ("" on a ticket of an older seq-hooks)
    expected_from: str = ""
    expected_runs: int = 0  # the runs of its history it comes from
    # when it was revised while waiting (epoch seconds); 0: as guessed on arrival
    expected_revised: float = 0.0
    # the highest share of its memory limit (50, 75 %) its tree passed; 0: none yet
    memory_level: int = 0
    limit_mb: int = 0  # that memory limit
    # epoch seconds when its unit is killed: its timeout or the pipeline's, sooner
    deadline: float | None = None
    # the pipeline deadline its unit and the calls under it run within
    pipeline_deadline: float | None = None


def locks_root(state_dir: str) -> str:
    return os.path.join(state_dir, "locks")


def queue_dir(state_dir: str, lock_id: str) -> str:
    return os.path.join(locks_root(state_dir), *lock_id.split("/"))


def nested_dir(qdir: str, token: str) -> str:
    return os.path.join(qdir, NESTED, token)


def path(qdir: str, number: int) -> str:
    """Where this version of seq-hooks makes ticket `number`."""
    return os.path.join(qdir, f"{number:012d}{SUFFIX}")


def number_of(name: str) -> int | None:
    """The queue position of a file named `<digits>.ticket`, else None."""
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else ""
    return int(stem) if stem.isdigit() and stem.isascii() else None


def _names(qdir: str) -> list[str]:
    try:
        return os.listdir(qdir)
    except OSError:
        return []


def listing(qdir: str) -> list[tuple[int, str]]:
    """(number, path) of every ticket in queue order (ties by name, so the order is total)."""
    found = ((number_of(n), n) for n in _names(qdir))
    return sorted((num, os.path.join(qdir, n)) for num, n in found if num is not None)


def gate_tokens(qdir: str) -> set[str]:
    """The tokens of the waiters that hold a gate (admission.py): the head of a lock with slots is
    one of them."""
    return {n[len(GATE_PREFIX) :] for n in _names(qdir) if n.startswith(GATE_PREFIX)}


def half_made(qdir: str) -> list[str]:
    """Paths of tickets being made (`.new-*`): live ones exist only while their maker holds
    `.seq`."""
    return sorted(os.path.join(qdir, n) for n in _names(qdir) if n.startswith(NEW_PREFIX))


def locked_by_someone(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def is_free(ticket: str) -> bool:
    """True when the ticket exists and nobody holds its flock: its owner is dead (a test flock,
    released at once)."""
    try:
        fd = os.open(ticket, OPEN_FLAGS)
    except OSError:
        return False
    try:
        return not locked_by_someone(fd)
    finally:
        os.close(fd)


def _parse(number: int, ticket: str, data: bytes, alive: bool) -> TicketInfo | None:
    lines = data.split(b"\n")
    try:
        head = jsontext.loads(lines[0])
        granted = (
            float(jsontext.loads(lines[1])["granted"]) if len(lines) > 1 and lines[1] else None
        )
        level, limit, deadline, pipeline = _notes(lines[2:])
        argv = [str(a) for a in head["argv"]]
        if head.get("argv_cut"):
            argv.append(f"... ({int(head['argv_cut'])} more characters)")
        return TicketInfo(
            number,
            ticket,
            int(head["pid"]),
            str(head["token"]),
            argv,
            str(head["cwd"]),
            float(head["since"]),
            granted,
            [str(h) for h in head.get("holds", [])],
            alive,
            expected_mb=int(head.get("expected_mb", 0)),
            expected_from=str(head.get("expected_from", "")),
            expected_runs=int(head.get("expected_runs", 0)),
            expected_revised=float(head.get("expected_revised", 0.0)),
            memory_level=level,
            limit_mb=limit,
            deadline=deadline,
            pipeline_deadline=pipeline,
            slots=max(int(head.get("slots", 1)), 1),
            budget_mb=max(int(head.get("budget_mb", 0)), 0),
        )
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError):
        return None


def _notes(lines: list[bytes]) -> tuple[int, int, float | None, float | None]:
    """What its holder noted after the granted line: the highest memory level (encode_memory) and
    its limit ((0, 0) if none), and the last deadlines (encode_deadline; None if none)."""
    best = (0, 0)
    deadline = pipeline = None
    for line in lines:
        if not line:
            continue
        note = jsontext.loads(line)
        if "memory_level" in note:
            best = max(best, (int(note["memory_level"]), int(note["limit_mb"])))
        elif "deadline" in note:
            deadline, pipeline = _epoch(note["deadline"]), _epoch(note.get("pipeline_deadline"))
    return best[0], best[1], deadline, pipeline


def _epoch(value: object) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return None if value is None else float(value)
    raise ValueError(f"not a time: {value!r}")


def read(ticket: str, alive: bool | None = None, number: int | None = None) -> TicketInfo | None:
    """The ticket at `ticket` (alive: probed with a non-blocking shared flock unless given); None
    once it is gone.

    A ticket that cannot be parsed is returned with readable=False: it still has a place in the
    queue. So is a symlink or a file we may not open in a ticket's place, as a dead one (nobody of
    ours can hold its flock): whoever waits behind it removes it, as the plain lock does."""
    if number is None:
        number = number_of(os.path.basename(ticket)) or 0
    try:
        fd = os.open(ticket, OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as e:  # EMFILE and the like say nothing of the ticket: it is left alone
        if isinstance(e, PermissionError) or os.path.islink(ticket):
            return TicketInfo(
                number, ticket, 0, "", [], "", time.time(), None, [], False, readable=False
            )
        return None
    data, mtime, live = b"", time.time(), True
    try:
        live = locked_by_someone(fd) if alive is None else alive
        data = os.read(fd, MAX_READ + 1)
        mtime = os.fstat(fd).st_mtime
    except OSError:
        pass
    finally:
        os.close(fd)
    info = _parse(number, ticket, data, live) if len(data) <= MAX_READ else None
    return info or TicketInfo(number, ticket, 0, "", [], "", mtime, None, [], live, readable=False)


def read_queue(qdir: str) -> list[TicketInfo]:
    """The queue in order, read without taking it: the first live granted ticket is the holder."""
    out = []
    for number, ticket in listing(qdir):
        t = read(ticket, number=number)
        if t is not None:
            out.append(t)
    return out


def all_queues(state_dir: str) -> list[tuple[str, str]]:
    """(lock id, queue dir) for every queue of the state dir, nested ones included."""
    root = locks_root(state_dir)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        # a directory in a ticket's place is a ticket
        odd = [d for d in dirnames if number_of(d) is not None]
        dirnames[:] = sorted(d for d in dirnames if number_of(d) is None)
        if dirpath != root and os.path.basename(dirpath) != NESTED and (filenames or odd):
            out.append((os.path.relpath(dirpath, root).replace(os.sep, "/"), dirpath))
    return out


def live_tokens(state_dir: str) -> set[str]:
    """The run tokens of every live ticket (holding or waiting) of the state dir."""
    return {
        t.token for _lock_id, qdir in all_queues(state_dir) for t in read_queue(qdir) if t.alive
    }


def clear_nested(qdir: str, token: str) -> None:
    """Removes a holder's nested queues (the holder released or died, its tree has ended): their
    dead tickets and what goes with them; a ticket someone still holds is left, and so is its
    directory (`clean` comes back)."""
    for dirpath, _dirnames, files in os.walk(nested_dir(qdir, token), topdown=False):
        for name in files:
            path_ = os.path.join(dirpath, name)
            if number_of(name) is None or is_free(path_):
                remove(path_)
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def cap_argv(argv: list[str]) -> tuple[list[str], int]:
    """argv cut to ARGV_CAP characters in all (the last word kept cut), and how many characters were
    left out."""
    kept: list[str] = []
    room = ARGV_CAP
    for i, word in enumerate(argv):
        if len(word) > room:
            kept.append(word[:room])
            return kept, len(word) - room + sum(len(w) for w in argv[i + 1 :])
        kept.append(word)
        room -= len(word)
    return kept, 0


def procs_path(ticket: str) -> str:
    """The `.procs` file that goes with a ticket."""
    return (ticket[: -len(SUFFIX)] if ticket.endswith(SUFFIX) else ticket) + PROCS_SUFFIX


class ProcRecord:
    """The processes of a holder's run, appended to its `.procs` file as the supervisor first sees
    them."""

    def __init__(self, ticket: str) -> None:
        self.path = procs_path(ticket)
        self.fd = -1
        self.seen: set[tuple[int, int]] = set()

    def open(self) -> None:
        """Opens the record in an fd the command inherits (no close-on-exec): every process that
        keeps it open is part of the run, whatever its environment says and whether or not a sample
        saw it."""
        try:
            self.fd = os.open(
                self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600
            )
            os.set_inheritable(self.fd, True)
            os.write(self.fd, f"{HANDED} {self.fd}\n".encode())  # a reader of the file is no heir
        except OSError:
            self.fd = -1

    def add(self, procs: list[tuple[int, int]]) -> None:
        """Records (pid, start time) pairs not recorded yet; never raises (a full disk loses only
        this record)."""
        new = [p for p in procs if p not in self.seen]
        if not new:
            return
        try:
            if self.fd < 0:
                self.fd = os.open(
                    self.path,
                    os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                )
            os.write(self.fd, "".join(f"{pid} {start}\n" for pid, start in new).encode())
            self.seen.update(new)
        except OSError:
            pass

    def close(self) -> None:
        """Ends the record (the run released the lock: nothing of it is left to find)."""
        remove(self.path)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def handed_fd(ticket: str) -> int | None:
    """The fd number at which a ticket's holder handed its record to its command (the record's first
    line), if it says."""
    try:
        fd = os.open(procs_path(ticket), OPEN_FLAGS)
    except OSError:
        return None
    try:
        word, _, number = os.pread(fd, 32, 0).partition(b"\n")[0].partition(b" ")
    except OSError:
        return None
    finally:
        os.close(fd)
    return int(number) if word == HANDED.encode() and number.isdigit() else None


def started(ticket: str) -> bool:
    """Whether a holder's command has started: its record names a process (the supervisor records
    the command as soon as it runs). Reads the record's first bytes only."""
    try:
        fd = os.open(procs_path(ticket), OPEN_FLAGS)
    except OSError:
        return False
    try:
        head = os.pread(fd, 128, 0)
    except OSError:
        return False
    finally:
        os.close(fd)
    return any(pid.isdigit() and start.isdigit()
               for pid, _, start in (line.partition(b" ") for line in head.split(b"\n")[:-1]))


def read_procs(ticket: str) -> list[tuple[int, int]]:
    """The (pid, start time) pairs recorded for a ticket's run; lines that do not parse are
    skipped."""
    try:
        fd = os.open(procs_path(ticket), OPEN_FLAGS)
    except OSError:
        return []
    try:
        data = os.read(fd, MAX_PROCS_READ)
    except OSError:
        data = b""
    finally:
        os.close(fd)
    out = []
    for line in data.split(b"\n"):
        pid, _, start = line.partition(b" ")
        if pid.isdigit() and start.isdigit():
            out.append((int(pid), int(start)))
    return out


def open_seq(qdir: str) -> int:
    return os.open(
        os.path.join(qdir, SEQ), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )


def _next_number(seq: int, numbers: list[tuple[int, str]]) -> int:
    """The number after the last handed out, and after every ticket in the queue (`numbers`)."""
    raw = os.pread(seq, 32, 0).strip()
    number = int(raw) + 1 if raw.isdigit() else 1
    if numbers and numbers[-1][0] >= number:
        number = numbers[-1][0] + 1
    os.pwrite(seq, f"{number}\n".encode(), 0)
    return number


def expected_fields(expected: Estimate) -> dict[str, object]:
    """The keys of a ticket's first line that say its unit's expected peak."""
    return {
        "expected_mb": expected.mb,
        "expected_from": expected.basis,
        "expected_runs": expected.runs,
        "expected_revised": expected.revised,
    }


def encode_head(pid: int, token: str, argv: list[str], cwd: str, since: float, holds: list[str],
                expected: Estimate | None = None, terms: tuple[int, int] = (1, 0)) -> bytes:
    """A ticket's first line (argv capped). `terms`: the (slots, memory budget MB) its caller is
    admitted under, written only where they are not the plain lock's (1, 0), so the plain lock's
    tickets stay as they were."""
    kept, cut = cap_argv(argv)
    head: dict[str, object] = {
        "pid": pid,
        "token": token,
        "argv": kept,
        "cwd": cwd,
        "since": since,
        "holds": holds,
    }
    if cut:
        head["argv_cut"] = cut
    if expected is not None:
        head.update(expected_fields(expected))
    if terms != (1, 0):
        head["slots"], head["budget_mb"] = terms
    return (jsontext.dumps(head) + "\n").encode()


def encode_granted(when: float) -> bytes:
    """A ticket's second line, appended when its owner gets the lock."""
    return (jsontext.dumps({"granted": when}) + "\n").encode()


def make(
    qdir: str,
    token: str,
    argv: list[str],
    cwd: str,
    holds: list[str],
    expected: Estimate | None = None,
    terms: tuple[int, int] = (1, 0),
) -> tuple[int, int, float]:
    """Takes the next number under `.seq` and makes our ticket there, flocked: (number, fd,
    since)."""
    since = time.time()
    head = encode_head(os.getpid(), token, argv, cwd, since, holds, expected, terms)
    return _make(qdir, token, head, since, alone=False)


def make_granted_if_alone(
    qdir: str,
    token: str,
    argv: list[str],
    cwd: str,
    holds: list[str],
    expected: Estimate | None = None,
    terms: tuple[int, int] = (1, 0),
) -> tuple[int, int, float] | None:
    """Our ticket, made already granted, when the queue holds no ticket at all (live, dead or
    unreadable): (number, fd, since) as `make`; None, and nothing made, when it holds one. Every
    ticket is made under `.seq`, which we hold while we look, so none can come before ours
    afterwards: whoever comes after finds ours granted, with its terms and its expected peak."""
    since = time.time()
    head = encode_head(os.getpid(), token, argv, cwd, since, holds, expected, terms)
    try:
        return _make(qdir, token, head + encode_granted(since), since, alone=True)
    except _NotAlone:
        return None


class _NotAlone(Exception):
    """The queue holds a ticket: none is made granted at birth."""


def _make(qdir: str, token: str, lines: bytes, since: float,
          alone: bool) -> tuple[int, int, float]:
    """Makes a ticket of these lines under `.seq`; raises _NotAlone, with nothing made, when `alone`
    and the queue holds a ticket."""
    seq = open_seq(qdir)
    try:
        fcntl.flock(seq, fcntl.LOCK_EX)
        numbers = listing(qdir)
        if alone and numbers:
            raise _NotAlone
        number = _next_number(seq, numbers)
        tmp = os.path.join(qdir, f"{NEW_PREFIX}{os.getpid()}-{token}")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, lines)
            os.rename(tmp, path(qdir, number))
        except BaseException as e:
            os.close(fd)
            os.unlink(tmp)
            if isinstance(e, OSError):  # a full disk: the sentence names the ticket
                raise on_file(e, tmp) from None
            raise
    except OSError as e:  # or the queue, whose sequence number could not be written
        raise on_file(e, qdir) from None
    finally:
        os.close(seq)
    return number, fd, since


def rewrite(ticket: str, fd: int, changes: dict[str, object]) -> int:
    """Our ticket with `changes` in its first line, as a new file made flocked and renamed over it
    (a reader sees the old one or the new one, never a torn one; the path is flocked by us
    throughout). Returns the new file's fd; `fd` (the old file's) is closed. Only for a ticket we
    own."""
    data = os.pread(fd, MAX_READ, 0)
    first, _, rest = data.partition(b"\n")
    head = jsontext.loads(first)
    head.update(changes)
    tmp = os.path.join(os.path.dirname(ticket), f"{NEW_PREFIX}{os.getpid()}-{head['token']}")
    new = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(new, fcntl.LOCK_EX)
        os.write(new, (jsontext.dumps(head) + "\n").encode() + rest)
        os.rename(tmp, ticket)
    except BaseException:
        os.close(new)
        remove(tmp)
        raise
    os.close(fd)
    return new


def encode_memory(level: int, limit_mb: int) -> bytes:
    """The line a holder appends when its tree passes `level` % of its memory limit (shown by
    status)."""
    return (jsontext.dumps({"memory_level": level, "limit_mb": limit_mb}) + "\n").encode()


def encode_deadline(deadline: float | None, pipeline: float | None) -> bytes:
    """The line a holder appends as each attempt starts: when its unit is killed (its timeout, cut
    to the pipeline deadline) and the pipeline deadline it runs within (shown by status)."""
    return (jsontext.dumps({"deadline": deadline, "pipeline_deadline": pipeline}) + "\n").encode()


def mark_granted(fd: int) -> None:
    os.write(fd, encode_granted(time.time()))


def remove(ticket: str) -> bool:
    """Removes a ticket file (or an empty directory in a ticket's place); True when it is gone."""
    try:
        os.unlink(ticket)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        try:
            os.rmdir(ticket)
        except OSError:
            return False
    except OSError:
        return False
    return True


def take_within(fd: int, seconds: float) -> bool:
    """flock(fd, LOCK_EX) tried every 5 ms for at most `seconds`: for where SIGALRM cannot interrupt
    a blocking flock (not the main thread) and for brief locks such as `.seq`."""
    deadline = time.monotonic() + max(seconds, 0.001)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
