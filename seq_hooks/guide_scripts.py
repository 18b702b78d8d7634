"""What still calls the two bash guides' scripts (scripts/wait_all.sh, sequential-executor.sh, ...)
once they are deleted, and what each call becomes: for `doctor`, which reports them, and `migrate`,
which rewrites them.

Three kinds of place: git hooks (the guides' `ensure-sequential.sh` wrote `.git/hooks/pre-commit`,
and `install-git-hook` keeps a hook it replaces as `<type>.seq-hooks-orig`, `pre-commit install` as
`<type>.legacy`: a kept guide hook still runs on every commit); pre-commit configurations;
Makefiles, the guides' `.sequential-aliases` and CI workflows. A guide hook is replaced as a whole
(it only ran pre-commit under the guides' lock: seq-hooks' own hook does that); in the other files
each call of a script is rewritten in place to the seq-hooks command that does its job
(docs/guides.md, the Scripts table).
"""
from __future__ import annotations

import glob
import os
import re

from seq_hooks import githook
from seq_hooks.errors import FatalError
from seq_hooks.records import NamedTuple

# script -> the command line that takes its place, word for word ("" when no line can: said in
# ADVICE)
REPLACEMENT = {
    # its options are seq-hooks run's (--timeout, --retry, --json, ...)
    "wait_all.sh": "seq-hooks run --no-lock",
    "sequential-executor.sh": "seq-hooks run --",
    "safe-run.sh": "seq-hooks run --",
    "seq": "seq-hooks run --",  # scripts/seq only: a bare `seq` is coreutils'
    "git-safe.sh": "seq-hooks git --",
    "make-sequential.sh": "seq-hooks run --lock make -- make",
    "memory_monitor.sh": "seq-hooks watch",  # --limit MB becomes --memory-limit MB; --interval goes
    "monitor-queue.sh": "seq-hooks status --watch",
    "kill-orphans.sh": "seq-hooks clean",
    "ensure-sequential.sh": "seq-hooks doctor",
    "pre-commit-safe.sh": "pre-commit",
    "atomic-hook.sh": "",
    "example-atomic-pipeline.sh": "",
}
ADVICE = {
    "atomic-hook.sh": "use the `atomic` hook (args: [--, CMD, ARGS...]) or `atomic -- CMD ARGS "
                      "FILES`",
    "example-atomic-pipeline.sh": "run the pipeline as one unit: seq-hooks run --pipeline -- CMD",
}
# a hook as git runs it, as we keep it, as pre-commit keeps it
HOOK_NAMES = ("", githook.BACKUP, githook.LEGACY)
MOVED = ".from-the-guides"  # what `migrate` renames a guide hook to: git runs no hook by that name
_END = r"(?=$|[\s\"';|&)`])"
_CALL = re.compile(r"(?P<path>(?:[^\s\"'=;|&`@]*/)?)(?P<name>" + "|".join(
    re.escape(n) for n in sorted(REPLACEMENT, key=len, reverse=True)) + r")" + _END)
_GLOB = re.compile(r"scripts/\*\.sh" + _END)  # `chmod +x scripts/*.sh` (the guides' dev-setup)


class Call(NamedTuple):
    """A place that still calls a guide script."""

    path: str  # the file
    line: int  # its line (1 first); 0 for a git hook, which is replaced as a whole
    text: str  # that line as it is (the hook's first line that calls a script)
    scripts: tuple[str, ...]  # the guide scripts it calls
    new: str | None  # the line `migrate` writes instead; None: to be done by hand (`fix` says how)
    fix: str  # what to do, one sentence


def calls_in(line: str) -> list[str]:
    """The guide scripts `line` calls, in order."""
    found = [
        m["name"]
        for m in _CALL.finditer(line)
        if m["name"] != "seq" or m["path"].endswith("scripts/")
    ]
    return found + (["scripts/*.sh"] if _GLOB.search(line) else [])


def rewrite(line: str) -> str | None:
    """`line` with each call of a guide script replaced by the seq-hooks command that does its job;
    None when one of them has no such command (it is to be done by hand)."""
    if _GLOB.search(line):
        return None
    out: list[str] = []
    at = 0
    for m in _CALL.finditer(line):
        name = m["name"]
        if name == "seq" and not m["path"].endswith("scripts/"):
            continue
        if not REPLACEMENT[name]:
            return None
        start, end = m.start(), m.end()
        quote = line[start - 1 : start] if start else ""
        if (
            quote in ("'", '"')
            and line[end : end + 1] == quote
            and line[start - 2 : start - 1] != "="
        ):
            # a quoted command word: its replacement is several words
            start, end = start - 1, end + 1
        # its flags: --limit MB is --memory-limit MB, --interval S has no use
        if name == "memory_monitor.sh":
            rest = re.sub(r"(?<!\S)--limit(?=[\s=])", "--memory-limit", line[end:], count=1)
            line = line[:end] + re.sub(r"\s+--interval(?:=|\s+)\S+", "", rest, count=1)
        out += [line[at:start], REPLACEMENT[name]]
        at = end
    return "".join(out) + line[at:]


def _fix(scripts: list[str], new: str | None) -> str:
    if new is not None:
        return "seq-hooks migrate rewrites it as shown"
    hand = [ADVICE.get(s, "delete it (seq-hooks needs no scripts)") for s in scripts
            if s == "scripts/*.sh" or not REPLACEMENT.get(s)]
    return "by hand: " + "; ".join(dict.fromkeys(hand))


def text_files(root: str) -> list[str]:
    """Where the guides had users call their scripts, besides git hooks."""
    names = [
        ".pre-commit-config.yaml",
        ".pre-commit-config.yml",
        "Makefile",
        "makefile",
        "GNUmakefile",
        ".sequential-aliases",
        ".env.development",
        "lefthook.yml",
    ]
    found = [os.path.join(root, n) for n in names]
    found += sorted(glob.glob(os.path.join(root, "*.mk")))
    found += sorted(glob.glob(os.path.join(root, ".github", "workflows", "*.y*ml")))
    return [f for f in found if os.path.isfile(f) and not os.path.islink(f)]


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read(4 << 20).splitlines()
    except OSError:
        return []


def in_text(path: str) -> list[Call]:
    out = []
    for number, line in enumerate(_read_lines(path), 1):
        scripts = calls_in(line)
        if scripts:
            new = rewrite(line)
            out.append(Call(path, number, line, tuple(scripts), new, _fix(scripts, new)))
    return out


def hook_files(root: str) -> list[str]:
    """Every hook file git runs or we, or pre-commit, keep and run: `<type>`, `.seq-hooks-orig`,
    `.legacy`."""
    try:
        loc = githook.locate(root)
    except FatalError:
        return []
    paths = [
        os.path.join(loc.hooks_dir, t + suffix) for t in githook.HOOK_TYPES for suffix in HOOK_NAMES
    ]
    return [p for p in paths if os.path.isfile(p)]


def in_hook(path: str) -> Call | None:
    lines = _read_lines(path)
    first = next((line for line in lines if calls_in(line)), None)
    if first is None:
        return None
    scripts = tuple(dict.fromkeys(s for line in lines for s in calls_in(line)))
    name = os.path.basename(path)
    if name.endswith(githook.BACKUP):
        fix = (
            f"seq-hooks migrate renames it to {name}{MOVED}; seq-hooks' hook then runs pre-commit "
            "itself "
            "(the guides' hook ran pre-commit under their lock)"
        )
    elif name.endswith(githook.LEGACY):
        fix = (
            f"seq-hooks migrate renames it to {name}{MOVED} (pre-commit runs a .legacy hook before "
            "its own)"
        )
    else:
        fix = (
            f"seq-hooks migrate renames it to {name}{MOVED} and installs seq-hooks' hook, which "
            "runs pre-commit "
            "under the project's lock"
        )
    return Call(path, 0, first.strip(), scripts, "", fix)


def find(root: str) -> list[Call]:
    """Every place under `root` that still calls a guide script: git hooks first, then the files."""
    hooks = [c for c in (in_hook(p) for p in hook_files(root)) if c is not None]
    return hooks + [c for path in text_files(root) for c in in_text(path)]
