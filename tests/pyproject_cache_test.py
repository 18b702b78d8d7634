from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from seq_hooks import config, pyproject_cache
from seq_hooks.errors import UsageError

TABLE = "[tool.seq-hooks]\ntimeout = {}\n"


class Reader:
    """Reads a project's table through the cache as config.load does, counting the parses."""

    def __init__(self, repo: Path) -> None:
        self.path, self.cache = str(repo / "pyproject.toml"), str(repo / ".git" / "seq-hooks")
        self.parses = 0

    def table(self) -> dict[str, object]:
        def parse() -> dict[str, object]:
            self.parses += 1
            return config.read_pyproject(self.path)

        return pyproject_cache.table(self.path, os.stat(self.path), self.cache, parse)


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every version of the file counts as older than its clock tick (as a user's pyproject.toml
    is)."""
    now = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: now() + pyproject_cache.SETTLED_NS)


def test_a_version_is_parsed_once_and_an_edit_is_seen(isolated: Path, settled: None) -> None:
    (isolated / "pyproject.toml").write_text(TABLE.format(10))
    reader = Reader(isolated)
    assert [reader.table(), reader.table(), reader.parses] == [{"timeout": 10}, {"timeout": 10}, 1]
    time.sleep(0.05)  # past the kernel's clock tick: the edit gets a ctime of its own
    (isolated / "pyproject.toml").write_text(TABLE.format(20))  # the same size: the ctime tells
    assert [reader.table(), reader.table(), reader.parses] == [{"timeout": 20}, {"timeout": 20}, 2]


def test_a_version_within_its_clock_tick_is_not_kept(isolated: Path) -> None:
    """A second edit within the same tick would keep size, mtime and ctime: what was parsed is not
    kept yet."""
    (isolated / "pyproject.toml").write_text(TABLE.format(10))
    reader = Reader(isolated)
    assert [reader.table(), reader.table(), reader.parses] == [{"timeout": 10}, {"timeout": 10}, 2]
    assert not (isolated / ".git" / "seq-hooks" / pyproject_cache.NAME).exists()


def test_worktrees_sharing_the_state_dir_keep_an_entry_each(isolated: Path, settled: None) -> None:
    other = isolated / "other"
    other.mkdir()
    (isolated / "pyproject.toml").write_text(TABLE.format(10))
    (other / "pyproject.toml").write_text(TABLE.format(20))
    here, there = Reader(isolated), Reader(isolated)
    there.path = str(other / "pyproject.toml")
    for _ in range(2):
        assert (here.table(), there.table()) == ({"timeout": 10}, {"timeout": 20})
    assert (here.parses, there.parses) == (1, 1)


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[1, 2]",
        b"[" * 100000 + b"]" * 100000,
        b'{"PATH": "not an entry"}',
        b'{"PATH": [[1], {}]}',
        b'{"PATH": [KEY, "not a table"]}',
        b"\xff\xfe",
    ],
)
def test_a_cache_that_is_not_one_is_parsed_over(
    isolated: Path, settled: None, content: bytes
) -> None:
    (isolated / "pyproject.toml").write_text(TABLE.format(10))
    reader = Reader(isolated)
    reader.table()
    st = os.stat(reader.path)
    key = f"[{st.st_dev},{st.st_ino},{st.st_size},{st.st_mtime_ns},{st.st_ctime_ns}]"
    cache = Path(reader.cache) / pyproject_cache.NAME
    cache.write_bytes(content.replace(b"PATH", reader.path.encode()).replace(b"KEY", key.encode()))
    assert reader.table() == {"timeout": 10} and reader.parses == 2
    assert reader.table() == {"timeout": 10} and reader.parses == 2  # written anew


def test_a_cache_someone_else_can_write_or_a_symlink_is_not_read(isolated: Path, settled: None,
                                                                  tmp_path: Path) -> None:
    (isolated / "pyproject.toml").write_text(TABLE.format(10))
    reader = Reader(isolated)
    reader.table()
    cache = Path(reader.cache) / pyproject_cache.NAME
    planted = cache.read_text().replace('"timeout":10', '"timeout":99')
    cache.write_text(planted)
    cache.chmod(0o666)
    assert reader.table() == {"timeout": 10} and reader.parses == 2
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(planted)
    cache.unlink()
    cache.symlink_to(elsewhere)
    assert reader.table() == {"timeout": 10} and reader.parses == 3


def test_without_a_usable_state_dir_the_file_is_parsed_each_time(
    isolated: Path, settled: None
) -> None:
    (isolated / "pyproject.toml").write_text(TABLE.format(10))
    (isolated / ".git" / "seq-hooks").write_text("a file where the state dir goes")
    reader = Reader(isolated)
    assert [reader.table(), reader.table(), reader.parses] == [{"timeout": 10}, {"timeout": 10}, 2]


def test_a_table_that_does_not_load_is_refused_each_time(isolated: Path, settled: None) -> None:
    """A value JSON cannot hold (a date) is not kept: the file is parsed, and refused, on every
    run."""
    (isolated / "pyproject.toml").write_text("[tool.seq-hooks]\ntimeout = 1979-05-27\n")
    for _ in range(2):
        with pytest.raises(UsageError, match="timeout must be a number"):
            config.load(str(isolated), env={}, cache_dir=str(isolated / ".git" / "seq-hooks"))
    assert not (isolated / ".git" / "seq-hooks" / pyproject_cache.NAME).exists()


def test_config_load_keeps_what_the_table_says(isolated: Path, settled: None) -> None:
    (isolated / "pyproject.toml").write_text(
        TABLE.format(10) + "[tool.seq-hooks.hooks.pytest]\nargs = ['-x']\n"
    )
    cache = str(isolated / ".git" / "seq-hooks")
    first = config.load(str(isolated), env={}, cache_dir=cache)
    assert (isolated / ".git" / "seq-hooks" / pyproject_cache.NAME).exists()
    assert config.load(str(isolated), env={}, cache_dir=cache) == first
    assert (first.timeout, first.hooks["pytest"].args) == (10.0, ("-x",))
