from __future__ import annotations

import os
from pathlib import Path

import pytest

from seq_hooks import config
from seq_hooks.config import HookSettings, LockSettings, Settings
from seq_hooks.errors import UsageError


def test_defaults_without_pyproject(isolated: Path) -> None:
    assert config.load(str(isolated), env={}) == Settings()


def test_pyproject_then_environment_then_guides_names(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text(
        "[tool.seq-hooks]\ntimeout = 60\nmemory_limit_mb = 512\nmax_wait = 30\n"
        "[tool.seq-hooks.hooks.atomic-mypy]\nbatch = 20\nargs = ['--strict']\n"
    )
    s = config.load(str(isolated), env={})
    assert (s.timeout, s.memory_limit_mb, s.max_wait) == (60.0, 512, 30.0)
    assert s.hooks["atomic-mypy"] == HookSettings(args=("--strict",), batch=20)
    assert s.source.endswith("pyproject.toml")
    env = {
        "TIMEOUT": "5",
        "MEMORY_LIMIT_MB": "100",
        "SEQ_HOOKS_MEMORY_LIMIT_MB": "200",
        "CHECK_INTERVAL": "0.1",
    }
    s = config.load(str(isolated), env=env)
    assert (s.timeout, s.memory_limit_mb, s.check_interval) == (5.0, 200, 0.1)


def test_a_pyproject_without_our_table_is_not_parsed(isolated: Path) -> None:
    # nothing of ours in it: skipped, not an error
    (isolated / "pyproject.toml").write_text("this is [not toml")
    assert config.load(str(isolated), env={}) == Settings()


@pytest.mark.parametrize("text", [
    "[tool.seq-hooks]\nslots = 2\n",
    '[tool."seq-hooks"]\nslots = 2\n',
    "[tool.'seq-hooks']\nslots = 2\n",
    "[ tool . seq-hooks ]\nslots = 2\n",
    "[tool]\nseq-hooks.slots = 2\n",
    "tool.seq-hooks.slots = 2\n",
    "tool = { seq-hooks = { slots = 2 } }\n",
    '[tool."seq\\u002dhooks"]\nslots = 2\n',  # escapes spell it: the name is not in the text
    '[tool."\\u0073eq-hooks"]\nslots = 2\n',
    '[tool]\n"\\U00000073\\U00000065q-hooks" = { slots = 2 }\n',
])
def test_every_spelling_of_the_table_is_read(isolated: Path, text: str) -> None:
    (isolated / "pyproject.toml").write_text(text + '\n[project]\nname = "x"\n')
    assert config.load(str(isolated), env={}).slots == 2


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"nope": 1}, "unknown key 'nope'"),
        ({"timeout": True}, "timeout must be a number"),
        ({"max_procs": 1.5}, "max_procs must be a whole number"),
        ({"keep_logs": -1}, "keep_logs must be zero or more"),
        ({"test_paths": "tests"}, "test_paths must be a list of strings"),
        (
            {"hooks": {"atomic-ruff": {"bogus": 1}}},
            "[tool.seq-hooks.hooks.atomic-ruff]: unknown key 'bogus'",
        ),
        ({"hooks": {"atomic-ruff": 3}}, "[tool.seq-hooks.hooks.atomic-ruff] must be a table"),
        ({"slots": 0}, 'slots must be a whole number >= 1 or "auto"'),
        ({"slots": "many"}, 'slots must be a whole number >= 1 or "auto"'),
        ({"memory_budget_mb": 1.5}, 'memory_budget_mb must be a whole number >= 0 or "auto"'),
        (
            {"locks": {"big": {"slots": True}}},
            "[tool.seq-hooks.locks.big]: slots must be a whole number >= 1",
        ),
        ({"locks": {"big": {"batch": 1}}}, "[tool.seq-hooks.locks.big]: unknown key 'batch'"),
        ({"locks": {"git": {"slots": 2}}}, "[tool.seq-hooks.locks.git]: slots must be 1"),
    ],
)
def test_bad_values_name_the_file_and_key(table: dict[str, object], needle: str) -> None:
    with pytest.raises(UsageError) as e:
        config.from_table(table, "/x/pyproject.toml")
    assert needle in e.value.message
    assert e.value.message.startswith("/x/pyproject.toml")


def test_bad_environment_names_the_variable() -> None:
    with pytest.raises(UsageError, match="SEQ_HOOKS_MEMORY_LIMIT_MB must be a whole number"):
        config.from_env({"SEQ_HOOKS_MEMORY_LIMIT_MB": "lots"})


def test_slots_and_budget_top_level_per_lock_and_from_the_environment(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text(
        '[tool.seq-hooks]\nslots = "auto"\nmemory_budget_mb = 8192\n'
        "[tool.seq-hooks.locks.heavy]\nslots = 1\n[tool.seq-hooks.locks.git]\nmemory_budget_mb = "
        "0\n"
    )
    s = config.load(str(isolated), env={})
    assert (s.slots, s.memory_budget_mb) == ("auto", 8192)
    assert s.locks == {"heavy": LockSettings(slots=1), "git": LockSettings(memory_budget_mb=0)}
    s = config.load(
        str(isolated), env={"SEQ_HOOKS_SLOTS": "3", "SEQ_HOOKS_MEMORY_BUDGET_MB": "auto"}
    )
    assert (s.slots, s.memory_budget_mb) == (3, "auto")
    assert (Settings().slots, Settings().memory_budget_mb) == ("auto", "auto")
    with pytest.raises(
        UsageError, match="SEQ_HOOKS_SLOTS must be a whole number >= 1 or \"auto\", got '0'"
    ):
        config.from_env({"SEQ_HOOKS_SLOTS": "0"})


def test_settings_record_which_keys_the_environment_set(isolated: Path) -> None:
    assert config.load(str(isolated), env={}).from_env == frozenset()
    s = config.load(str(isolated), env={"SEQ_HOOKS_TIMEOUT": "9", "MEMORY_LIMIT_MB": "100"})
    assert s.from_env == frozenset({"timeout", "memory_limit_mb"})


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"timeout": float("nan")}, "timeout must be a finite number, got nan"),
        ({"kill_after": float("inf")}, "kill_after must be a finite number, got inf"),
        ({"max_wait": 1e300}, "max_wait must be at most 1000000000"),
        ({"memory_limit_mb": 10**20}, "memory_limit_mb must be at most 2147483647"),
        (
            {"hooks": {"atomic-mypy": {"timeout": float("nan")}}},
            "atomic-mypy]: timeout must be a finite",
        ),
        ({"slots": 10**12}, "slots must be a whole number >= 1"),
    ],
)
def test_numbers_in_the_table_are_finite_and_in_range(
    table: dict[str, object], needle: str
) -> None:
    with pytest.raises(UsageError) as e:
        config.from_table(table, "/x/pyproject.toml")
    assert needle in e.value.message


@pytest.mark.parametrize(("env", "needle"), [
    ({"SEQ_HOOKS_KILL_AFTER": "nan"}, "SEQ_HOOKS_KILL_AFTER must be a finite number, got 'nan'"),
    ({"SEQ_HOOKS_TIMEOUT": "inf"}, "SEQ_HOOKS_TIMEOUT must be a finite number, got 'inf'"),
    ({"SEQ_HOOKS_MAX_PROCS": "99999999999"}, "SEQ_HOOKS_MAX_PROCS must be at most 2147483647"),
])
def test_numbers_in_the_environment_are_finite_and_in_range(
    env: dict[str, str], needle: str
) -> None:
    with pytest.raises(UsageError, match=needle):
        config.from_env(env)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('tool = "seq-hooks"\n', "`tool` must be a table ([tool]), got str 'seq-hooks'"),
        (
            '[[tool]]\nname = "seq-hooks"\n',
            "`tool` must be a table ([tool]), got an array of tables",
        ),
        ("[tool]\nseq-hooks = 3\n", "[tool.seq-hooks] must be a table, got int 3"),
        (
            "[[tool.seq-hooks]]\ntimeout = 1\n",
            "[tool.seq-hooks] must be a table, got an array of tables",
        ),
    ],
)
def test_a_tool_that_is_not_a_table_names_it(isolated: Path, text: str, needle: str) -> None:
    (isolated / "pyproject.toml").write_text(text)
    with pytest.raises(UsageError) as e:
        config.load(str(isolated), env={})
    assert e.value.message == f"{isolated / 'pyproject.toml'}: {needle}"


def test_only_a_regular_file_is_read(isolated: Path) -> None:
    path = isolated / "pyproject.toml"
    os.mkfifo(path)  # nobody ever writes to it: a plain open() would wait forever
    with pytest.raises(UsageError, match=r"pyproject\.toml: not a regular file"):
        config.load(str(isolated), env={})
    path.unlink()
    path.symlink_to("/dev/zero")  # endless
    with pytest.raises(UsageError, match=r"pyproject\.toml: not a regular file"):
        config.load(str(isolated), env={})
    path.unlink()
    path.write_bytes(b"[tool.seq-hooks]\n" + b"# padding\n" * (1 << 19))  # 5 MiB
    with pytest.raises(UsageError, match="larger than 4 MiB"):
        config.load(str(isolated), env={})
    path.unlink()
    (isolated / "real.toml").write_text("[tool.seq-hooks]\ntimeout = 7\n")
    path.symlink_to("real.toml")  # a link to a regular file is one
    assert config.load(str(isolated), env={}).timeout == 7.0


def test_a_generic_name_counts_only_where_it_parses() -> None:
    assert config.from_env({"TIMEOUT": "30s", "CHECK_INTERVAL": "often", "VERBOSE": "very"}) == {}
    assert config.from_env({"TIMEOUT": "30s", "PIPELINE_TIMEOUT": "60"}) == {
        "pipeline_timeout": 60.0
    }
    with pytest.raises(UsageError, match="SEQ_HOOKS_TIMEOUT must be a number, got '30s'"):
        config.from_env({"SEQ_HOOKS_TIMEOUT": "30s", "TIMEOUT": "5"})  # ours must be right


def test_the_universal_guides_names_are_fallbacks() -> None:
    assert config.from_env({"MAX_MEMORY_MB": "8192", "MAX_PROCESSES": "50", "VERBOSE": "1"}) == {
        "memory_limit_mb": 8192, "max_procs": 50, "verbose": True}
    # the pipeline guide's name, then the universal guide's; the prefixed name beats both
    assert config.from_env({"MAX_MEMORY_MB": "8192", "MEMORY_LIMIT_MB": "1024"}) == {
        "memory_limit_mb": 1024
    }
    env = {"MAX_MEMORY_MB": "8192", "SEQ_HOOKS_MEMORY_LIMIT_MB": "512", "MAX_PROCESSES": "50",
           "SEQ_HOOKS_MAX_PROCS": "0", "VERBOSE": "1", "SEQ_HOOKS_VERBOSE": "false"}
    assert config.from_env(env) == {"memory_limit_mb": 512, "max_procs": 0, "verbose": False}
    # a generic name that does not parse is not ours
    assert config.from_env({"MAX_MEMORY_MB": "lots"}) == {}


def test_verbose_and_threads_in_the_table() -> None:
    assert config.from_table(
        {"verbose": True, "threads": 2, "hooks": {"atomic-pytest": {"threads": 1}}}, "p"
    ) == {"verbose": True, "threads": 2, "hooks": {"atomic-pytest": HookSettings(threads=1)}}
    with pytest.raises(UsageError, match="verbose must be true or false, got 1"):
        config.from_table({"verbose": 1}, "p")
    with pytest.raises(UsageError, match="SEQ_HOOKS_VERBOSE must be 1 or 0"):
        config.from_env({"SEQ_HOOKS_VERBOSE": "loud"})
