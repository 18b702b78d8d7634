"""Reading a git command line as git reads it: its global options (some take the next word as their
value), its subcommand, and the directory it works in."""
from __future__ import annotations

import os

# git's options before the subcommand that take the next word as their value (git.c,
# handle_options); `--exec-path` and `--list-cmds` take one only after `=`
VALUED = frozenset(
    (
        "-C",
        "-c",
        "--git-dir",
        "--work-tree",
        "--namespace",
        "--super-prefix",
        "--config-env",
        "--attr-source",
    )
)


def subcommand(args: list[str]) -> str:
    """`commit` in `-C x -c k=v --no-pager commit -m m` (git's arguments, without `git`); "" when
    none."""
    i = 0
    while i < len(args):
        word = args[i]
        if word in VALUED:
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return word
    return ""


def working_dir(args: list[str]) -> str | None:
    """Where to look for the repository git will work in, from its options before the subcommand:
    `-C DIR` (each relative to the one before), else the directory of `--git-dir`; None: the working
    directory."""
    cwd = None
    git_dir = None
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        word, _, inline = args[i].partition("=")
        value = inline if "=" in args[i] else (args[i + 1] if i + 1 < len(args) else "")
        if word in VALUED and "=" not in args[i]:
            i += 1
        if word == "-C" and value:
            cwd = os.path.join(cwd or os.getcwd(), value)
        elif word == "--git-dir" and value:
            git_dir = os.path.join(cwd or os.getcwd(), value)
        i += 1
    return git_dir or cwd
