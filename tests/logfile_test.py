"""The run log: its name (built and parsed here only), its header, the output, its footer."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from seq_hooks import journal, logfile
from testing.util import fixture, run, seq_hooks

TOKEN = "0123456789abcdef"


@pytest.mark.parametrize("label", ["", "atomic-ruff", "atomic-ruff-format", "atomic"])
def test_name_and_parse_agree(label: str) -> None:
    name = logfile.name(TOKEN, 1700000000.5, label)
    assert name.endswith(f"-{label + '-' if label else ''}{TOKEN}.log")
    parsed = logfile.parse(name)
    assert parsed is not None and parsed.label == label and parsed.token == TOKEN
    assert name.startswith(parsed.stamp) and len(parsed.stamp) == 15


@pytest.mark.parametrize(
    "name",
    [
        "notes.log",
        "keep.txt",
        f"20250101-000000-{TOKEN}.txt",
        "20250101-000000-0123456789abcdeg.log",
        f"20250101-000000-{TOKEN.upper()}.log",
        f"2025010x-000000-{TOKEN}.log",
        f"20250101-000000--{TOKEN}.log",
        f"20250101-000000-Atomic-{TOKEN}.log",
        f"20250101_000000-{TOKEN}.log",
        f"20250101-000000{TOKEN}.log",
        f"٢٠٢٥٠١٠١-000000-{TOKEN}.log",  # digits, but not ASCII ones
    ],
)
def test_parse_refuses_other_files(name: str) -> None:
    assert logfile.parse(name) is None


def test_name_refuses_parts_it_could_not_parse_back() -> None:
    with pytest.raises(ValueError):
        logfile.name("not-a-token", 0.0)
    with pytest.raises(ValueError):
        logfile.name(TOKEN, 0.0, "has/slash")


def test_logs_lists_ours_oldest_first(tmp_path: Path) -> None:
    names = [
        logfile.name(TOKEN, 1700000000 + i, label)
        for i, label in enumerate(["", "atomic-mypy", ""])
    ]
    for n in [*names, "other.log"]:
        (tmp_path / n).write_text("")
    assert logfile.logs(str(tmp_path)) == names
    assert logfile.logs(str(tmp_path / "missing")) == []


class _Proc(NamedTuple):
    pid: int
    command: str
    peak_rss: int
    system: tuple[int, int] = (0, 0)


class _Ended(NamedTuple):
    exit_code: int
    reason: str
    message: str
    duration_s: float
    peak_rss: int
    procs: tuple[_Proc, ...]
    peak_system: tuple[int, int] = (0, 0)


def test_header_and_footer(tmp_path: Path) -> None:
    path = str(tmp_path / "x.log")
    fd = logfile.open_log(path, ["echo", "a b", os.fsdecode(b"\xe9")], "/w", 1700000000.25, None)
    os.write(fd, b"output\n")
    logfile.close_log(
        fd,
        _Ended(
            124,
            "timeout",
            "killed after 2s",
            2.0,
            3 * 1048576,
            (_Proc(42, "sleep 10", 1048576, (5120, 24000)),),
            (5200, 24000),
        ),
        1700000002.5,
        2,
    )
    text = Path(path).read_bytes()
    assert text.startswith(
        b"# seq-hooks run\n# command: echo 'a b' '\xe9'\n# cwd: /w\n# lock: (none)\n"
    )
    assert b"\noutput\n\n# ended: " in text and b"(attempt 2)\n" in text
    assert (b"# exit: 124 (timeout) killed after 2s\n# duration: 2.000s\n"
            b"# peak tree memory: 3.0 MB (system: 5200/24000 MB used)\n") in text
    assert text.endswith(b"#        42      1.0 5120/24000 MB used  sleep 10\n")
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_real_run_writes_its_log(isolated: Path) -> None:
    p = run(seq_hooks("run", "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 3"))
    assert p.returncode == 3
    (record,) = journal.read(str(isolated / ".git" / "seq-hooks"))
    assert record.log is not None
    parsed = logfile.parse(os.path.basename(record.log))
    assert parsed is not None and parsed.token == record.token and parsed.label == ""
    text = Path(record.log).read_text()
    assert "# command: sh -c 'echo to-out; echo to-err >&2; exit 3'\n" in text
    assert "to-out\n" in text and "to-err\n" in text and "# exit: 3 (exit)" in text


def test_the_systems_memory_is_beside_each_peak(isolated: Path) -> None:
    """The guides' wait_all.sh sampled the system's memory with the peaks: the log says the system's
    used and total memory at the moment of the tree's peak and of each process's."""
    p = run(seq_hooks("run", "--", *fixture("eat_memory.py", 60, 1000, 0.3)))
    assert p.returncode == 0, p.stderr
    (record,) = journal.read(str(isolated / ".git" / "seq-hooks"))
    text = Path(str(record.log)).read_text()
    total = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    tree = re.search(
        r"^# peak tree memory: ([\d.]+) MB \(system: (\d+)/(\d+) MB used\)$", text, re.M
    )
    assert tree is not None and float(tree[1]) >= 50, text
    assert 0 < int(tree[2]) <= int(tree[3]) == total
    procs = re.findall(r"^#\s+\d+\s+([\d.]+)\s+(\d+)/(\d+) MB used  (.*)$", text, re.M)
    assert procs and all(0 < int(used) <= int(t) == total for _, used, t, _ in procs), text
    assert any("eat_memory.py" in command and float(mb) >= 50 for mb, _, _, command in procs)


def test_logfile_does_not_import_the_supervisor() -> None:
    code = (
        "import sys, seq_hooks.logfile; print(sorted(m for m in sys.modules if "
        "m.startswith('seq_hooks')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "seq_hooks.process.supervisor" not in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["true"],
        ["a", "b c", ""],
        ["it's", "x$y", "caf\u00e9", "a=b", "-x", "/p/a.b", "back\\slash", "tab\there"],
        ["caf\udce9"],
        ["@%+=:,./-_AZaz09"],
        ["'", '"', "*", "~", "!", "#", ";", "&", "|", "(", ")", "<", ">", "\n"],
    ],
)
def test_the_header_quotes_the_command_as_shlex_join_does(argv: list[str]) -> None:
    assert logfile.shell_words(argv) == shlex.join(argv)
    assert shlex.split(logfile.shell_words(argv)) == argv
