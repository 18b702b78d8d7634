"""Records: at run time a class statement on seq_hooks.records.NamedTuple behaves as a
typing.NamedTuple would, and the path of a plain `seq-hooks run` imports neither typing nor the
modules only some runs need."""
from __future__ import annotations

import ast
import copy
import pickle
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from seq_hooks import pyproject_cache
from seq_hooks.records import NamedTuple
from testing.queue import start_holder
from testing.util import PY, reap


class Point(NamedTuple):
    """A point."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = ()

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


def test_fields_defaults_and_construction() -> None:
    p = Point(1, 2)
    assert (p.x, p.y, p.tags) == (1, 2, ()) and tuple(p) == (1, 2, ()) and isinstance(p, tuple)
    assert Point(3) == Point(x=3) == Point(3, y=0) == Point._make([3, 0, ()])
    assert list(Point._fields) == ["x", "y", "tags"] and Point._field_defaults == {
        "y": 0,
        "tags": (),
    }
    assert list(Point.__match_args__) == ["x", "y", "tags"]
    # the calls below are wrong on purpose: what mypy would refuse, Python must too
    untyped: Any = Point
    with pytest.raises(TypeError, match="missing the field 'x'"):
        untyped()
    with pytest.raises(TypeError, match="takes 3 fields"):
        untyped(1, 2, (), 4)
    with pytest.raises(TypeError, match="unexpected or repeated fields: z"):
        untyped(1, z=2)
    with pytest.raises(TypeError, match="unexpected or repeated fields: x"):
        untyped(1, x=2)
    with pytest.raises(AttributeError):
        untyped.x.__set__(p, 5)


def test_methods_docstring_constants_and_the_named_tuple_api() -> None:
    p = Point(1, -2, ("a",))
    assert p.moved(2) == Point(3, -2, ("a",)) and p.norm1 == 3
    assert (
        Point.__doc__ == "A point." and Point.__name__ == "Point" and Point.__module__ == __name__
    )
    assert p._asdict() == {"x": 1, "y": -2, "tags": ("a",)}
    assert Point._make([4, 5, ()]) == Point(4, 5)
    assert repr(p) == "Point(x=1, y=-2, tags=('a',))"
    assert hash(p) == hash((1, -2, ("a",))) and {p: 1}[Point(1, -2, ("a",))] == 1
    assert pickle.loads(pickle.dumps(p)) == p and type(pickle.loads(pickle.dumps(p))) is Point
    assert copy.deepcopy(p) == p and copy.copy(p) is not None
    match p:
        case Point(x, y):
            assert (x, y) == (1, -2)
        case _:
            raise AssertionError("positional pattern did not match")
    assert not hasattr(p, "__dict__")  # slots: a record is as small as its tuple



OFF_THE_PATH = (
    "typing",
    "importlib",
    "psutil",
    "tomllib",
    "hashlib",
    "argparse",
    "subprocess",
    "contextlib",
    "shlex",
    "collections.abc",
    "seq_hooks.process.machine",
    "seq_hooks.lock.admission",
    "seq_hooks.lock.takeover",
    "seq_hooks.process.rungroup",
    "seq_hooks.lock.cycles",
    "errno",
    "encodings.ascii",
    "seq_hooks.retention",
    "ctypes",
    "json",  # jsontext writes and reads with its C half
)


def _imported_off_the_path(args: list[str], off: tuple[str, ...]) -> str:
    # a run where log retention is not due: its size check comes one run in SIZE_CHECK_EVERY (by the
    # run's token), and then imports retention and the lock's files on purpose
    code = (f"import sys\nfrom seq_hooks import logfile\nlogfile.SIZE_CHECK_EVERY = 1 << 20\n"
            f"from seq_hooks.cli import main\ncode = main({args!r})\n"
            f"print(code, sorted(m for m in {off!r} if m in sys.modules))")
    return subprocess.run(
        [PY, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout


@pytest.mark.parametrize(("args", "also_off"), [
    (["run", "--", "true"], ()),
    (["run", "--no-lock", "--", "true"], ("seq_hooks.lock",)),
])
def test_a_plain_run_imports_neither_typing_nor_what_only_some_runs_need(
    args: list[str], also_off: tuple[str, ...], one_at_a_time: None
) -> None:
    # a fresh interpreter: pytest itself imports typing
    assert _imported_off_the_path(args, OFF_THE_PATH + also_off) == "0 []\n"


# what only a unit that finds others in its queue needs (admission.py and its imports)
ADMISSION = (
    "seq_hooks.lock.admission",
    "seq_hooks.lock.wakeup",
    "seq_hooks.lock.takeover",
    "seq_hooks.process.rungroup",
    "errno",
    "math",
    "seq_hooks.daemons.tend",
)


@pytest.mark.parametrize("slots", ["auto", "2"])
def test_a_run_with_slots_that_finds_its_queue_empty_imports_no_admission(
    slots: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock with slots (the default: a slot per CPU): a unit alone in its queue is admitted as it
    takes its ticket (tickets.make_granted_if_alone), without admission.py or what it needs; only
    the machine is read, for "auto" and its terms."""
    monkeypatch.setenv("SEQ_HOOKS_SLOTS", slots)
    off = tuple(m for m in OFF_THE_PATH if m != "seq_hooks.process.machine") + ADMISSION
    assert _imported_off_the_path(["run", "--", "true"], off) == "0 []\n"


def test_a_run_with_slots_that_finds_a_holder_goes_through_admission(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside a holder the same run is admitted by admission.py and what it imports, and the
    standard library kept off the plain path stays off."""
    monkeypatch.setenv("SEQ_HOOKS_SLOTS", "2")
    monkeypatch.setenv("SEQ_HOOKS_MEMORY_LIMIT_MB", "100")  # expected 100 MB each: both fit
    proc, gate = start_holder(isolated)
    try:
        off = tuple(m for m in OFF_THE_PATH if not m.startswith(("seq_hooks.", "errno")))
        imported = _imported_off_the_path(["run", "--", "true"], off + ADMISSION)
    finally:
        gate.touch()
        reap(proc)
    assert imported == "0 ['errno', 'seq_hooks.lock.admission', 'seq_hooks.lock.takeover', " \
        "'seq_hooks.lock.wakeup', 'seq_hooks.process.rungroup']\n"


PYPROJECT = '[project]\nname = "example"\n\n[tool.ruff]\nline-length = 100\n'


def test_a_project_without_a_seq_hooks_table_pays_nothing_for_its_pyproject(
    isolated: Path, one_at_a_time: None
) -> None:
    """A pyproject.toml that cannot hold our table is not parsed; one that names seq-hooks (a
    dependency) or holds the table is parsed once for each version of the file: later runs read the
    table from the cache."""
    (isolated / "pyproject.toml").write_text(PYPROJECT)
    assert (
        _imported_off_the_path(["run", "--", "true"], (*OFF_THE_PATH, "seq_hooks.pyproject_cache"))
        == "0 []\n"
    )
    for text in (PYPROJECT + '[project.optional-dependencies]\ndev = ["seq-hooks>=0.1"]\n',
                 PYPROJECT + "[tool.seq-hooks]\ntimeout = 60\n"):
        (isolated / "pyproject.toml").write_text(text)
        # parsed: a new version
        assert "tomllib" in _imported_off_the_path(["run", "--", "true"], OFF_THE_PATH)
        time.sleep(pyproject_cache.SETTLED_NS / 1e9)  # settled: the next run keeps what it parses
        assert "tomllib" in _imported_off_the_path(["run", "--", "true"], OFF_THE_PATH)
        assert _imported_off_the_path(["run", "--", "true"], OFF_THE_PATH) == "0 []\n"


def test_no_module_builds_its_records_with_typing() -> None:
    package = Path(__file__).resolve().parent.parent / "seq_hooks"
    offenders = []
    for path in package.rglob("*.py"):
        # module level: an import under TYPE_CHECKING is fine
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "typing"
                and path.name != "records.py"
            ):
                offenders += [
                    f"{path.relative_to(package)}: {a.name}"
                    for a in node.names
                    if a.name == "NamedTuple"
                ]
    assert offenders == []
