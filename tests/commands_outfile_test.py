"""Writing a user-named file: whole or not at all, through our own symlinks only, FIFOs written to
as they are."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from seq_hooks.commands import outfile
from seq_hooks.errors import FatalError
from testing.util import planted_symlink, reap, seq_hooks


def test_a_new_file_and_a_replaced_one_are_whole_with_ordinary_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.html"
    outfile.write(str(target), "first")
    assert target.read_text() == "first"
    seen = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        # the old one stays until the new one is whole
        seen.append((Path(dst).read_text(), Path(src).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    outfile.write(str(target), "second")
    assert seen == [("first", "second")] and target.read_text() == "second"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert not list(tmp_path.glob(".r.html.*"))  # no temporary left


def test_our_symlink_is_written_through_and_stays(tmp_path: Path) -> None:
    real = tmp_path / "real.html"
    link = tmp_path / "link.html"
    link.symlink_to(real)  # dangling until written
    outfile.write(str(link), "report")
    assert link.is_symlink() and real.read_text() == "report"


def test_another_users_symlink_is_refused(tmp_path: Path) -> None:
    link, victim = planted_symlink(tmp_path, "planted")
    with pytest.raises(FatalError, match="symlink owned by uid 65534, not followed") as e:
        outfile.write(str(link), "report")
    assert e.value.code == 1 and victim.read_text() == "precious"


def test_a_fifo_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        outfile.write(str(fifo), "through the pipe")
        assert reader.communicate(timeout=30)[0] == "through the pipe"
    finally:
        reap(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_missing_directory_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(
        FatalError, match=r"cannot write .*/nowhere/r.html: No such file or directory"
    ):
        outfile.write(str(tmp_path / "nowhere" / "r.html"), "x")


@pytest.mark.parametrize("shell", [
    "seq-hooks report --html /dev/stdout | cat",  # /dev/stdout -> /proc/self/fd/1 -> pipe:[N]
    # the file the shell opened for us
    "seq-hooks report --html /dev/stdout > out.html && cat out.html",
    "seq-hooks report --html /dev/fd/3 3>&1 | cat",
])
def test_our_standard_output_named_as_a_file_is_written_through(isolated: Path, shell: str) -> None:
    """Issue 20, item 14: `report --html /dev/stdout` into a pipe failed (the link resolved to
    pipe:[N])."""
    bindir = str(Path(seq_hooks()[0]).parent)
    p = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell],
        cwd=isolated,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"},
        check=False,
    )
    assert p.returncode == 0 and p.stderr.startswith("wrote /dev/")  # the note is not in the HTML
    assert p.stdout.startswith("<!DOCTYPE html>") and p.stdout.endswith("</html>\n")


def test_someone_elses_link_to_a_fifo_is_written_through_as_a_shell_would(tmp_path: Path) -> None:
    # /dev/stdout is root's link: not ours unless we are root
    link, _victim = planted_symlink(tmp_path, "planted")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link.unlink()
    link.symlink_to(fifo)
    os.lchown(link, 65534, 65534)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        outfile.write(str(link), "through the link")
        assert reader.communicate(timeout=30)[0] == "through the link"
    finally:
        reap(reader)
