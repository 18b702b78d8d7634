"""Settings: defaults < [tool.seq-hooks] in pyproject.toml < SEQ_HOOKS_* environment < command-line
flags."""
from __future__ import annotations

import os
import stat
import sys

from seq_hooks.errors import UsageError
from seq_hooks.options import MOST_WHOLE, number_problem
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypeVar

    _T = TypeVar("_T")


class HookSettings(NamedTuple):
    args: tuple[str, ...] | None = None
    batch: int | None = None
    timeout: float | None = None
    memory_limit_mb: int | None = None
    threads: int | None = None
    # atomic-mypy: keep a mypy daemon per worktree (None: yes, where mypy has dmypy)
    daemon: bool | None = None
    # atomic-mypy: stop a daemon unused this long (None: daemons.mypyd.IDLE_S)
    daemon_idle_s: float | None = None


class LockSettings(NamedTuple):
    """A named lock's own capacity ([tool.seq-hooks.locks.NAME]); None: the [tool.seq-hooks]
    value."""

    slots: int | str | None = None
    memory_budget_mb: int | str | None = None


# how a setting is read and checked (numbers must be >= 0)
_NUMBER = "number"
_INT = "integer"
_STR = "string"
_STRLIST = "list of strings"
_AUTO = "whole number or \"auto\""
_BOOL = "boolean"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_DIGITS = frozenset("0123456789")
_LOCK_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
DEFAULT_LOCK = "default"  # the lock a unit takes unless --lock names another (every hook's units)
# git's own: `seq-hooks git`, git-safe and the git hook's chain; always one at a time
GIT_LOCK = "git"
LOCK_NAME_RULE = "letters, digits, '.', '_', '-'; at most 64, not starting with '.' or '-'"


def valid_lock_name(name: str) -> bool:
    """A lock's name (--lock NAME, [tool.seq-hooks.locks.NAME]): LOCK_NAME_RULE (no `re`: it is on
    the hot path)."""
    return 0 < len(name) <= 64 and set(name) <= _LOCK_NAME_CHARS and name[0] not in ".-"


class Declared(NamedTuple):
    """A setting, declared once where Settings names it: how a value is read and checked, its
    default, the environment variables that set it (the prefixed name first; the guides' names after
    it count only where they parse), and what it means, as doctor says it and
    docs/configuration.md's table shows it (tests/docs_test.py keeps the table equal to the
    declarations)."""

    kind: str
    default: object
    env: tuple[str, ...]
    meaning: str


_DECLARED: list[Declared] = []


def _setting(kind: str, default: _T, meaning: str, *env: str) -> _T:
    """Declares the next field of Settings (in the order of the fields) and gives the class its
    default."""
    _DECLARED.append(Declared(kind, default, env, meaning))
    return default


class Settings(NamedTuple):
    """The settings a run uses. Each declared field comes first, its default from its declaration
    (`_setting`); the fields after `project_tools` are not [tool.seq-hooks] keys of their own."""

    memory_limit_mb: int = _setting(
        _INT,
        2048,
        "resident memory of a unit's whole process tree, in MB (the guides counted one process); 0 "
        "= none",
        "SEQ_HOOKS_MEMORY_LIMIT_MB",
        "MEMORY_LIMIT_MB",
        "MAX_MEMORY_MB",
    )
    timeout: float = _setting(
        _NUMBER,
        1800.0,
        "seconds a unit may run before its whole tree is killed (exit 124); 0 = none",
        "SEQ_HOOKS_TIMEOUT",
        "TIMEOUT",
    )
    kill_after: float = _setting(
        _NUMBER, 5.0, "seconds between the kill signal and SIGKILL", "SEQ_HOOKS_KILL_AFTER"
    )
    pipeline_timeout: float = _setting(
        _NUMBER,
        7200.0,
        "the budget of an outermost holder (a git hook's chain, `run --pipeline`) and everything "
        "nested in it",
        "SEQ_HOOKS_PIPELINE_TIMEOUT",
        "PIPELINE_TIMEOUT",
    )
    max_procs: int = _setting(_INT, 0, "most live processes in a unit's tree; 0 = none",
                              "SEQ_HOOKS_MAX_PROCS", "MAX_PROCESSES")
    max_wait: float | None = _setting(
        _NUMBER,
        None,
        "give up with exit 75 after waiting this many seconds for the lock; unset: wait as long as "
        "it "
        "takes",
        "SEQ_HOOKS_MAX_WAIT",
    )
    check_interval: float = _setting(
        _NUMBER,
        0.25,
        "the longest gap between two memory samples, in seconds: only ever lowers seq-hooks' own "
        "adaptive sampling, which is never further apart than 0.25 s",
        "SEQ_HOOKS_CHECK_INTERVAL",
        "CHECK_INTERVAL",
    )
    scope: str = _setting(
        _STR,
        "project",
        '`"project"`: one queue per repository (all its worktrees); `"machine"`: '
        "one for all your projects",
    )
    log_dir: str | None = _setting(
        _STR, None, "where run logs go; unset: `<git common dir>/seq-hooks/logs`"
    )
    keep_logs: int = _setting(_INT, 500, "log retention: most log files kept; 0 = no count limit")
    keep_logs_mb: int = _setting(
        _INT, 200, "log retention: most megabytes of logs kept; 0 = no size limit"
    )
    python: str | None = _setting(
        _STR,
        None,
        "the project's interpreter, for the hooks' tools; unset: `.venv`, `venv`, uv's environment "
        "([hooks.md](hooks.md#which-ruff-mypy-and-pytest))",
        "SEQ_HOOKS_PYTHON",
    )
    test_paths: tuple[str, ...] = _setting(
        _STRLIST,
        ("tests", "test", "."),
        "where `atomic-pytest` looks for the tests of a changed module",
    )
    slots: int | str = _setting(
        _AUTO,
        "auto",
        'units holding a lock at once: `"auto"` is the CPUs this process may use, `1` one at a '
        'time '
        "(the `git` lock always is): [capacity.md](capacity.md#the-defaults)",
        "SEQ_HOOKS_SLOTS",
    )
    memory_budget_mb: int | str = _setting(
        _AUTO,
        "auto",
        'the expected peaks of a lock\'s holders together: `"auto"` is half the memory; 0 = none: '
        "[capacity.md](capacity.md#the-defaults)",
        "SEQ_HOOKS_MEMORY_BUDGET_MB",
    )
    threads: int = _setting(
        _INT, 0, "cap the tools' own threads and workers in each unit to this many; 0 = leave them "
        "([below](#threads))", "SEQ_HOOKS_THREADS")
    project_tools: bool = _setting(
        _BOOL,
        False,
        "`run` looks a bare command up in the project's environment first, even when PATH has one",
        "SEQ_HOOKS_PROJECT_TOOLS",
    )
    verbose: bool = _setting(
        _BOOL,
        False,
        "`run` says what is about to run (the executable, the lock, the limits), and sums up "
        "after; "
        "1/0 or true/false in the environment",
        "SEQ_HOOKS_VERBOSE",
        "VERBOSE",
    )
    hooks: Mapping[str, HookSettings] = {}  # [tool.seq-hooks.hooks.ID]
    locks: Mapping[str, LockSettings] = {}  # [tool.seq-hooks.locks.NAME]
    source: str = "defaults"  # the pyproject.toml that was read, for messages
    # the keys an environment variable set (they beat a hook's table)
    from_env: frozenset[str] = frozenset()


# the declared fields first
SETTINGS: dict[str, Declared] = dict(zip(Settings._fields, _DECLARED, strict=False))
ENV_NAMES: dict[str, tuple[str, ...]] = {key: d.env for key, d in SETTINGS.items() if d.env}
_TOP_KEYS: dict[str, str] = {key: d.kind for key, d in SETTINGS.items()}
_LOCK_KEYS: dict[str, str] = {key: SETTINGS[key].kind for key in LockSettings._fields}
_HOOK_KEYS: dict[str, str] = {
    "args": _STRLIST,
    "batch": _INT,
    "timeout": _NUMBER,
    "memory_limit_mb": _INT,
    "threads": _INT,
    "daemon": _BOOL,
    "daemon_idle_s": _NUMBER,
}


def _check(where: str, key: str, kind: str, value: Any) -> Any:
    """`value` as the setting `key` of type `kind`; UsageError naming `where` and the key when it is
    not one."""
    if kind == _AUTO:
        return _auto(where, key, value)
    what = _problem(kind, value)
    if what is not None:
        raise UsageError(f"{where}: {key} must be {what}, got {value!r}")
    if kind == _STRLIST:
        return tuple(value)
    return float(value) if kind == _NUMBER else value


_TYPE_WORDS = {_STR: "a string", _STRLIST: "a list of strings", _BOOL: "true or false"}


def _problem(kind: str, value: Any) -> str | None:
    """What a value of `kind` must be, when `value` is not that."""
    fits = {
        _STR: isinstance(value, str),
        _STRLIST: isinstance(value, list) and all(isinstance(v, str) for v in value),
        _BOOL: isinstance(value, bool),
    }
    if kind in fits:
        return None if fits[kind] else _TYPE_WORDS[kind]
    whole = kind == _INT
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return "a whole number" if whole else "a number"
    return number_problem(value, whole)


def _auto(where: str, key: str, value: Any) -> int | str:
    """A whole number (slots: at least 1) or "auto"."""
    least = 1 if key == "slots" else 0
    if value == "auto" or (
        isinstance(value, int) and not isinstance(value, bool) and least <= value <= MOST_WHOLE
    ):
        return "auto" if value == "auto" else int(value)
    raise UsageError(f"{where}: {key} must be a whole number >= {least} or \"auto\", got {value!r}")


def _parse_env(name: str, kind: str, raw: str) -> Any:
    if kind in (_INT, _NUMBER, _AUTO) and (not raw.isascii() or "_" in raw):
        # int() and float() take other scripts' digits (U+0663 is 3) and 1_0 (10): values a person
        # reads otherwise
        what = {_INT: "a whole number", _NUMBER: "a number"}.get(kind, "a whole number or \"auto\"")
        raise UsageError(
            f"environment variable {name} must be {what} in ASCII digits, without '_', got {raw!r}"
        )
    if kind == _AUTO:
        least = 1 if name == "SEQ_HOOKS_SLOTS" else 0
        if raw == "auto" or (raw and set(raw) <= _DIGITS and least <= int(raw) <= MOST_WHOLE):
            return raw if raw == "auto" else int(raw)
        raise UsageError(
            f'environment variable {name} must be a whole number >= {least} or "auto", got {raw!r}'
        )
    if kind == _BOOL:
        if raw.lower() not in (*_TRUE, *_FALSE):
            raise UsageError(
                f"environment variable {name} must be 1 or 0 (true or false), got {raw!r}"
            )
        return raw.lower() in _TRUE
    try:
        value: Any = int(raw) if kind == _INT else float(raw) if kind == _NUMBER else raw
    except ValueError:
        what = {_INT: "a whole number", _NUMBER: "a number"}.get(kind, "a string")
        raise UsageError(f"environment variable {name} must be {what}, got {raw!r}") from None
    why = None if kind == _STR else number_problem(value, kind == _INT)
    if why is not None:
        raise UsageError(f"environment variable {name} must be {why}, got {raw!r}")
    return value


_MOST_BYTES = 4 << 20  # a configuration file is a few kilobytes; more than this is not one


def read_regular(path: str) -> bytes | None:
    """The bytes of `path` when it is a regular file (None when there is none): a FIFO or a device
    never hangs us, a file larger than 4 MiB is refused. UsageError naming the path otherwise."""
    found = _read_regular(path)
    return None if found is None else found[0]


def _read_regular(path: str) -> tuple[bytes, os.stat_result] | None:
    """`read_regular`, and the file's fstat."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{path}: not a regular file (a FIFO or a device is never read)")
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, _MOST_BYTES + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > _MOST_BYTES:
                raise UsageError(f"{path}: larger than {_MOST_BYTES >> 20} MiB: not read")
        return b"".join(chunks), st
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None
    finally:
        os.close(fd)


# Escapes of a quoted key that can spell a letter or '-' (\uXXXX, \UXXXXXXXX; TOML 1.1's \xHH): the
# only way a key can be `seq-hooks` without those bytes in the text, as bare, "quoted" or 'literal'
# key, dotted or a header
_LETTER_ESCAPES = (b"\\u", b"\\U", b"\\x")


def may_hold_table(data: bytes) -> bool:
    """Whether a key of this TOML text can be `seq-hooks`; when not, the file holds no
    [tool.seq-hooks] table."""
    return b"seq-hooks" in data or any(escape in data for escape in _LETTER_ESCAPES)


def read_pyproject(path: str, cache_dir: str | None = None) -> dict[str, Any]:
    """The [tool.seq-hooks] table of `path`, or {} when there is none; with `cache_dir`, parsed once
    for each version of the file (seq_hooks.pyproject_cache)."""
    found = _read_regular(path)
    if found is None or not may_hold_table(found[0]):
        return {}  # nothing for us in this file: neither the parser nor the cache on the hot path
    data, st = found
    if cache_dir is None:
        return _parse_table(path, data)
    # only for a file that names seq-hooks: off the common path
    from seq_hooks import pyproject_cache

    return pyproject_cache.table(path, st, cache_dir, lambda: _parse_table(path, data))


def _parse_table(path: str, data: bytes) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib  # imports typing: only for a table to parse
    else:
        import tomli as tomllib  # the same, before Python 3.11
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot parse: {e}") from None
    tool = doc.get("tool", {})
    if not isinstance(tool, dict):
        raise UsageError(f"{path}: `tool` must be a table ([tool]), got {_kind(tool)}")
    table = tool.get("seq-hooks", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.seq-hooks] must be a table, got {_kind(table)}")
    return table


def _kind(value: Any) -> str:
    return "an array of tables" if isinstance(value, list) else f"{type(value).__name__} {value!r}"


def from_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validated settings from a [tool.seq-hooks] table: unknown keys and wrong types name the
    key."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "hooks":
            out["hooks"] = {
                k: HookSettings(**v) for k, v in _sub_tables(value, where, key, _HOOK_KEYS).items()
            }
            continue
        if key == "locks":
            out["locks"] = _lock_tables(_sub_tables(value, where, key, _LOCK_KEYS), where)
            continue
        if key not in _TOP_KEYS:
            known = ", ".join([*_TOP_KEYS, "hooks", "locks"])
            raise UsageError(f"{where}: unknown key {key!r} in [tool.seq-hooks] (known: {known})")
        out[key] = _check(where, key, _TOP_KEYS[key], value)
    if out.get("scope", "project") not in ("project", "machine"):
        raise UsageError(f"{where}: scope must be \"project\" or \"machine\", got {out['scope']!r}")
    return out


def _sub_tables(
    value: Any, where: str, section: str, keys: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The checked values of [tool.seq-hooks.<section>.NAME] tables (hooks, locks), by NAME."""
    if not isinstance(value, dict):
        raise UsageError(
            f"{where}: [tool.seq-hooks.{section}] must be a table of {section[:-1]} tables"
        )
    out: dict[str, dict[str, Any]] = {}
    for name, table in value.items():
        swhere = f"{where}: [tool.seq-hooks.{section}.{name}]"
        if not isinstance(table, dict):
            raise UsageError(f"{swhere} must be a table")
        fields: dict[str, Any] = {}
        for skey, svalue in table.items():
            if skey not in keys:
                raise UsageError(f"{swhere}: unknown key {skey!r} (known: {', '.join(keys)})")
            fields[skey] = _check(swhere, skey, keys[skey], svalue)
        out[name] = fields
    return out


def _lock_tables(tables: dict[str, dict[str, Any]], where: str) -> dict[str, LockSettings]:
    """The `git` lock is always exclusive: git itself allows one writer of a repository's index at a
    time."""
    for name in tables:
        if not valid_lock_name(name):
            raise UsageError(
                f"{where}: [tool.seq-hooks.locks.{name}]: {name!r} is not a lock name "
                f"({LOCK_NAME_RULE})"
            )
    if tables.get(GIT_LOCK, {}).get("slots", 1) != 1:
        raise UsageError(
            f"{where}: [tool.seq-hooks.locks.{GIT_LOCK}]: slots must be 1 (the {GIT_LOCK} lock is "
            "always "
            "exclusive)"
        )
    return {name: LockSettings(**fields) for name, fields in tables.items()}


def env_value(key: str, name: str, raw: str) -> Any:
    """The value of setting `key` from environment variable `name`; UsageError naming it when it
    does not parse."""
    return _parse_env(name, _TOP_KEYS[key], raw.strip())


def is_generic(name: str) -> bool:
    """A guide's name such as TIMEOUT: others may set it for their own tools."""
    return not name.startswith("SEQ_HOOKS_")


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Settings from SEQ_HOOKS_* (a bad value is an error) and, failing that, from the guides'
    generic names, which count only where they parse: TIMEOUT=30s set for some other tool is not
    ours (`doctor` says it is ignored)."""
    out: dict[str, Any] = {}
    for key, names in ENV_NAMES.items():
        for name in names:
            raw = env.get(name, "")
            if raw.strip() == "":
                continue
            try:
                out[key] = env_value(key, name, raw)
            except UsageError:
                if not is_generic(name):
                    raise
                continue
            break
    return out


def load(root: str, env: Mapping[str, str] | None = None, cache_dir: str | None = None) -> Settings:
    """Settings for the project at `root` (flags are applied by the caller with
    `Settings._replace`); `cache_dir`: where the table parsed from its pyproject.toml may be
    kept."""
    path = os.path.join(root, "pyproject.toml")
    table = read_pyproject(path, cache_dir)
    values = from_table(table, path)
    if table:
        values["source"] = path
    from_environment = from_env(os.environ if env is None else env)
    values.update(from_environment, from_env=frozenset(from_environment))
    return Settings(**values)
