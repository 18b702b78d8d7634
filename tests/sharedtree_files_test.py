from __future__ import annotations

import os
from pathlib import Path

from seq_hooks.sharedtree import files
from seq_hooks.sharedtree.files import FILE, GONE, GONE_CONTENT, LINK, Content


def _p(path: Path) -> bytes:
    return os.fsencode(path)


def test_read_tells_a_file_a_symlink_and_nothing_apart(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"data")
    (tmp_path / "x").write_bytes(b"#!")
    (tmp_path / "x").chmod(0o755)
    (tmp_path / "l").symlink_to("f")
    (tmp_path / "d").mkdir()
    assert files.read(_p(tmp_path / "f")) == Content(FILE, False, b"data")
    assert files.read(_p(tmp_path / "x")) == Content(FILE, True, b"#!")
    assert files.read(_p(tmp_path / "l")) == Content(LINK, False, b"f")
    assert files.read(_p(tmp_path / "d")) == GONE_CONTENT  # git tracks no directory
    assert files.read(_p(tmp_path / "missing/below")) == GONE_CONTENT


def test_replace_writes_only_over_what_it_expects_and_by_rename(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    f = tmp_path / "w" / "f"
    f.write_bytes(b"old")
    old_inode = f.stat().st_ino
    assert not files.replace(
        _p(f), Content(FILE, False, b"something else").state(), Content(FILE, False, b"new")
    )
    assert f.read_bytes() == b"old" and f.stat().st_ino == old_inode
    assert files.replace(_p(f), Content(FILE, False, b"old").state(), Content(FILE, True, b"new"))
    assert f.read_bytes() == b"new" and f.stat().st_ino != old_inode and os.access(f, os.X_OK)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["f"]  # no temporary file left


def test_replace_creates_a_file_only_where_nothing_is_and_removes_only_what_it_expects(
    tmp_path: Path,
) -> None:
    f = tmp_path / "sub" / "f"
    assert files.replace(_p(f), GONE_CONTENT.state(), Content(FILE, False, b"made"))
    assert f.read_bytes() == b"made"
    # someone made it
    assert not files.replace(_p(f), GONE_CONTENT.state(), Content(FILE, False, b"again"))
    assert f.read_bytes() == b"made"
    assert files.replace(_p(f), Content(FILE, False, b"made").state(), GONE_CONTENT)
    assert not f.exists()


def test_replace_writes_a_symlink(tmp_path: Path) -> None:
    f = tmp_path / "l"
    f.write_bytes(b"a file")
    assert files.replace(
        _p(f), Content(FILE, False, b"a file").state(), Content(LINK, False, b"target")
    )
    assert os.readlink(f) == "target"
    assert files.state(_p(f)) == files.State(LINK, False, files.digest(b"target"))
    assert files.replace(_p(f), files.state(_p(f)), Content(FILE, False, b"back"))
    assert not f.is_symlink() and f.read_bytes() == b"back"


def test_a_state_compares_content_not_time(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"one")
    before = files.state(_p(f))
    st = f.stat()
    f.write_bytes(b"two")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same mtime, other bytes
    assert files.state(_p(f)) != before
    assert GONE_CONTENT.state() == files.State(GONE, False, "")
