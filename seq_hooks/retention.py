"""Log retention: keep the newest `keep_logs` run logs and at most `keep_logs_mb` of them, oldest
removed first.

Imported only when pruning is due: `logfile.prune_if_due`, after every run, decides that from one
listdir of the log dir (0.2 ms for 500 logs, docs/commands.md "Logs"): the count is over, or the
sizes (a stat per log, 1 ms for
500) are to be summed, on one run in 16 or when this run's own log is big. Only files named the way
seq-hooks names its logs (`logfile.parse` says which: a run's and a hook run's) are ever removed: a
configured log_dir may hold other files. The logs of live runs (a token in a live ticket, or a log a
live process holds: `logfile.in_use`, as a hook run's between its units) are kept.
"""
from __future__ import annotations

import os

from seq_hooks import logfile
from seq_hooks.sizes import MB


def _stat(log_dir: str, name: str) -> tuple[int, int]:
    """(mtime ns, size); a log removed meanwhile counts as old and empty."""
    try:
        st = os.stat(os.path.join(log_dir, name))
    except OSError:
        return 0, 0
    return st.st_mtime_ns, st.st_size


def _oldest_first(log_dir: str, names: list[str], cut: int | None) -> list[str]:
    """Orders logs by start second (the name), ties by last write. Only the tie group at `cut` (the
    first kept index) is stat'ed when given; None: every log (the size check stats them all
    anyway)."""
    if cut is not None:
        if not 0 < cut < len(names) or names[cut - 1][:15] != names[cut][:15]:
            return names
        same = [n for n in names if n[:15] == names[cut][:15]]
        first = names.index(same[0])
        tie = sorted(same, key=lambda n: (_stat(log_dir, n)[0], n))
        return [*names[:first], *tie, *names[first + len(same) :]]
    return sorted(names, key=lambda n: (n[:15], _stat(log_dir, n)[0], n))


def prune(log_dir: str, keep: int, keep_mb: int, protect: frozenset[str] = frozenset(),
          listing: list[str] | None = None) -> list[str]:
    """Removes the oldest of our logs until at most `keep` remain (0: no count limit) and they take
    at most `keep_mb` MB (0: no size limit). The newest log always stays. Returns the removed
    names."""
    names = logfile.logs(log_dir, listing)
    over = keep > 0 and len(names) > keep
    if keep_mb > 0:
        names = _oldest_first(log_dir, names, None)
    elif over:
        names = _oldest_first(log_dir, names, len(names) - keep)
    doomed: list[str] = names[: len(names) - keep] if over else []
    kept = names[len(doomed) :]
    if keep_mb > 0:
        sizes = [_stat(log_dir, n)[1] for n in kept]
        total = sum(sizes)
        i = 0
        while total > keep_mb * MB and i < len(kept) - 1:
            doomed.append(kept[i])
            total -= sizes[i]
            i += 1
    removed = []
    for n in doomed:
        parts = logfile.parse(n)
        if (parts is not None and parts.token in protect) or logfile.in_use(
            os.path.join(log_dir, n)
        ):
            continue
        try:
            os.unlink(os.path.join(log_dir, n))
            removed.append(n)
        except FileNotFoundError:
            pass
    return removed


def live_tokens(state_dir: str) -> frozenset[str]:
    from seq_hooks.lock import tickets  # the lock's files: off `run --no-lock`'s path

    return frozenset(tickets.live_tokens(state_dir))
