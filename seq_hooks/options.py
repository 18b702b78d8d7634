"""A small command-line parser: the `run` hot path cannot afford argparse's import
(docs/performance.md).

Every command and hook declares its options as a tuple of `Option`; `parse` returns the values by
name, the positional words, and whatever follows `--`.
"""
from __future__ import annotations

from seq_hooks.errors import UsageError
from seq_hooks.records import NamedTuple

# kinds: "flag" (True when given), "count" (how many times), "str", "int", "float", "append"
Value = str | int | float | bool | list[str] | None


class Option(NamedTuple):
    names: tuple[str, ...]
    dest: str
    kind: str = "flag"
    help: str = ""
    metavar: str = ""


class Parsed(NamedTuple):
    values: dict[str, Value]
    positional: list[str]
    rest: list[str] | None  # the words after `--`, None when there was no `--`

    def number(self, dest: str) -> float | None:
        v = self.values[dest]
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def integer(self, dest: str) -> int | None:
        v = self.values[dest]
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def text(self, dest: str) -> str | None:
        v = self.values[dest]
        return v if isinstance(v, str) else None

    def flag(self, dest: str) -> bool:
        return bool(self.values[dest])

    def texts(self, dest: str) -> list[str]:
        v = self.values[dest]
        return list(v) if isinstance(v, list) else []


class HelpRequested(Exception):
    """--help was given: print the text and exit 0."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


MOST_SECONDS = 1e9  # about 31 years: a longer time is a typo (and overflows the clocks' arithmetic)
MOST_WHOLE = 2**31 - 1


def number_problem(value: float, whole: bool) -> str | None:
    """What a number setting must be, when `value` is not that: every one is finite, zero or more,
    and within a bound (seconds, or a count of megabytes, processes, files); None when `value` may
    be one."""
    if value - value != 0:  # nan and +-inf, without importing math on the hot path
        return "a finite number"
    if value < 0:
        return "zero or more"
    most = MOST_WHOLE if whole else MOST_SECONDS
    return f"at most {most:.0f}" if value > most else None


def convert(opt: Option, name: str, raw: str) -> Value:
    """The value of option `opt` (given as `name`) from its word `raw`; UsageError naming the flag
    if it is bad."""
    if opt.kind in ("str", "append"):
        return raw
    try:
        number: int | float = int(raw) if opt.kind == "int" else float(raw)
    except ValueError:
        kind = "a whole number" if opt.kind == "int" else "a number"
        raise UsageError(f"{name} takes {kind}, not {raw!r}") from None
    why = number_problem(number, opt.kind == "int")
    if why is not None:
        raise UsageError(f"{name} must be {why}, got {raw}")
    return number


def render_help(prog: str, usage: str, summary: str, options: tuple[Option, ...]) -> str:
    lines = [f"usage: {prog} {usage}".rstrip(), "", summary, "", "options:"]
    for opt in (*options, Option(("-h", "--help"), "help", help="show this help and exit")):
        takes = opt.kind not in ("flag", "count")
        left = ", ".join(opt.names) + (f" {opt.metavar or opt.kind.upper()}" if takes else "")
        lines.append(f"  {left:<26} {opt.help}")
    return "\n".join(lines) + "\n"


def parse(
    argv: list[str],
    options: tuple[Option, ...],
    *,
    prog: str,
    usage: str,
    summary: str,
    positional_ok: bool = False,
    command: bool = False,
) -> Parsed:
    """Our options, positional words and the words after `--`. With `command`, the first word that
    is not one of our options starts a command: it and every word after it are `rest`, whatever they
    look like (`seq-hooks run pytest -q --timeout 5`: `-q` and `--timeout` are pytest's)."""
    by_name = {name: opt for opt in options for name in opt.names}
    values: dict[str, Value] = {opt.dest: _initial(opt) for opt in options}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            return Parsed(values, positional, argv[i:])
        if word in ("-h", "--help"):
            raise HelpRequested(render_help(prog, usage, summary, options))
        if not word.startswith("-") or word == "-":
            if command:
                return Parsed(values, positional, argv[i - 1 :])
            if not positional_ok:
                raise UsageError(f"unexpected argument {word!r} (see {prog} --help)")
            positional.append(word)
            continue
        name, eq, inline = word.partition("=")
        opt = by_name.get(name)
        if opt is None:
            raise UsageError(f"unknown option {name} (see {prog} --help)")
        if opt.kind in ("flag", "count"):
            if eq:
                raise UsageError(f"{name} takes no value")
            values[opt.dest] = _counted(values[opt.dest]) if opt.kind == "count" else True
            continue
        if not eq:
            if i >= len(argv):
                raise UsageError(f"{name} needs a value")
            inline, i = argv[i], i + 1
        _store(values, opt, convert(opt, name, inline))
    return Parsed(values, positional, None)


def _initial(opt: Option) -> Value:
    return [] if opt.kind == "append" else (0 if opt.kind == "count" else None)


def _counted(count: Value) -> int:
    return (count if isinstance(count, int) else 0) + 1


def _store(values: dict[str, Value], opt: Option, value: Value) -> None:
    current = values[opt.dest]
    if isinstance(current, list):
        current.append(str(value))
    else:
        values[opt.dest] = value
