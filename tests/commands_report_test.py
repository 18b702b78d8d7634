from __future__ import annotations

import os
import shlex
import shutil
import signal
import stat
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from seq_hooks import journal
from seq_hooks.commands import report
from testing.util import (
    fixture,
    needs,
    planted_symlink,
    reap,
    run,
    seq_hooks,
    tickets,
    wait_for_file,
    wait_until,
)

STATE = Path(".git") / "seq-hooks"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = needs("chromium", "/usr/bin/chromium")
EVIL = (
    "</script><script>document.title='pwned'</script><img src=x onerror=\"document.title='img'\">"
)


class Dom(HTMLParser):
    """Every element (tag, attributes) and the text of each unit's command label and tooltip."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.units: list[dict[str, Any]] = []
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag == "g" and "unit" in a.get("class", "").split():
            self.units.append({"attrs": a, "cmd": "", "tooltip": "", "rects": {}})
        if tag == "rect" and self.units and self._in_unit():
            self.units[-1]["rects"][a["class"].split()[0]] = a
        self.stack.append((tag, a))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def _in_unit(self) -> bool:
        return any(t == "g" and "unit" in a.get("class", "").split() for t, a in self.stack)

    def handle_data(self, data: str) -> None:
        if not self.stack:
            return
        tag, a = self.stack[-1]
        if tag == "title" and any(t == "head" for t, _ in self.stack):
            # the page's title (an idle gap's <title> in the timeline is a tooltip)
            self.title += data
        elif self._in_unit() and tag == "title":
            self.units[-1]["tooltip"] += data
        elif self._in_unit() and tag == "text" and a.get("class") == "cmd":
            self.units[-1]["cmd"] += data


def _session_members(sid: int, mark: str) -> list[int]:
    """Processes of chromium's session, or carrying our mark: zygotes and helpers included."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if (int(fields[4]) == sid or mark.encode() in env) and fields[0] != "Z":
            out.append(int(entry))
    return out


def dump_dom(page: Path, scratch: Path) -> str:
    """The DOM after the page's scripts ran, from a real headless Chromium; every process it started
    is gone (by pid, bounded) before this returns."""
    scratch.mkdir(exist_ok=True)
    mark_value = f"{os.getpid()}-{time.monotonic_ns()}"
    mark = f"REPORT_TEST_CHROMIUM={mark_value}"
    env = {**os.environ, "HOME": str(scratch), "XDG_CONFIG_HOME": str(scratch / "config"),
           "XDG_CACHE_HOME": str(scratch / "cache"), "REPORT_TEST_CHROMIUM": mark_value}
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={scratch / 'profile'}",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
        deadline = time.monotonic() + 15
        while (left := _session_members(proc.pid, mark)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        assert not left, f"chromium left processes behind: {left}"
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


@pytest.fixture
def journal_of_a_live_queue(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> list[journal.Record]:
    """A holder and two waiters on `default`, a failure, a timeout, an evil command line, a unit on
    `git`."""
    # one unit at a time: the waiters queue behind the holder
    monkeypatch.setenv("SEQ_HOOKS_SLOTS", "1")
    gate, order = isolated / "gate", isolated / "order"
    procs = [
        subprocess.Popen(
            seq_hooks("run", "-q", "--", *fixture("gate.py", isolated / "h.pid", gate, order, "h"))
        )
    ]
    try:
        wait_for_file(isolated / "h.pid")
        for i in (1, 2):
            procs.append(
                subprocess.Popen(seq_hooks("run", "-q", "--", "sh", "-c", f"echo waiter {i}"))
            )
            wait_until(
                lambda n=i + 1: len(tickets(isolated / STATE / "locks" / "default")) == n,
                what="a ticket",
            )
        gate.touch()
        assert [p.wait(30) for p in procs] == [0, 0, 0]
    finally:
        gate.touch()
        for p in procs:
            reap(p)
    assert run(seq_hooks("run", "--", "sh", "-c", "exit 3")).returncode == 3
    assert run(seq_hooks("run", "--timeout", "0.2", "--", "sleep", "10")).returncode == 124
    assert run(seq_hooks("run", "--", "echo", EVIL)).returncode == 0
    assert run(seq_hooks("run", "--lock", "git", "--", "true")).returncode == 0
    return journal.read(str(isolated / STATE))


@needs_chromium
def test_report_renders_one_bar_per_unit_in_chromium(
    isolated: Path, journal_of_a_live_queue: list[journal.Record], tmp_path: Path
) -> None:
    records = journal_of_a_live_queue
    assert len(records) == 7
    out = tmp_path / "report.html"
    p = run(seq_hooks("report", "--html", out))
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"wrote {out}: 7 units in 2 locks\n"
    dom = Dom()
    dom.feed(dump_dom(out, tmp_path / "chromium"))
    assert dom.title == "seq-hooks report: repo"  # the evil command's script never ran
    # nothing to fetch
    assert not [a for t, a in dom.elements if "src" in a or "href" in a or t == "img"]
    # the script ran to its end
    assert ("table", {"id": "units", "data-rendered": "7"}) in dom.elements
    runs = [a for t, a in dom.elements if t == "rect" and a.get("class", "").startswith("run ")]
    assert len(runs) == len(dom.units) == 7  # one bar per unit
    seen = []
    for u in dom.units:
        record = records[int(u["attrs"]["data-unit"])]
        assert u["attrs"]["data-exit"] == str(record.exit)
        assert u["attrs"]["data-lock"] == record.lock
        assert f"exit {record.exit} ({record.reason})" in u["tooltip"]
        command = shlex.join(record.argv)
        assert u["tooltip"].splitlines()[0] == command
        assert u["cmd"] == command or (u["cmd"].endswith("…") and command.startswith(u["cmd"][:-1]))
        seen.append(command)
        run_bar, wait_bar = u["rects"]["run"], u["rects"]["wait"]
        assert float(run_bar["width"]) >= 2
        assert float(wait_bar["x"]) + float(wait_bar["width"]) == pytest.approx(
            float(run_bar["x"]), abs=0.01
        )
        outcome = run_bar["class"].split()[1]
        assert outcome == {0: "ok", 3: "failed", 124: "killed"}[record.exit or 0]
    assert len(set(seen)) == 7 and f"echo {shlex.quote(EVIL)}" in seen
    waiter = next(u for u in dom.units if "echo waiter 2" in u["tooltip"])
    # it queued behind the holder: a visible wait span
    assert float(waiter["rects"]["wait"]["width"]) > 1
    lanes = [a["data-lock"] for t, a in dom.elements if t == "g" and a.get("class") == "lane"]
    assert lanes == ["default", "git"]


@needs_chromium
def test_empty_journal_still_makes_a_page(isolated: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    assert run(seq_hooks("report", "--html", out)).returncode == 0
    dom = Dom()
    text = dump_dom(out, tmp_path / "chromium")
    dom.feed(text)
    assert dom.units == []
    assert "The journal holds no units yet." in text


def test_report_is_escaped_and_self_contained(isolated: Path, tmp_path: Path) -> None:
    (isolated / STATE).mkdir(mode=0o700)
    journal.append(
        str(isolated / STATE),
        journal.Record(
            lock="default",
            argv=["echo", EVIL, "-->", "]]>"],
            enqueued=1.0,
            started=2.0,
            ended=3.0,
            exit=0,
            reason="exit",
            message="<b>bold</b>",
            peak_rss_mb=1.0,
        ),
    )
    out = tmp_path / "r.html"
    assert run(seq_hooks("report", "--html", out)).returncode == 0
    text = out.read_text()
    assert "<script>document.title" not in text and "<img" not in text and "<b>bold" not in text
    # ours: the data block and the code
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert (
        "http://" not in text.replace('"http://www.w3.org/2000/svg"', "") and "https://" not in text
    )
    assert "default-src 'none'" in text


def test_write_is_atomic(isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    out = tmp_path / "r.html"
    out.write_text("old report")
    real_replace = os.replace
    checked = []

    def replace(src: str, dst: str) -> None:
        assert Path(dst).read_text() == "old report"  # FILE is never half written...
        # ...the whole new one waits under a temporary name
        assert Path(src).read_text().endswith("</html>\n")
        checked.append(src)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert report.main(["--html", str(out)]) == 0
    assert checked and out.read_text().endswith("</html>\n")
    # no temporary left
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["r.html"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()
    capsys.readouterr()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_bad_target_and_missing_option(isolated: Path, tmp_path: Path) -> None:
    p = run(seq_hooks("report", "--html", tmp_path / "no-such-dir" / "r.html"))
    assert p.returncode == 1 and "cannot write" in p.stderr and "Traceback" not in p.stderr
    p = run(seq_hooks("report"))
    assert p.returncode == 2 and "--html FILE is required" in p.stderr


def test_unreadable_records_are_skipped_and_counted(isolated: Path, tmp_path: Path) -> None:
    (isolated / STATE).mkdir(mode=0o700)
    journal.append(
        str(isolated / STATE),
        journal.Record(
            lock="default",
            argv=["good"],
            enqueued=1.0,
            started=2.0,
            ended=3.0,
            exit=0,
            reason="exit",
        ),
    )
    with open(isolated / STATE / journal.NAME, "ab") as f:
        f.write(
            b'{"lock":"default","argv":["nan"],"enqueued":1,"started":NaN,"ended":3,"exit":0}\n'
        )
        f.write(
            b'{"lock":"default","argv":["far"],"enqueued":1,"started":2,"ended":1e300,"exit":0}\n'
        )
    out = tmp_path / "r.html"
    p = run(seq_hooks("report", "--html", out))
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"wrote {out}: 1 unit in 1 lock\n"
    assert "skipped 2 lines of the journal" in p.stderr


def test_a_symlink_of_ours_is_written_through(isolated: Path, tmp_path: Path) -> None:
    real = tmp_path / "reports" / "real.html"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    p = run(seq_hooks("report", "--html", link))
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link stays a link...
    assert real.read_text().endswith("</html>\n")  # ...and the report is where it points
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.html"]  # no temporary left


def test_a_symlink_of_another_user_is_refused(isolated: Path, tmp_path: Path) -> None:
    link, victim = planted_symlink(tmp_path, "planted.html")
    p = run(seq_hooks("report", "--html", link))
    assert p.returncode == 1
    assert (
        p.stderr
        == f"seq-hooks report: cannot write {link}: it is a symlink owned by uid 65534, not "
           "followed\n"
    )
    assert victim.read_text() == "precious" and link.is_symlink()


def test_dash_writes_to_stdout_and_a_fifo_is_written_to(isolated: Path, tmp_path: Path) -> None:
    assert run(seq_hooks("run", "--", "true")).returncode == 0
    p = run(seq_hooks("report", "--html", "-"), cwd=isolated)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("<!DOCTYPE html>") and p.stdout.endswith("</html>\n")
    assert not (isolated / "-").exists()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        assert run(seq_hooks("report", "--html", fifo)).returncode == 0
        assert reader.communicate(timeout=30)[0].endswith("</html>\n")
    finally:
        reap(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # not replaced by a regular file


def test_a_lock_with_slots_gets_a_lane_per_slot() -> None:
    def rec(lock: str, started: float, ended: float) -> journal.Record:
        return journal.Record(
            lock=lock, argv=["x"], enqueued=0.5, started=started, ended=ended, exit=0, reason="exit"
        )

    records = [rec("default", 1.0, 3.0), rec("default", 1.5, 2.0), rec("default", 2.0005, 4.0),
               rec("default", 3.0, 5.0), rec("git", 1.0, 2.0), rec("git", 2.0, 3.0)]
    assert [u["slot"] for u in report.units(records)] == [1, 2, 2, 1, 0, 0]


def test_a_successor_started_before_the_release_was_stamped_shares_the_lane() -> None:
    """`ended` is stamped after the release: on a loaded machine the next holder starts before it.
    Its command had ended (started + duration_s) by then, so the lock had one holder at a time: one
    lane (it used to be two)."""
    records = [
        journal.Record(
            lock="default",
            argv=["a"],
            enqueued=0.5,
            started=1.0,
            ended=2.05,
            duration_s=0.9,
            exit=0,
            reason="exit",
        ),
        journal.Record(
            lock="default",
            argv=["b"],
            enqueued=0.5,
            started=2.01,
            ended=3.0,
            duration_s=0.9,
            exit=0,
            reason="exit",
        ),
    ]
    assert [u["slot"] for u in report.units(records)] == [0, 0]
