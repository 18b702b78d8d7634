from __future__ import annotations

import pytest

from seq_hooks import cli
from testing.util import PY, run, seq_hooks


def test_windows_gets_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.platform", "win32")
    assert cli.main(["run", "--", "true"]) == 125
    assert capsys.readouterr().err == (
        "seq-hooks: Windows is not supported: seq-hooks needs POSIX process groups, "
        "flock and posix_spawn (use WSL)\n"
    )


def test_unknown_command_and_usage() -> None:
    p = run(seq_hooks("bogus"))
    assert p.returncode == 2 and p.stderr.startswith("seq-hooks: unknown command 'bogus'")
    p = run(seq_hooks())
    assert p.returncode == 2 and "commands:" in p.stdout
    assert run(seq_hooks("--help")).returncode == 0
    for name in cli.COMMANDS:
        p = run(seq_hooks(name, "--help"))
        assert p.returncode == 0 and p.stdout.startswith(f"usage: seq-hooks {name}"), name



def test_the_console_script_runs_its_command_with_the_collector_on() -> None:
    """cli.main imports the command's modules with the collector off; entry.guard turns it back
    on."""
    code = (
        "import gc, os, sys\nfrom seq_hooks import cli, entry\nbody = entry._code\n"
        "def spy(*args):\n    os.write(1, str(gc.isenabled()).encode())\n    return body(*args)\n"
        "entry._code = spy\nsys.argv = ['seq-hooks', 'run', '--no-lock', '--', "
        "'true']\ncli.main()\n"
    )
    p = run([PY, "-c", code])
    assert (p.returncode, p.stdout) == (0, "True")
