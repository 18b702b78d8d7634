from __future__ import annotations

import os
from pathlib import Path

from seq_hooks import takeover
from testing.queue import plant_ticket, queue, start_with_token
from testing.util import alive, reap


def test_a_dead_holders_ticket_is_removed_after_its_processes_end(isolated: Path) -> None:
    token = os.urandom(8).hex()
    ticket = plant_ticket(queue(isolated), 3, ["old"], token, granted=True)
    left = start_with_token(isolated, "left", token)
    try:
        takeover.take_over(str(ticket), grace=1.0)
        assert left.wait(10) != 0 and not alive(left.pid)
        assert not ticket.exists()
    finally:
        reap(left)


def test_a_dead_waiters_ticket_is_removed_and_nothing_is_ended(isolated: Path) -> None:
    token = os.urandom(8).hex()
    ticket = plant_ticket(queue(isolated), 3, ["old"], token, granted=False)
    other = start_with_token(isolated, "other", token)  # a waiter never ran anything: not its process
    try:
        takeover.take_over(str(ticket), grace=1.0)
        assert not ticket.exists() and alive(other.pid)
    finally:
        reap(other)


def test_a_ticket_that_cannot_be_parsed_is_removed_whatever_it_holds(isolated: Path) -> None:
    q = queue(isolated)
    q.mkdir(parents=True)
    for name, content in (("1.ticket", b"garbage"), ("000000000002.ticket", b'{"pid": 3, "tok'),
                          ("000000000003.ticket", b"\xff" * 70000)):
        (q / name).write_bytes(content)
        takeover.take_over(str(q / name), grace=1.0)
        assert not (q / name).exists()
