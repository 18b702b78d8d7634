"""The command's output on its way out: to our stdout/stderr, to the run's log, and (--json) into
memory.

Nothing here blocks the supervisor: our stdout/stderr are written through a non-blocking description
of their own (a pipe or terminal reopened through /proc/self/fd), so a reader that never reads (a
pager nobody scrolls, a paused terminal) holds back the command, as it would without seq-hooks, but
never the timeout or the memory checks. When our reader goes away, the command's own pipe is closed:
it gets the broken pipe it would get without us. Every buffer is bounded: at most PENDING bytes wait
for a slow reader (then the command's pipe is not read until they are written), and the log and the
captured output keep a head and a tail, saying what was cut between them.
"""
from __future__ import annotations

import os
import select
import stat
import time

from seq_hooks.sizes import MB, megabytes

PENDING = 1 << 20  # bytes waiting for a slow reader before we stop reading the command's pipe
LOG_HEAD = 32 << 20  # a log keeps the first LOG_HEAD and the last LOG_TAIL bytes of output; written
LOG_TAIL = 8 << 20  # by several runs, it keeps its head and its last LOG_TAIL + LOG_SLACK bytes
LOG_SLACK = 1 << 20  # room past LOG_TAIL for the last run's header, notes and footer
_CUT_WORDS = b" bytes of this log cut here"  # a cut in a log of several runs: "# seq-hooks: N ..."
CAPTURE_HEAD = 8 << 20  # --json keeps the first and the last bytes of each stream
CAPTURE_TAIL = 8 << 20
_CHUNK = 4096  # PIPE_BUF: what a poll-gated write to a blocking fd can take without waiting


class HeadTail:
    """The first `head` and the last `tail` bytes of a stream, and how many were cut between them
    (memory: at most head + 2 * tail)."""

    def __init__(self, head: int, tail: int) -> None:
        self.head_max, self.tail_max = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.cut = 0

    def add(self, data: bytes) -> None:
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_max:
                self.trim()

    def trim(self) -> None:
        over = len(self.tail) - self.tail_max
        if over > 0:
            del self.tail[:over]
            self.cut += over

    def result(self) -> tuple[bytes, int]:
        """(what was kept, with a marker where bytes were cut; how many were cut)."""
        self.trim()
        if not self.cut:
            return bytes(self.head + self.tail), 0
        marker = f"\n[seq-hooks: {self.cut} bytes cut here]\n".encode()
        return bytes(self.head) + marker + bytes(self.tail), self.cut


class Log:
    """The run's log: the output's head written as it comes, its tail kept in memory and written at
    the end, and the supervisor's notes with the time since the start.

    The bound is the file's, not the run's: a hook run writes all its units into one log (a retried
    run, its attempts), so the head is what the file has not filled yet, and at the end the file
    keeps its head and its last LOG_TAIL + LOG_SLACK bytes (the first units' start, the last's
    end)."""

    def __init__(self, fd: int | None, start: float) -> None:
        self.fd = fd
        self.start = start
        self.written = _size(fd)  # earlier runs (and this run's header) fill the head first
        self.tail = HeadTail(0, LOG_TAIL)

    def _write(self, data: bytes) -> None:
        if self.fd is None:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            # a full disk or a closed log: the command's result counts more than its log
            self.fd = None

    def output(self, data: bytes) -> None:
        room = LOG_HEAD - self.written
        if room > 0:
            self._write(data[:room])
            self.written += min(room, len(data))
            data = data[room:]
        if data:
            self.tail.add(data)

    def note(self, text: str) -> None:
        self._write(f"\n# seq-hooks at {time.monotonic() - self.start:.3f}s: {text}\n".encode())

    def finish(self) -> None:
        self.tail.trim()
        if self.tail.cut:
            self._write(
                f"\n# seq-hooks: {self.tail.cut} bytes of output cut here (the log keeps the first "
                f"{megabytes(LOG_HEAD / MB)} and the last {megabytes(LOG_TAIL / MB)})\n".encode()
            )
        self._write(bytes(self.tail.tail))
        self._bound()

    def _bound(self) -> None:
        """Cuts the middle of a log several runs wrote past its bound: its head stays, a line says
        how much was cut (earlier cuts included), and its last LOG_TAIL + LOG_SLACK bytes follow."""
        size = _size(self.fd)
        keep_from = size - LOG_TAIL - LOG_SLACK
        if self.fd is None or keep_from <= LOG_HEAD + 256:
            return
        try:
            earlier, line = _earlier_cut(os.pread(self.fd, 256, LOG_HEAD))
            kept = os.pread(self.fd, size - keep_from, keep_from)
            os.ftruncate(self.fd, LOG_HEAD)
        except OSError:
            return  # not readable (a log opened write-only): it stays as it is
        cut = earlier + keep_from - LOG_HEAD - line
        head, tail = megabytes(LOG_HEAD / MB), megabytes((LOG_TAIL + LOG_SLACK) / MB)
        why = f"several runs wrote it: it keeps its first {head} and its last {tail}"
        self._write(f"\n# seq-hooks: {cut}{_CUT_WORDS.decode()} ({why})\n".encode() + kept)


def _size(fd: int | None) -> int:
    """How many bytes a regular file holds (0 for anything else: a pipe, a terminal, no log)."""
    try:
        st = os.fstat(fd) if fd is not None else None
    except OSError:
        return 0
    return st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0


def _earlier_cut(head: bytes) -> tuple[int, int]:
    """(bytes an earlier cut removed, the length of its line) when `head`, read at LOG_HEAD, starts
    with that cut's line; else (0, 0)."""
    prefix = b"\n# seq-hooks: "
    number = head[len(prefix) :].split(b" ", 1)[0]
    words = head[len(prefix) + len(number) :]
    end = head.find(b"\n", 1)
    if head.startswith(prefix) and number.isdigit() and words.startswith(_CUT_WORDS) and end > 0:
        return int(number), end + 1
    return 0, 0


class Echo:
    """Our stdout or stderr, written without ever blocking: output waits in `pending` (bounded by
    the caller, which stops reading the command while `full`) until poll(2) says the reader can take
    more."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.fd = target
        self.gated = False  # blocking fd we could not reopen: write at most _CHUNK after POLLOUT
        self.owned = False
        self.broken = False  # nothing more is written (no such fd, or its reader went away)
        self.hung_up = False  # its reader went away: the command's pipe is closed too
        self.pending = bytearray()
        self.dropped = 0
        try:
            mode = os.fstat(target).st_mode
        except OSError:
            self.broken = True
            return
        if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
            return  # a file never waits for a reader
        try:
            self.fd = os.open(
                f"/proc/self/fd/{target}", os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
            )
            self.owned = True
        except OSError as e:
            # only when the terminal's side cannot be reopened: off the path of a run (bench_run)
            import errno

            if e.errno == errno.ENXIO and stat.S_ISFIFO(mode):
                self.hang_up()  # a pipe without a reader
            else:
                self.gated = True

    @property
    def full(self) -> bool:
        return len(self.pending) >= PENDING

    def watch(self) -> int | None:
        """The poll(2) events to wait for: room to write while output waits, and always the errors
        that say the reader went away (0); None for a file, or when nothing more is written."""
        if self.broken or not (self.owned or self.gated):
            return None
        return select.POLLOUT if self.pending else 0

    def add(self, data: bytes) -> None:
        if not self.broken:
            self.pending += data
            self.flush()

    def flush(self) -> None:
        while self.pending and not self.broken:
            chunk = self.pending[:_CHUNK] if self.gated else self.pending
            if self.gated and not select.select([], [self.fd], [], 0)[1]:
                return
            try:
                n = os.write(self.fd, chunk)
            except BlockingIOError:
                return
            except OSError:
                self.hang_up()
                return
            del self.pending[:n]

    def hang_up(self) -> None:
        """The reader is gone: nothing more is written."""
        self.broken = self.hung_up = True
        self.dropped += len(self.pending)
        self.pending.clear()

    def give_up(self) -> int:
        """Drops what still waits (the run is over and the reader is not reading); returns how
        much."""
        n = len(self.pending)
        self.dropped += n
        self.pending.clear()
        return n

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)
            self.owned = False


class Pump:
    """The command's stdout and stderr pipes (our ends) and where each goes."""

    def __init__(self, sources: dict[int, int], log: Log, capture: bool) -> None:
        self.sources = sources  # our end of the command's pipe -> 1 (stdout) or 2 (stderr)
        self.log = log
        self.echo = {} if capture else {1: Echo(1), 2: Echo(2)}
        self.captured = {
            1: HeadTail(CAPTURE_HEAD, CAPTURE_TAIL),
            2: HeadTail(CAPTURE_HEAD, CAPTURE_TAIL),
        }
        self._hang_up()

    def events(self, drain: bool = False) -> dict[int, int]:
        """fd -> poll(2) events: the command's pipes we have room to read (all of them to `drain`
        what the ended tree left in them), and our stdout/stderr."""
        out = {fd: select.POLLIN for fd, s in self.sources.items()
               if drain or not (s in self.echo and self.echo[s].full)}
        for e in self.echo.values():
            if (mask := e.watch()) is not None:
                out[e.fd] = mask
        return out

    def handle(self, fd: int, revents: int) -> None:
        if fd in self.sources:
            self._read(fd)
        for e in self.echo.values():
            if fd == e.fd and e.watch() is not None:
                if revents & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    e.hang_up()
                else:
                    e.flush()
        self._hang_up()

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        stream = self.sources[fd]
        if not chunk:
            self._close(fd)
            return
        self.log.output(chunk)
        if stream in self.echo:
            self.echo[stream].add(chunk)
        else:
            self.captured[stream].add(chunk)

    def _hang_up(self) -> None:
        """A stream whose reader went away: close the command's pipe, so it gets the broken pipe
        itself."""
        for fd, stream in list(self.sources.items()):
            if stream in self.echo and self.echo[stream].hung_up:
                self._close(fd)

    def _close(self, fd: int) -> None:
        os.close(fd)
        del self.sources[fd]

    @property
    def pending(self) -> bool:
        return any(e.pending for e in self.echo.values())

    def give_up(self) -> None:
        """The run is over and our reader does not read: what still waits is dropped (it is in the
        log)."""
        for stream, e in self.echo.items():
            if n := e.give_up():
                self.log.note(
                    f"{n} bytes of {('stdout', 'stderr')[stream - 1]} were not echoed: its reader "
                    "did not read them (they are in this log)"
                )

    def close(self) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
        """Closes what is left; returns the captured stdout and stderr, each with how many bytes
        were cut."""
        for fd in list(self.sources):
            self._close(fd)
        for e in self.echo.values():
            e.close()
        self.log.finish()
        return self.captured[1].result(), self.captured[2].result()
