"""atomic-mypy's warm mypy: real mypy daemons in temp projects, each answer compared with plain
mypy's.

Every test stops the daemons it started by the pids in their records and asserts that none is left
(the `daemons` fixture); the session's own check (conftest) then finds no process either.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from seq_hooks import journal
from seq_hooks.daemons import mypyd, record, tend
from seq_hooks.daemons.record import Record
from testing.util import alive, git, run, seq_hooks, wait_until

BIN = Path(sys.executable).parent
SITE = f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


def state(repo: Path) -> str:
    """The state dir: the repository's, for each of its worktrees."""
    common = run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=repo
    ).stdout.strip()
    return os.path.join(common, "seq-hooks")


@pytest.fixture
def daemons(isolated: Path) -> Iterator[str]:
    """The repository's state dir; afterwards every daemon recorded there is stopped and none may be
    left."""
    where = state(isolated)
    yield where
    pids = [r.pid for r in record.all_records(where) if r.pid]
    tend.stop_all(where)
    assert not [p for p in pids if alive(p)], "a daemon outlived its test"


def env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "PRE_COMMIT"}, **extra}


def write(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def project(repo: Path) -> None:
    write(repo, "pkg/__init__.py", "")
    write(repo, "pkg/core.py", "def area(w: int, h: int) -> int:\n    return w * h\n")
    write(repo, "app.py", "from pkg.core import area\n\nprint(area(2, 3))\n")


def sources(repo: Path) -> list[str]:
    return sorted(str(p.relative_to(repo)) for p in repo.rglob("*.py") if ".venv" not in p.parts)


class Answer(NamedTuple):
    """What mypy said: its exit, its diagnostics (in any order across files), its summary."""

    code: int
    diagnostics: list[str]
    summary: list[str]


def answer(code: int, lines: list[str]) -> Answer:
    return Answer(code, sorted(line for line in lines if ": error:" in line or ": note:" in line),
                  [line for line in lines if line.startswith(("Found ", "Success:"))])


def hook(
    repo: Path, *args: str, files: list[str] | None = None, **extra: str
) -> tuple[Answer, str]:
    """atomic-mypy on the project's files (all of them by default): its answer, and its stderr."""
    p = run(
        [
            str(BIN / "atomic-mypy"),
            "--verbose",
            *args,
            *(sources(repo) if files is None else files),
        ],
        cwd=repo,
        env=env(**extra),
    )
    lines = [line for line in p.stdout.splitlines() if not line.startswith("atomic-mypy:")]
    assert p.returncode == (journal.read_all(state(repo)).records[-1].exit != 0), p.stderr
    # the hook says 0 or 1; the unit's own exit (mypy's: 2 for a blocking error) is in the journal
    return answer(journal.read_all(state(repo)).records[-1].exit or 0, lines), p.stderr


def plain(repo: Path, files: list[str] | None = None) -> Answer:
    """mypy itself, as the hook would run it (pointed at the project's interpreter when it has
    one)."""
    python = repo / ".venv" / "bin" / "python"
    point = [f"--python-executable={python}"] if python.exists() else []
    p = run(
        [str(BIN / "mypy"), *point, "--", *(sources(repo) if files is None else files)],
        cwd=repo,
        env=env(),
    )
    return answer(p.returncode, p.stdout.splitlines())


def how(repo: Path) -> str:
    """How the last unit was answered: warm, cold or fallback."""
    return journal.read_all(state(repo)).records[-1].daemon


def only(repo: Path) -> Record:
    recs = [r for r in record.all_records(state(repo)) if r.pid]
    assert len(recs) == 1, recs
    assert record.alive(recs[0])
    return recs[0]


def warmed(repo: Path) -> None:
    """Waits until every daemon of the repository has checked its first files and listens (a unit
    that comes before runs plain mypy)."""
    where = state(repo)

    def all_ready() -> bool:
        return all(
            record.listening(where, r) is not None or not record.alive(r)
            for r in record.all_records(where)
            if r.pid
        )

    wait_until(all_ready, timeout=120)


def same(repo: Path, answered: str, *args: str) -> Answer:
    """The hook's answer is plain mypy's, answered as said (a warm answer waits for the daemon to
    be ready first)."""
    if answered in ("warm", "fallback"):  # the daemon was asked, or asked and its answer refused
        warmed(repo)
    got, err = hook(repo, *args)
    want = plain(repo)
    assert got == want, err
    assert how(repo) == answered, err
    return got


def fake_package(repo: Path, version: str, signature: str) -> None:
    """An installed package in the project's virtualenv, as pip leaves it (its dist-info names the
    version)."""
    site = repo / ".venv" / SITE
    for old in [*site.glob("fakepkg*")]:
        shutil.rmtree(old)
    write(site, "fakepkg/__init__.py", f"def g({signature}:\n    return x\n")
    write(site, "fakepkg/py.typed", "")
    write(site, f"fakepkg-{version}.dist-info/METADATA", f"Name: fakepkg\nVersion: {version}\n")


def test_the_same_answer_as_mypy_across_edits(isolated: Path, daemons: str) -> None:
    repo = isolated
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
    project(repo)
    fake_package(repo, "1.0", "x: int) -> int")
    write(repo, "uses.py", "import fakepkg\n\ny: int = fakepkg.g(1)\n")
    assert same(repo, "cold").code == 0
    first = only(repo)
    # a changed signature that breaks a caller
    write(repo, "pkg/core.py", "def area(w: int, h: int, unit: str) -> int:\n    return w * h\n")
    assert same(repo, "warm").code == 1
    # the error fixed
    write(repo, "app.py", "from pkg.core import area\n\nprint(area(2, 3, 'm'))\n")
    assert same(repo, "warm").code == 0
    # a new file, and then that file deleted
    write(repo, "extra.py", "from pkg.core import area\n\nz: str = area(1, 2, 'm')\n")
    assert same(repo, "warm").code == 1
    (repo / "extra.py").unlink()
    assert same(repo, "warm").code == 0
    assert only(repo).pid == first.pid
    # an installed package's new version: a fresh daemon
    fake_package(repo, "2.0", "x: str) -> str")
    assert same(repo, "cold").code == 1
    second = only(repo)
    assert second.pid != first.pid
    assert not alive(first.pid)
    # a configuration change: a fresh daemon
    write(repo, "uses.py", "import fakepkg\n\ny: str = fakepkg.g('a')\n\ndef f(a):\n    return a\n")
    assert same(repo, "warm").code == 0
    write(repo, "mypy.ini", "[mypy]\ndisallow_untyped_defs = True\n")
    assert same(repo, "cold").code == 1
    assert only(repo).pid != second.pid
    assert not alive(second.pid)
    # no state in the user's tree
    assert not list(repo.rglob(".dmypy.json"))


def test_notes_alone_are_success_as_plain_mypy_says_cold_and_warm(
    isolated: Path, daemons: str
) -> None:
    """An annotated local in an untyped function: mypy notes that the body is not checked and exits
    0; the warm daemon said exit 1 (dmypy counts every message, notes too), failing the commit plain
    mypy let through."""
    project(isolated)
    write(isolated, "untyped.py", "def f():\n    x: int = 1\n    return x\n")
    assert same(isolated, "cold").code == 0
    got = same(isolated, "warm")
    assert got.code == 0 and any("annotation-unchecked" in d for d in got.diagnostics), got


def test_a_blocking_error_is_plain_mypys_answer_and_the_next_unit_gets_a_fresh_daemon(
    isolated: Path, daemons: str
) -> None:
    project(isolated)
    same(isolated, "cold")
    first = only(isolated).pid
    write(isolated, "broken.py", "x = (\n")
    got = same(isolated, "fallback")
    assert got.code == 2 and "errors prevented further checking" in got.summary[0]
    assert not alive(first)
    (isolated / "broken.py").unlink()
    same(isolated, "cold")
    assert only(isolated).pid != first


def test_a_killed_or_stopped_daemon_is_replaced(isolated: Path, daemons: str) -> None:
    project(isolated)
    same(isolated, "cold")
    warmed(isolated)
    killed = only(isolated).pid
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: not alive(killed), what="the daemon to die")
    same(isolated, "cold")
    warmed(isolated)
    stopped = only(isolated).pid
    assert stopped != killed
    os.kill(stopped, signal.SIGSTOP)
    same(isolated, "cold")
    assert only(isolated).pid != stopped
    assert not alive(stopped)


HANG = '''import os
import time

from mypy.plugin import Plugin


class Hang(Plugin):
    def get_function_hook(self, fullname):
        if os.environ.get("SEQ_HOOKS_DAEMON") and os.path.exists(os.environ["HANG_MARKER"]):
            time.sleep(3600)  # only in the daemon: plain mypy answers
        return None


def plugin(version):
    return Hang
'''


def test_a_daemon_that_hangs_past_the_timeout_is_ended_and_plain_mypy_answers(isolated: Path,
                                                                              daemons: str) -> None:
    project(isolated)
    write(isolated, "hang.py", HANG)
    write(isolated, "mypy.ini", "[mypy]\nplugins = hang.py\n")
    write(isolated, "pyproject.toml", "[tool.seq-hooks.hooks.atomic-mypy]\ntimeout = 20\n")
    marker = isolated.parent / "hang-now"
    files = ["app.py", "pkg/core.py"]
    hook(isolated, files=files, HANG_MARKER=str(marker))
    assert how(isolated) == "cold"
    warmed(isolated)
    hung = only(isolated).pid
    marker.write_text("")
    write(isolated, "app.py", "from pkg.core import area\n\nprint(area(2, '3'))\n")
    got, err = hook(isolated, files=files, HANG_MARKER=str(marker))
    assert got == plain(isolated, files)
    assert got.code == 1
    assert "atomic-mypy: daemon: timeout" in err and "plain mypy for this unit" in err
    assert how(isolated) == "fallback"
    assert not alive(hung)
    marker.unlink()
    got, _ = hook(isolated, files=files, HANG_MARKER=str(marker))
    assert got == plain(isolated, files)
    assert how(isolated) == "cold"


def test_a_damaged_status_file_falls_back_and_the_next_unit_gets_a_fresh_daemon(
    isolated: Path, daemons: str
) -> None:
    project(isolated)
    same(isolated, "cold")
    warmed(isolated)
    first = only(isolated)
    Path(record.path(daemons, first.key, ".status")).write_text("{not json")
    got, err = hook(isolated)
    assert got == plain(isolated)
    assert how(isolated) == "fallback"
    assert "atomic-mypy: daemon: exit 2" in err
    assert not alive(first.pid)
    same(isolated, "cold")
    assert only(isolated).pid != first.pid


def test_an_idle_daemon_stops_by_itself(isolated: Path, daemons: str) -> None:
    project(isolated)
    write(isolated, "pyproject.toml", "[tool.seq-hooks.hooks.atomic-mypy]\ndaemon_idle_s = 3\n")
    hook(isolated)
    pid = record.all_records(daemons)[0].pid
    wait_until(lambda: not alive(pid), timeout=30, what="the idle daemon to stop")
    assert tend.expire(daemons)  # and its record goes
    assert record.all_records(daemons) == []


def test_expire_stops_a_daemon_past_its_idle_time(isolated: Path, daemons: str) -> None:
    project(isolated)
    same(isolated, "cold")
    rec = only(isolated)
    assert tend.expire(daemons) == []  # in use a moment ago: kept
    record.write(daemons, rec._replace(last_used=time.time() - rec.idle_s - 1))
    assert [r.pid for r in tend.expire(daemons)] == [rec.pid]
    assert not alive(rec.pid)


def test_two_worktrees_two_daemons_and_the_least_recently_used_makes_room(
    isolated: Path, daemons: str
) -> None:
    project(isolated)
    git(isolated, "add", ".")
    git(isolated, "commit", "-qm", "project")
    other = isolated.parent / "other"
    git(isolated, "worktree", "add", "-q", str(other))
    same(isolated, "cold")
    same(other, "cold")
    older, newer = sorted(record.all_records(daemons), key=lambda r: r.last_used)
    assert {older.worktree, newer.worktree} == {str(isolated), str(other)}
    assert older.pid != newer.pid and alive(older.pid) and alive(newer.pid)
    warmed(isolated)
    status = json.loads(run(seq_hooks("status", "--json"), cwd=isolated).stdout)
    assert sorted(d["pid"] for d in status["daemons"]) == sorted([older.pid, newer.pid])
    assert all(d["ready"] for d in status["daemons"])
    # the units' budget is what the daemons leave of it
    held = tend.resident_mb(daemons)
    assert held >= record.rss_mb(older) + record.rss_mb(newer) - 1 and held > 10
    # idle: its memory holds still
    assert abs(tend.budget_left(100_000, daemons) - (100_000 - int(held))) <= 2
    assert tend.budget_left(1, daemons) == 1
    # room for one more the size of the newer: the older goes first
    fits = int(record.rss_mb(newer) * 2) + 1
    stopped = tend.make_room(daemons, record.rss_mb(newer), fits, None, 0)
    assert [r.pid for r in stopped] == [older.pid]
    assert not alive(older.pid) and alive(newer.pid)


@pytest.mark.parametrize("command", [["clean"], ["uninstall-git-hook"]])
def test_clean_and_uninstall_leave_no_daemon(
    isolated: Path, daemons: str, command: list[str]
) -> None:
    project(isolated)
    same(isolated, "cold")
    pid = only(isolated).pid
    p = run(seq_hooks(*command), cwd=isolated)
    assert p.returncode == 0, p.stderr
    assert f"stopped the mypy daemon of {isolated} (pid {pid})" in p.stdout
    assert not alive(pid)
    assert record.all_records(daemons) == []


@pytest.mark.parametrize(("config", "args", "why"), [
    ("[tool.seq-hooks.hooks.atomic-mypy]\ndaemon = false\n", (), ""),
    ("", ("--no-daemon",), ""),
    ("", ("--junit-xml=out.xml",), "daemon: off (--junit-xml is honoured by plain mypy only)"),
])
def test_the_daemon_can_be_turned_off(
    isolated: Path, daemons: str, config: str, args: tuple[str, ...], why: str
) -> None:
    project(isolated)
    write(isolated, "pyproject.toml", config)
    got, err = hook(isolated, *args)
    assert got.code == 0
    assert why in err
    assert record.all_records(daemons) == []
    assert journal.read_all(daemons).records[-1].daemon == ""


def test_a_configuration_the_daemon_refuses_runs_plain_mypy_and_says_so_once(
    isolated: Path, daemons: str
) -> None:
    project(isolated)
    write(isolated, "mypy.ini", "[mypy]\nfollow_imports = silent\n")
    got, err = hook(isolated)
    assert got == plain(isolated) and how(isolated) == "cold" and "daemon" not in err
    refused = [r.pid for r in record.all_records(daemons)]
    wait_until(lambda: not any(alive(p) for p in refused), what="the refused daemon to end")
    got, err = hook(isolated)
    assert got == plain(isolated) and how(isolated) == "fallback"
    assert "daemon: could not start" in err and "follow-imports=silent not supported" in err
    got, err = hook(isolated)
    assert got == plain(isolated) and "daemon" not in err
    assert how(isolated) == "fallback"
    write(isolated, "mypy.ini", "[mypy]\n")  # changed: tried again
    same(isolated, "cold")


def test_a_daemon_in_use_is_not_shared(isolated: Path, daemons: str) -> None:
    project(isolated)
    same(isolated, "cold")
    rec = only(isolated)
    with record.held(daemons, rec.key, wait=True):
        got, err = hook(isolated)
    assert got == plain(isolated)
    assert "daemon: in use by another commit in this worktree" in err
    assert how(isolated) == "fallback"
    same(isolated, "warm")


def test_an_outer_run_does_not_wait_for_the_daemon(isolated: Path, daemons: str) -> None:
    """The daemon outlives the hook: the supervisor of `seq-hooks run` (a subreaper) it is handed to
    lets it be."""
    project(isolated)
    started = time.monotonic()
    p = run(
        seq_hooks("run", "--timeout", "120", "--", str(BIN / "atomic-mypy"), *sources(isolated)),
        cwd=isolated,
        env=env(),
    )
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - started < 60
    assert alive(only(isolated).pid)
    assert journal.read_all(daemons).records[-1].exit == 0


def test_history_says_how_each_unit_was_answered(isolated: Path, daemons: str) -> None:
    project(isolated)
    same(isolated, "cold")
    same(isolated, "warm")
    out = run(seq_hooks("history"), cwd=isolated).stdout
    assert "(daemon: cold)" in out and "(daemon: warm)" in out


CYCLE = {
    "a.py": "from b import B\n\n\nclass A:\n    def __init__(self) -> None:\n        self.x = "
            "B().y\n",
    "b.py": "from a import A\n\n\nclass B:\n    def __init__(self) -> None:\n        self.y = "
            "A().x\n",
}


def test_an_import_cycles_order_error_the_warm_daemon_leaves_out_is_plain_mypys_answer(
    isolated: Path, daemons: str
) -> None:
    """mypy checks an import cycle as one and cannot determine b's x; a warm daemon re-checks b
    alone after a.py changed and finds no error: that answer is not taken."""
    for name, text in CYCLE.items():
        write(isolated, name, text)
    assert 'Cannot determine type of "x"' in same(isolated, "cold").diagnostics[0]
    warmed(isolated)
    first = only(isolated).pid
    write(isolated, "a.py", CYCLE["a.py"] + "\n# edited\n")
    got, err = hook(isolated, files=["a.py"])
    assert got == plain(isolated, ["a.py"]) and got.code == 1
    assert "daemon: left out 1 `Cannot determine type` error" in err
    assert how(isolated) == "fallback"
    assert not alive(first)
    # and plain mypy from then on, said once: every edit would have it check twice
    write(isolated, "a.py", CYCLE["a.py"] + "\n# edited again\n")
    got, err = hook(isolated, files=["a.py"])
    assert got == plain(isolated, ["a.py"]) and how(isolated) == "fallback" and "daemon" not in err
    assert [r.pid for r in record.all_records(daemons)] == [0]


def nice_values(pid: int) -> list[int]:
    """The nice value of each thread of a process (/proc's stat, field 19)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        out.append(int(stat[stat.rindex(")") + 2:].split()[16]))
    return sorted(out)


def test_a_unit_never_waits_for_a_daemon_warming_up(isolated: Path, daemons: str) -> None:
    """The first unit runs plain mypy and starts the daemon; while the daemon's first check runs
    (held here by a plugin that sleeps in the daemon only), units run plain mypy, and the check runs
    in a thread at nice 19 while the thread that will serve the units stays at 0."""
    project(isolated)
    write(isolated, "hang.py", HANG)
    write(isolated, "mypy.ini", "[mypy]\nplugins = hang.py\n")
    marker = isolated.parent / "hang-now"
    marker.write_text("")
    started = time.monotonic()
    got, _ = hook(isolated, HANG_MARKER=str(marker))
    assert got == plain(isolated) and how(isolated) == "cold"
    warming = only(isolated)
    wait_until(lambda: nice_values(warming.pid) == [0, 19], what="the warm-up thread at nice 19")
    got, _ = hook(isolated, HANG_MARKER=str(marker))
    assert got == plain(isolated) and how(isolated) == "cold"
    assert only(isolated).pid == warming.pid  # still warming up: kept, not asked
    shown = json.loads(run(seq_hooks("status", "--json"), cwd=isolated).stdout)["daemons"]
    assert [(d["pid"], d["ready"]) for d in shown] == [(warming.pid, False)]
    assert "warming up" in run(seq_hooks("status"), cwd=isolated).stdout
    assert time.monotonic() - started < 60


def test_a_warm_unit_is_our_own_light_client(isolated: Path, daemons: str) -> None:
    """No mypy to import in the unit: the journal names dmypy_check.py, run without site."""
    project(isolated)
    same(isolated, "cold")
    same(isolated, "warm")
    argv = journal.read_all(daemons).records[-1].argv
    assert argv[1:4] == ["-I", "-S", mypyd.CHECK] and "mypy.dmypy" not in argv
