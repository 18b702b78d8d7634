from __future__ import annotations

import os

import pytest

from seq_hooks import gitwords


@pytest.mark.parametrize(("args", "sub"), [
    (["-C", "x y", "-c", "a=b", "--no-pager", "commit", "-m", "m"], "commit"),
    (["--git-dir=/r/.git", "status"], "status"),
    (["--git-dir", "/r/.git", "--work-tree", "/r", "add", "."], "add"),
    (["--namespace", "ns", "--config-env", "a.b=HOME", "push"], "push"),
    (["--attr-source", "HEAD", "--super-prefix", "p/", "diff"], "diff"),
    (["--exec-path=/x", "log"], "log"),
    (["--exec-path", "log"], "log"),  # --exec-path takes a value only after `=`
    (["--list-cmds=main", "help"], "help"),
    ([], ""),
])
def test_subcommand_skips_global_options(args: list[str], sub: str) -> None:
    assert gitwords.subcommand(args) == sub


@pytest.mark.parametrize(("args", "where"), [
    (["status"], None),
    (["-C", "a", "-C", "b", "status"], "{cwd}/a/b"),
    (["-c", "k=v", "-C", "/x", "status"], "/x"),
    (["-c", "-C", "status"], None),  # -C here is the value of -c
    (["--git-dir=/r/.git", "status"], "/r/.git"),
    (["-C", "/w", "--git-dir", "r/.git", "--work-tree=/w", "status"], "/w/r/.git"),
    # after the subcommand, -C is the subcommand's
    (["--no-pager", "-C", "/x", "log", "-C", "/y"], "/x"),
    (["--attr-source", "-C", "status"], None),  # -C here is the value of --attr-source
])
def test_working_dir_reads_gits_global_options(args: list[str], where: str | None) -> None:
    expected = where.format(cwd=os.getcwd()) if where else None
    assert gitwords.working_dir(args) == expected
