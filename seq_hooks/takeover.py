"""Taking over from a dead ticket owner: what its run left behind is ended before the queue moves on.

A waiter whose flock on the ticket ahead is granted while the file is still there knows its owner died (a live
owner removes its ticket before releasing). If that owner had been granted the lock, its command may still run:
its processes are ended first (found by the run token they carry), then the ticket is removed, whatever it holds.
"""
from __future__ import annotations

from seq_hooks import proctree, tickets


def take_over(ticket: str, grace: float) -> bool:
    """Our flock on `ticket` was granted, so its owner is dead: ends what its run left and removes it.

    False when the file cannot be removed (the caller then passes over it: its owner is dead all the same)."""
    info = tickets.read(ticket, alive=False)
    if info is not None and info.readable and info.granted is not None:
        proctree.end(proctree.pids_with_token(info.token), grace)
    return tickets.remove(ticket)
