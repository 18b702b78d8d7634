"""jobcontrol: signal names, the signal inbox, and job control on a real terminal (tmux): Ctrl-Z and
`fg`."""
from __future__ import annotations

import os
import select
import shlex
import signal
import threading
from pathlib import Path

from seq_hooks.process.jobcontrol import Inbox, Job, signal_name
from testing.util import Tmux, alive, needs, seq_hooks, wait_for_file


def test_signal_names() -> None:
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(signal.SIGRTMIN) == "SIGRTMIN"
    assert signal_name(signal.SIGRTMIN + 6) == "SIGRTMIN+6"
    assert signal_name(signal.SIGRTMAX) == "SIGRTMAX"
    assert signal_name(32) == "signal 32"


def test_inbox_notes_signals_and_wakes_poll() -> None:
    before = signal.getsignal(signal.SIGHUP)
    inbox = Inbox()
    try:
        assert inbox.active
        os.kill(os.getpid(), signal.SIGHUP)
        assert select.select([inbox.fd], [], [], 5)[0] == [inbox.fd]
        inbox.drain()
        assert inbox.take() == [signal.SIGHUP]
        assert inbox.take() == []
    finally:
        inbox.close()
    assert signal.getsignal(signal.SIGHUP) == before


def test_off_the_main_thread_there_is_no_inbox_and_no_job() -> None:
    seen: list[tuple[bool, int | None]] = []

    def probe() -> None:
        inbox = Inbox()
        seen.append((inbox.active, Job.wanted(inbox).tty))
        inbox.close()

    t = threading.Thread(target=probe)
    t.start()
    t.join(10)
    assert seen == [(False, None)]


@needs("tmux")
def test_ctrl_z_stops_the_command_and_us_and_fg_resumes_both(isolated: Path) -> None:
    pidfile = isolated / "child.pid"
    marker = isolated / "resumed"
    script = f"echo $$ > {pidfile}; echo ready; read x; echo resumed > {marker}; echo got:$x"
    cmd = (
        f"cd {shlex.quote(str(isolated))} && "
        f"{shlex.join(seq_hooks('run', '--', 'sh', '-c', script))}"
    )
    tmux = Tmux(isolated.parent, "HISTFILE= bash --norc --noprofile -i")
    try:
        tmux.send(cmd, "Enter")
        tmux.wait_for("ready")
        child = int(wait_for_file(pidfile))
        tmux.send("C-z")
        tmux.wait_for("Stopped")
        state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert state == "T" and alive(child)
        tmux.send("fg", "Enter")
        tmux.send("hello", "Enter")  # the command has the terminal again and reads it
        tmux.wait_for("got:hello")
        tmux.send('echo "R""C=$?"', "Enter")
        assert "RC=0" in tmux.wait_for("RC=")
        assert marker.read_text() == "resumed\n"
    finally:
        tmux.close()
