from __future__ import annotations

import os
from pathlib import Path

from seq_hooks.sharedtree import changes, snapshot
from seq_hooks.sharedtree.files import FILE, LINK, Content
from testing.util import git


def _base(repo: Path) -> None:
    for name, text in (
        ("m.txt", "m\n"),
        ("d.txt", "d\n"),
        ("u.txt", "u\n"),
        ("same.txt", "same\n"),
    ):
        (repo / name).write_text(text)
    (repo / "l").symlink_to("m.txt")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base", "--no-verify")


def test_index_versions_are_what_checkout_writes(isolated: Path) -> None:
    _base(isolated)
    git(isolated, "config", "core.autocrlf", "true")
    (isolated / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    git(isolated, "add", "crlf.txt")
    assert changes.unstaged(str(isolated), os.environ).changes == []
    (isolated / "crlf.txt").write_bytes(b"edited\n")
    (isolated / "l").unlink()
    found = changes.unstaged(str(isolated), os.environ).changes
    versions = snapshot.index_versions(str(isolated), os.environ, found)
    assert versions[b"crlf.txt"] == Content(FILE, False, b"a\r\nb\r\n")
    assert versions[b"l"] == Content(LINK, False, b"m.txt")


def test_the_snapshot_holds_the_bytes_as_they_are_under_a_ref(isolated: Path) -> None:
    _base(isolated)
    git(isolated, "config", "core.autocrlf", "true")
    contents = {
        b"m.txt": Content(FILE, True, b"raw\r\nbytes\n"),
        b"sub dir/x": Content(FILE, False, b"\0\1"),
        b"l": Content(LINK, False, b"elsewhere"),
    }
    (isolated / "sub dir").mkdir()
    for path, c in contents.items():
        if c.kind == FILE:
            (isolated / os.fsdecode(path)).write_bytes(c.data)
    ids = snapshot.store(str(isolated), os.environ, contents)
    assert ids is not None
    tree = snapshot.tree(str(isolated), os.environ, contents, ids, str(isolated.parent))
    snapshot.set_ref(str(isolated), os.environ, snapshot.STASH_REFS + "t", tree)
    assert snapshot.refs(str(isolated), os.environ) == [snapshot.STASH_REFS + "t"]
    assert sorted(snapshot.paths(str(isolated), os.environ, snapshot.STASH_REFS + "t")) == [
        b"l",
        b"m.txt",
        b"sub dir/x",
    ]
    blobs = snapshot.read_blobs(str(isolated), os.environ, [ids[b"m.txt"], ids[b"l"]])
    assert blobs == {ids[b"m.txt"]: b"raw\r\nbytes\n", ids[b"l"]: b"elsewhere"}
    ls = git(isolated, "ls-tree", "-r", snapshot.STASH_REFS + "t").stdout
    assert "100755 blob" in ls and "120000 blob" in ls
    snapshot.keep(
        str(isolated), os.environ, snapshot.STASH_REFS + "t", snapshot.KEPT_REFS + "t", tree
    )
    assert snapshot.refs(str(isolated), os.environ) == [snapshot.KEPT_REFS + "t"]


def test_a_file_saved_between_our_read_and_gits_is_noticed(isolated: Path) -> None:
    _base(isolated)
    (isolated / "m.txt").write_text("what git reads now\n")
    assert (
        snapshot.store(
            str(isolated), os.environ, {b"m.txt": Content(FILE, False, b"what we read before\n")}
        )
        is None
    )
