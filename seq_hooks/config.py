"""Settings: defaults < [tool.seq-hooks] in pyproject.toml < SEQ_HOOKS_* environment < command-line flags."""
from __future__ import annotations

import os
import stat
import sys

from seq_hooks.errors import UsageError
from seq_hooks.options import MOST_WHOLE, number_problem
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class HookSettings(NamedTuple):
    args: tuple[str, ...] | None = None
    batch: int | None = None
    timeout: float | None = None
    memory_limit_mb: int | None = None
    threads: int | None = None
    daemon: bool | None = None  # atomic-mypy: keep a mypy daemon per worktree (None: yes, where mypy has dmypy)
    daemon_idle_s: float | None = None  # atomic-mypy: stop a daemon unused this long (None: daemons.mypyd.IDLE_S)


class LockSettings(NamedTuple):
    """A named lock's own capacity ([tool.seq-hooks.locks.NAME]); None: the [tool.seq-hooks] value."""

    slots: int | str | None = None
    memory_budget_mb: int | str | None = None


class Settings(NamedTuple):
    memory_limit_mb: int = 2048  # whole tree; 0 = none
    timeout: float = 1800.0  # seconds per unit; 0 = none
    kill_after: float = 5.0  # grace between the kill signal and SIGKILL
    pipeline_timeout: float = 7200.0  # budget of an outermost holder and everything nested in it
    max_procs: int = 0  # live descendants; 0 = none
    max_wait: float | None = None  # give up waiting for the lock after this long
    check_interval: float = 0.25  # longest gap between two memory samples (the run clamps it to treewatch's)
    scope: str = "project"  # "project" (git common dir) or "machine" (one queue for the user)
    log_dir: str | None = None
    keep_logs: int = 500
    keep_logs_mb: int = 200
    python: str | None = None  # the project's interpreter, for the hooks' tools
    test_paths: tuple[str, ...] = ("tests", "test", ".")
    hooks: Mapping[str, HookSettings] = {}
    slots: int | str = 1  # units holding a lock at once, or "auto" (the CPUs we may use): seq_hooks.lock.capacity
    memory_budget_mb: int | str = 0  # expected peaks of a lock's holders together; 0 = none, or "auto"
    locks: Mapping[str, LockSettings] = {}
    verbose: bool = False  # say what is about to run, and a summary after (the guides' VERBOSE=1)
    threads: int = 0  # cap the tools' own threads and workers inside each unit to this many; 0 = leave them
    project_tools: bool = False  # `run` looks a bare command up in the project's environment first, as hooks do
    source: str = "defaults"  # the pyproject.toml that was read, for messages
    from_env: frozenset[str] = frozenset()  # the keys an environment variable set (they beat a hook's table)


# key: (type name, converter check); numbers must be >= 0
_NUMBER = "number"
_INT = "integer"
_STR = "string"
_STRLIST = "list of strings"
_AUTO = "whole number or \"auto\""
_BOOL = "boolean"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_TOP_KEYS: dict[str, str] = {
    "memory_limit_mb": _INT,
    "timeout": _NUMBER,
    "kill_after": _NUMBER,
    "pipeline_timeout": _NUMBER,
    "max_procs": _INT,
    "max_wait": _NUMBER,
    "check_interval": _NUMBER,
    "scope": _STR,
    "log_dir": _STR,
    "keep_logs": _INT,
    "keep_logs_mb": _INT,
    "python": _STR,
    "test_paths": _STRLIST,
    "verbose": _BOOL,
    "project_tools": _BOOL,
    "threads": _INT,
    "slots": _AUTO,
    "memory_budget_mb": _AUTO,
}
_LOCK_KEYS: dict[str, str] = {"slots": _AUTO, "memory_budget_mb": _AUTO}
_HOOK_KEYS: dict[str, str] = {
    "args": _STRLIST,
    "batch": _INT,
    "timeout": _NUMBER,
    "memory_limit_mb": _INT,
    "threads": _INT,
    "daemon": _BOOL,
    "daemon_idle_s": _NUMBER,
}
# the prefixed name wins; the guides' .env.development names are fallbacks
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "memory_limit_mb": ("SEQ_HOOKS_MEMORY_LIMIT_MB", "MEMORY_LIMIT_MB", "MAX_MEMORY_MB"),
    "timeout": ("SEQ_HOOKS_TIMEOUT", "TIMEOUT"),
    "kill_after": ("SEQ_HOOKS_KILL_AFTER",),
    "pipeline_timeout": ("SEQ_HOOKS_PIPELINE_TIMEOUT", "PIPELINE_TIMEOUT"),
    "max_wait": ("SEQ_HOOKS_MAX_WAIT",),
    "max_procs": ("SEQ_HOOKS_MAX_PROCS", "MAX_PROCESSES"),
    "check_interval": ("SEQ_HOOKS_CHECK_INTERVAL", "CHECK_INTERVAL"),
    "python": ("SEQ_HOOKS_PYTHON",),
    "slots": ("SEQ_HOOKS_SLOTS",),
    "memory_budget_mb": ("SEQ_HOOKS_MEMORY_BUDGET_MB",),
    "verbose": ("SEQ_HOOKS_VERBOSE", "VERBOSE"),
    "threads": ("SEQ_HOOKS_THREADS",),
    "project_tools": ("SEQ_HOOKS_PROJECT_TOOLS",),
}


def _check(where: str, key: str, kind: str, value: Any) -> Any:
    """`value` as the setting `key` of type `kind`; UsageError naming `where` and the key when it is not one."""
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
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and least <= value <= MOST_WHOLE):
        return "auto" if value == "auto" else int(value)
    raise UsageError(f"{where}: {key} must be a whole number >= {least} or \"auto\", got {value!r}")


def _parse_env(name: str, kind: str, raw: str) -> Any:
    if kind == _AUTO:
        least = 1 if name == "SEQ_HOOKS_SLOTS" else 0
        if raw == "auto" or (raw.isdigit() and least <= int(raw) <= MOST_WHOLE):
            return raw if raw == "auto" else int(raw)
        raise UsageError(f"environment variable {name} must be a whole number >= {least} or \"auto\", got {raw!r}")
    if kind == _BOOL:
        if raw.lower() not in (*_TRUE, *_FALSE):
            raise UsageError(f"environment variable {name} must be 1 or 0 (true or false), got {raw!r}")
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
    """The bytes of `path` when it is a regular file (None when there is none): a FIFO or a device never hangs us,
    a file larger than 4 MiB is refused. UsageError naming the path otherwise."""
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


# Escapes of a quoted key that can spell a letter or '-' (\uXXXX, \UXXXXXXXX; TOML 1.1's \xHH): the only way a
# key can be `seq-hooks` without those bytes in the text, as bare, "quoted" or 'literal' key, dotted or a header
_LETTER_ESCAPES = (b"\\u", b"\\U", b"\\x")


def may_hold_table(data: bytes) -> bool:
    """Whether a key of this TOML text can be `seq-hooks`; when not, the file holds no [tool.seq-hooks] table."""
    return b"seq-hooks" in data or any(escape in data for escape in _LETTER_ESCAPES)


def read_pyproject(path: str, cache_dir: str | None = None) -> dict[str, Any]:
    """The [tool.seq-hooks] table of `path`, or {} when there is none; with `cache_dir`, parsed once for each
    version of the file (seq_hooks.pyproject_cache)."""
    found = _read_regular(path)
    if found is None or not may_hold_table(found[0]):
        return {}  # nothing for us in this file: neither the parser nor the cache on the hot path
    data, st = found
    if cache_dir is None:
        return _parse_table(path, data)
    from seq_hooks import pyproject_cache  # only for a file that names seq-hooks: off the common path

    return pyproject_cache.table(path, st, cache_dir, lambda: _parse_table(path, data))


def _parse_table(path: str, data: bytes) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
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
    """Validated settings from a [tool.seq-hooks] table: unknown keys and wrong types name the key."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "hooks":
            out["hooks"] = {k: HookSettings(**v) for k, v in _sub_tables(value, where, key, _HOOK_KEYS).items()}
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


def _sub_tables(value: Any, where: str, section: str, keys: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The checked values of [tool.seq-hooks.<section>.NAME] tables (hooks, locks), by NAME."""
    if not isinstance(value, dict):
        raise UsageError(f"{where}: [tool.seq-hooks.{section}] must be a table of {section[:-1]} tables")
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
    """The `git` lock is always exclusive: git itself allows one writer of a repository's index at a time."""
    if tables.get("git", {}).get("slots", 1) != 1:
        raise UsageError(f"{where}: [tool.seq-hooks.locks.git]: slots must be 1 (the git lock is always exclusive)")
    return {name: LockSettings(**fields) for name, fields in tables.items()}


def env_value(key: str, name: str, raw: str) -> Any:
    """The value of setting `key` from environment variable `name`; UsageError naming it when it does not parse."""
    return _parse_env(name, _TOP_KEYS[key], raw.strip())


def is_generic(name: str) -> bool:
    """A guide's name such as TIMEOUT: others may set it for their own tools."""
    return not name.startswith("SEQ_HOOKS_")


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Settings from SEQ_HOOKS_* (a bad value is an error) and, failing that, from the guides' generic names, which
    count only where they parse: TIMEOUT=30s set for some other tool is not ours (`doctor` says it is ignored)."""
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
    """Settings for the project at `root` (flags are applied by the caller with `Settings._replace`); `cache_dir`:
    where the table parsed from its pyproject.toml may be kept."""
    path = os.path.join(root, "pyproject.toml")
    table = read_pyproject(path, cache_dir)
    values = from_table(table, path)
    if table:
        values["source"] = path
    from_environment = from_env(os.environ if env is None else env)
    values.update(from_environment, from_env=frozenset(from_environment))
    return Settings(**values)
