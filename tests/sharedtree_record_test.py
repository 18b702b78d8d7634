from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from seq_hooks import sharedtree
from seq_hooks.errors import FatalError
from seq_hooks.sharedtree import record

HOLD = (
    "import sys, time\nfrom seq_hooks.sharedtree import record\n"
    "record.create(sys.argv[1], 'theirs', {'pid': 1})\nprint('held', flush=True)\ntime.sleep(60)\n"
)


def test_a_record_is_live_while_its_writer_holds_it_and_claimable_after(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    held = record.create(state, "mine", {"pid": 7, "files": []})
    assert sharedtree.records(state) == [held.path]
    assert record.read(held.path) == {"pid": 7, "files": []}
    assert record.live(held.path) and record.claim(held.path) is None
    held.abandon()  # as a commit that dies: the flock goes, the record stays
    assert not record.live(held.path)
    claimed = record.claim(held.path)
    assert claimed is not None and claimed.data["pid"] == 7
    assert record.claim(held.path) is None  # one settler at a time
    claimed.release()
    assert sharedtree.records(state) == []


def test_another_process_s_record_is_live_until_it_dies(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    proc = subprocess.Popen([sys.executable, "-c", HOLD, state], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        [path] = sharedtree.records(state)
        assert record.live(path)
    finally:
        proc.kill()
        proc.wait(10)
    assert not record.live(path)
    claimed = record.claim(path)
    assert claimed is not None
    claimed.release()


def test_no_record_dir_costs_one_listing_and_finds_nothing(tmp_path: Path) -> None:
    assert sharedtree.records(str(tmp_path / "nothing here")) == []


def test_a_record_that_cannot_be_written_stops_with_exit_2(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / record.DIR).write_text("a file where the directory goes\n")
    with pytest.raises(FatalError) as e:
        record.create(str(state), "x", {})
    assert e.value.code == 2 and "before touching the working tree" in e.value.message
