"""A hook's command line split into our options, the tool's options and the file names.

Words on the command line: our own options (before any `--`), then the tool's options and the file
names that pre-commit appends. A word that names an existing path is a file, whatever it looks like
(`--help`, `--fail-fast`, `--type=x.py`: pre-commit passes every changed file); any other word
starting with `-` is one of our options or a tool option; a plain word right after a tool option is
that option's value (`--select E501`); after `--` every word is a file. The generic hook takes `--
TOOL [ARGS...] [-- FILES]`: pre-commit runs `atomic -- ruff format FILES...` for `args: [--, ruff,
format]`, and it passes only files that exist, so every word before the first existing path is the
tool's (`format`, `check --fix`), the files start at the first one; a tool argument that names an
existing file needs the `--` that ends ARGS.
"""
from __future__ import annotations

import os

from seq_hooks.errors import UsageError
from seq_hooks.options import HelpRequested, Option, convert, render_help
from seq_hooks.records import NamedTuple

COMMON_OPTIONS = (
    Option(
        ("--batch",),
        "batch",
        "int",
        "files per unit (default: the hook's own, or `batch` in config; "
        "1 = a unit per file, 0 = all in one)",
        "N",
    ),
    Option(("--fail-fast",), "fail_fast", help="stop after the first unit that fails"),
    Option(
        ("--verbose",),
        "verbose",
        help="a line per unit, every unit's output, and which tool was used",
    ),
    Option(
        ("--type",),
        "types",
        "append",
        "by hand: only files with this identify tag (repeatable)",
        "TAG",
    ),
)
HELP = ("-h", "--help")


class Words(NamedTuple):
    values: dict[str, object]  # our options by dest (read with `texts`, or directly)
    tool_cmd: list[str]  # the generic hook's TOOL; [] for the others
    tool_args: list[str]
    files: list[str]


class Syntax(NamedTuple):
    """What the words of one hook may be."""

    prog: str
    usage: str
    summary: str
    options: tuple[Option, ...]
    generic: bool  # TOOL follows the first `--`


def texts(words: Words, dest: str) -> list[str]:
    v = words.values.get(dest)
    return [str(x) for x in v] if isinstance(v, list) else []


def split_words(syntax: Syntax, argv: list[str]) -> Words:
    """Our options, the tool's options and the file names (see the module docstring for the
    rules)."""
    words = Words(
        {opt.dest: [] if opt.kind == "append" else None for opt in syntax.options}, [], [], []
    )
    rest = _generic_head(syntax, argv, words) if syntax.generic else argv
    _tail(syntax, rest, words, ours=not syntax.generic)
    return words


def _generic_head(syntax: Syntax, argv: list[str], words: Words) -> list[str]:
    """`[OURS...] -- TOOL`: our options and the tool; returns the words after TOOL."""
    usage = f"(usage: {syntax.prog} -- TOOL [ARGS...])"
    i = 0
    while i < len(argv) and argv[i] != "--":
        opt, i = _our_option(syntax, argv, i, words)
        if opt is None:
            raise UsageError(f"unexpected {argv[i]!r} {usage}")
    if i + 1 >= len(argv):
        raise UsageError(f"no tool {'after --' if i < len(argv) else 'given'} {usage}")
    words.tool_cmd.append(argv[i + 1])
    rest = argv[i + 2 :]
    if "--" in rest:  # `-- TOOL ARGS -- FILES`: ARGS are the tool's, whatever they look like
        end = rest.index("--")
        words.tool_args.extend(rest[:end])
        words.files.extend(rest[end + 1 :])
        return []
    return rest


def _tail(syntax: Syntax, argv: list[str], words: Words, *, ours: bool) -> None:
    """Tool options, their values and file names (and our options, when `ours`), up to a `--`."""
    value_may_follow = False
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            words.files.extend(argv[i + 1 :])
            return
        # before our options: pre-commit passes a file named `--help` as it is
        if os.path.lexists(word):
            words.files.append(word)
            value_may_follow = False
            i += 1
            continue
        if ours:
            opt, after = _our_option(syntax, argv, i, words)
            if opt is not None:
                i = after
                continue
        i += 1
        if word.startswith("-") and word != "-":
            words.tool_args.append(word)
            value_may_follow = "=" not in word and not words.files
        elif value_may_follow or (syntax.generic and not words.files):
            # an option's value, or the generic tool's own words (`ruff format`)
            words.tool_args.append(word)
            value_may_follow = False
        else:
            words.files.append(word)  # a file that is gone: skipped with a note


def _our_option(syntax: Syntax, argv: list[str], i: int, words: Words) -> tuple[Option | None, int]:
    """Takes our option at argv[i] (and its value) into `words`: (the option, the index after it),
    or (None, i) when argv[i] is not one of ours."""
    word = argv[i]
    if word in HELP:
        raise HelpRequested(render_help(syntax.prog, syntax.usage, syntax.summary, syntax.options))
    name, eq, inline = word.partition("=")
    opt = next((o for o in syntax.options if name in o.names), None)
    if opt is None:
        return None, i
    if opt.kind == "flag":
        if eq:
            raise UsageError(f"{name} takes no value")
        words.values[opt.dest] = True
        return opt, i + 1
    if not eq:
        if i + 1 >= len(argv):
            raise UsageError(f"{name} needs a value")
        inline, i = argv[i + 1], i + 1
    value = convert(opt, name, inline)
    current = words.values[opt.dest]
    if isinstance(current, list):
        current.append(str(value))
    else:
        words.values[opt.dest] = value
    return opt, i + 1
