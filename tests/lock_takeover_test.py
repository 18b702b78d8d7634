from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from seq_hooks.lock import takeover
from seq_hooks.process import proctree
from testing.queue import plant_ticket, queue, start, start_with_token
from testing.util import (
    PY,
    alive,
    end_orphan,
    fixture,
    reap,
    run,
    seq_hooks,
    wait_for_file,
    wait_until,
)


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
    # a waiter never ran anything: not its process
    other = start_with_token(isolated, "other", token)
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


@pytest.mark.parametrize("nested", [False, True], ids=["holder", "nested-holder"])
def test_a_killed_holders_processes_are_ended_even_without_the_run_token(
    isolated: Path, nested: bool
) -> None:
    """Issue 10 item 4: a command that clears its environment (`env -i`, sudo) keeps no
    SEQ_HOOKS_RUN; the next unit finds it by the pids and start times the supervisor recorded next
    to the ticket, and does not start while it lives. Nested: the outer runner is killed, the inner
    one lives on; its tree is part of the outer run (its command carries only the inner run's token,
    or none)."""
    pidfile = isolated / "left.pid"
    cmd = ["env", "-i", f"PATH={os.environ['PATH']}", *fixture("ignore_term.py", pidfile, 60)]
    env = {**os.environ, "SEQ_HOOKS_KILL_AFTER": "1"}
    holder = start(seq_hooks("run", "--", *(seq_hooks("run", "--", *cmd) if nested else cmd)), env)
    left = int(wait_for_file(pidfile))
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert alive(left)
        p = run(
            seq_hooks("run", "--max-wait", "30", "--", *fixture("gone.py", left)),
            env=env,
            timeout=60,
        )
        assert p.returncode == 0, p.stderr
        assert not alive(left)
        assert not list(queue(isolated).rglob("*.ticket")) and not list(
            queue(isolated).rglob("*.procs")
        )
    finally:
        if alive(left):
            end_orphan(left)
        reap(holder)


def test_a_nested_runs_command_is_ended_with_its_killed_outer_run(isolated: Path) -> None:
    """The command under a nested runner carries only the inner run's token; killing the outer
    runner must end it too, not leave it to the inner runner's own kill-after (here longer than the
    take-over's grace, so the inner runner is killed first)."""
    pidfile = isolated / "inner.pid"
    env = {**os.environ, "SEQ_HOOKS_KILL_AFTER": "1"}
    inner = seq_hooks("run", "--kill-after", "30", "--", *fixture("ignore_term.py", pidfile, 60))
    holder = start(seq_hooks("run", "--", *inner), env)
    inner_cmd = int(wait_for_file(pidfile))
    try:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        p = run(seq_hooks("run", "--max-wait", "30", "--", *fixture("gone.py", inner_cmd)), env=env,
                timeout=60)
        assert p.returncode == 0, p.stderr
        assert not alive(inner_cmd)
    finally:
        if alive(inner_cmd):
            end_orphan(inner_cmd)
        reap(holder)


def test_leftovers_never_include_the_caller_or_its_ancestors(isolated: Path) -> None:
    """A process of the dead run may itself be the next caller (a descendant that lost its marker):
    it never ends itself or the processes it runs under."""
    ticket = plant_ticket(queue(isolated), 1, ["old"], "tok", granted=True)
    lines = []
    for pid in (os.getpid(), os.getppid()):
        i = proctree.info(pid)
        assert i is not None
        lines.append(f"{pid} {i.start}\n")
    Path(str(ticket)[: -len(".ticket")] + ".procs").write_text("".join(lines))
    left = takeover.leftovers(str(ticket), None)
    # neither we nor what we run under; the parent's other children (a `| tail` beside pytest) are
    # its leftovers
    assert not {os.getpid(), *proctree.ancestors()} & set(left), left


def test_a_process_no_sample_saw_is_found_by_the_record_it_inherited(isolated: Path) -> None:
    """The holder's command inherits the open `.procs` record: if the runner dies before it recorded
    anything (right after starting the command), the command is still found, without a token and
    without a line in the file."""
    ticket = plant_ticket(queue(isolated), 1, ["old"], "tok", granted=True)
    record = os.open(
        str(ticket)[: -len(".ticket")] + ".procs", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
    )
    pidfile = isolated / "bare.pid"
    try:
        bare = subprocess.Popen(
            ["env", "-i", *fixture("pidfile.py", pidfile, 60)], pass_fds=(record,)
        )
    finally:
        os.close(record)
    try:
        wait_for_file(pidfile)
        assert takeover.leftovers(str(ticket), None) == [bare.pid]
        assert takeover.take_over(str(ticket), grace=2.0)
        assert bare.wait(10) != 0
    finally:
        reap(bare)


@pytest.mark.parametrize("who", ["next-caller", "clean"])
def test_a_reader_of_a_dead_holders_record_is_no_part_of_its_run(isolated: Path, who: str) -> None:
    """Issue 20 item 5: a `tail -f` of a dead holder's `.procs` record and a reader of it, started
    outside any run, are bystanders: the take-over (and `clean`, through the same path) ends the
    command that inherited the record from its holder, and leaves them running."""
    pidfile = isolated / "cmd.pid"
    env = {**os.environ, "SEQ_HOOKS_KILL_AFTER": "1"}
    holder = start(seq_hooks("run", "--", "env", "-i", *fixture("pidfile.py", pidfile, 60)), env)
    command = int(wait_for_file(pidfile))
    record = next(queue(isolated).glob("*.procs"))
    tail = subprocess.Popen(["tail", "-f", str(record)], stdout=subprocess.DEVNULL)
    reader = subprocess.Popen([PY, "-c", f"import time; f = open({str(record)!r}); time.sleep(60)"])
    try:
        wait_until(lambda: all(str(record) in proctree.process(p.pid).open_files()
                               for p in (tail, reader)), what="the bystanders to open the record")
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        then = (
            seq_hooks("clean")
            if who == "clean"
            else seq_hooks("run", "--max-wait", "30", "--", "true")
        )
        p = run(then, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert not alive(command)  # the holder's heir is ended
        assert tail.poll() is None and reader.poll() is None  # the bystanders are not
    finally:
        for proc in (tail, reader):
            reap(proc)
        if alive(command):
            end_orphan(command)
        reap(holder)
