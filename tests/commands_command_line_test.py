from __future__ import annotations

import signal

import pytest

from seq_hooks.commands import command_line
from seq_hooks.process.supervisor import Limits
from seq_hooks.runner import Request


def test_shell_joins_the_words_into_one_sh_c_string() -> None:
    assert command_line.shell(["echo a; echo b"]) == ["sh", "-c", "echo a; echo b"]
    assert command_line.shell(["echo", "a", "&&", "true"]) == ["sh", "-c", "echo a && true"]


@pytest.mark.parametrize(
    ("word", "shell"),
    [
        ("echo a; echo b", True),
        ("make test", True),
        ("ls|wc", True),
        ("$HOME/x", True),
        ("pytest", False),
        ("my-tool_2.py", False),
    ],
)
def test_a_not_found_command_that_looks_like_a_shell_line(word: str, shell: bool) -> None:
    assert command_line.looks_like_shell(word) is shell
    hint = command_line.not_found_hint([word])
    assert (hint == "") is not shell
    if shell:
        assert "seq-hooks run --shell -- " in hint


def test_describe_says_executable_lock_limits_and_threads() -> None:
    request = Request(
        ["sh", "-c", "true"],
        Limits(60.0, 2.0, signal.SIGINT, 512, 10),
        retry=1,
        threads=2,
        notes=(command_line.SHELL_NOTE,),
    )
    first, shell, limits = command_line.describe(request, found=None, state_dir="/s")
    assert first.startswith("about to run: sh -c true (executable: /") and first.endswith("/sh)")
    assert shell == "--shell: the command line runs with sh -c"
    assert limits == (
        "lock 'default' (queue in /s); limits: timeout 60s (then SIGINT, SIGKILL 2s later), memory "
        "512 MB for the whole tree, processes 10, retries 1; threads capped at 2"
    )
    [first, limits] = command_line.describe(
        Request(["nope-not-here"], Limits(), lock=None), found="x", state_dir=""
    )
    assert first == "about to run: nope-not-here (executable: not found on PATH, x)"
    assert limits.startswith(
        "no lock (--no-lock); limits: timeout none (then SIGTERM, SIGKILL 5s later), memory none"
    )
