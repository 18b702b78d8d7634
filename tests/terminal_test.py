"""The supervised command in a real terminal (tmux): it can read the terminal, and Ctrl-C reaches
it."""
from __future__ import annotations

import shlex
from pathlib import Path

from testing.util import Tmux, needs, seq_hooks

pytestmark = needs("tmux")


def _shell(isolated: Path, cmd: list[str]) -> str:
    return f"cd {shlex.quote(str(isolated))} && {shlex.join(cmd)}; echo rc=$?; sleep 30"


def test_command_can_read_the_terminal(isolated: Path) -> None:
    cmd = seq_hooks("run", "--", "sh", "-c", "echo ready; read x; echo got:$x")
    tmux = Tmux(isolated.parent, _shell(isolated, cmd))
    try:
        tmux.wait_for("ready")
        # without the terminal handed over, `read` would stop on SIGTTIN and hang
        tmux.send("hello", "Enter")
        screen = tmux.wait_for("rc=")
        assert "got:hello" in screen and "rc=0" in screen
    finally:
        tmux.close()


def test_ctrl_c_stops_the_command_and_what_it_left(isolated: Path) -> None:
    pidfile = isolated / "daemon.pid"
    from testing.util import alive, fixture, wait_for_file

    script = f"{shlex.join(fixture('daemon.py', pidfile, 60))}; echo ready; sleep 60"
    tmux = Tmux(isolated.parent, _shell(isolated, seq_hooks("run", "--", "sh", "-c", script)))
    try:
        tmux.wait_for("ready")
        daemon = int(wait_for_file(pidfile))
        tmux.send("C-c")
        screen = tmux.wait_for("rc=")
        assert "rc=130" in screen
        assert not alive(daemon)
    finally:
        tmux.close()


def test_git_editor_gets_the_terminal(isolated: Path) -> None:
    from testing.util import git

    editor = isolated.parent / "editor.sh"
    editor.write_text(
        '#!/bin/sh\nif [ -t 0 ] && [ -t 1 ]; then echo "editor had the terminal" > "$1"; '
        'else echo "editor had no terminal" > "$1"; fi\n'
    )
    editor.chmod(0o755)
    (isolated / "f").write_text("x")
    git(isolated, "add", "f")
    cmd = (
        f"GIT_EDITOR={shlex.quote(str(editor))} "
        f"{shlex.join(seq_hooks('git', '--', 'commit', '-q'))}"
    )
    tmux = Tmux(isolated.parent, f"cd {shlex.quote(str(isolated))} && {cmd}; echo rc=$?; sleep 30")
    try:
        assert "rc=0" in tmux.wait_for("rc=")
    finally:
        tmux.close()
    assert git(isolated, "log", "-1", "--format=%s").stdout.strip() == "editor had the terminal"

