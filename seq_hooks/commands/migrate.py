"""`seq-hooks migrate [--dry-run]`: moves a repository off the two bash guides' scripts.

What still calls them (guide_scripts.find: git hooks, pre-commit entries, Makefile lines,
.sequential-aliases, CI workflows) is rewritten to the seq-hooks command that does each script's
job: a guide git hook is renamed to `<name>.from-the-guides` (git runs no hook by that name) and,
where it was the live hook, seq-hooks' own hook is installed in its place (it runs pre-commit under
the project's lock, as the guides' hook did); in the files each call is replaced on its line, the
rest of the file byte for byte. What has no one-line replacement is listed with what to do by hand.
Exit 0 when nothing is left, 1 when something is left to do by hand.
"""
from __future__ import annotations

import os
import sys

from seq_hooks import githook, guide_scripts, project
from seq_hooks.errors import FAILED, OK, FatalError
from seq_hooks.guide_scripts import Call
from seq_hooks.options import Option, parse

OPTIONS = (Option(("--dry-run",), "dry_run", help="say what would change, change nothing"),)
SUMMARY = (
    "Rewrite what still calls the guides' scripts (scripts/wait_all.sh, sequential-executor.sh, "
    "...): git\n"
    "hooks (live, .seq-hooks-orig, .legacy), pre-commit entries, Makefile lines, "
    ".sequential-aliases, CI\n"
    "workflows, each to the seq-hooks command that does the same job. seq-hooks doctor lists them "
    "first."
)


def _say(text: str) -> None:
    sys.stdout.write(f"seq-hooks migrate: {text}\n")


def _free_name(path: str) -> str:
    target, n = path + guide_scripts.MOVED, 1
    while os.path.lexists(target):
        n += 1
        target = f"{path}{guide_scripts.MOVED}.{n}"
    return target


def _hook(call: Call, dry: bool) -> None:
    name = os.path.basename(call.path)
    target = _free_name(call.path)
    live = name in githook.HOOK_TYPES
    _say(f"{call.path}: the guides' hook ({', '.join(call.scripts)}) -> {os.path.basename(target)}"
         + (", and seq-hooks' hook installed" if live else ""))
    if dry:
        return
    os.rename(call.path, target)
    if live:
        loc = githook.locate(os.path.dirname(call.path))
        python, pre_commit_python = githook.installer_python()
        _say(githook.install(loc, name, python, pre_commit_python))


def _write_like(path: str, text: str) -> None:
    """Replaces the file's content, keeping its mode; a reader sees the old file or the new, never
    half."""
    mode = os.stat(path).st_mode & 0o7777
    tmp = f"{path}.seq-hooks-migrate-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _text_file(path: str, calls: list[Call], dry: bool) -> int:
    """Rewrites the lines of `path` that have a replacement; returns how many are left to do by
    hand."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    left = 0
    for c in calls:
        if c.new is None:
            left += 1
            _say(f"{path}:{c.line}: {c.text.strip()}  ({c.fix})")
            continue
        _say(f"{path}:{c.line}: {c.text.strip()}  ->  {c.new.strip()}")
        ending = lines[c.line - 1][len(lines[c.line - 1].rstrip("\r\n")) :]
        lines[c.line - 1] = c.new + ending
    if not dry and any(c.new is not None for c in calls):
        _write_like(path, "".join(lines))
    return left


def main(argv: list[str]) -> int:
    parsed = parse(argv, OPTIONS, prog="seq-hooks migrate", usage="[--dry-run]", summary=SUMMARY)
    dry = parsed.flag("dry_run")
    root = project.find().root
    calls = guide_scripts.find(root)
    if not calls:
        _say("nothing calls the guides' scripts (git hooks, pre-commit, Makefiles): nothing to do")
        return OK
    left = 0
    by_file: dict[str, list[Call]] = {}
    for c in calls:
        if c.line == 0:
            _hook(c, dry)
        else:
            by_file.setdefault(c.path, []).append(c)
    for path, file_calls in by_file.items():
        try:
            left += _text_file(path, file_calls, dry)
        except OSError as e:
            raise FatalError(f"{path}: cannot rewrite it: {e.strerror}", FAILED) from None
    done = "would be" if dry else "were"
    _say(f"{len(calls) - left} place{'s' if len(calls) - left != 1 else ''} {done} migrated"
         + (f"; {left} left to do by hand (above)" if left else "")
         + ("; run it without --dry-run to make the changes" if dry else ""))
    return FAILED if left else OK
