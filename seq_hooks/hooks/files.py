"""Which files a hook run checks: pre-commit's as given; by hand, the files named or listed by git,
by type."""
from __future__ import annotations

import os
from collections.abc import Sequence

from seq_hooks.errors import USAGE, FatalError
from seq_hooks.process.spawn import output


def listed_files(root: str, under: str = ".") -> list[str]:
    """Tracked and untracked-but-not-ignored files, relative to the working directory."""
    got = output(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", under]
    )
    if got.code != 0:
        if (
            under == "."
            and not os.path.isdir(os.path.join(root, ".git"))
            and not os.path.exists(".git")
        ):
            raise FatalError(
                "no files given, and this is not a git repository to list them from", USAGE
            )
        raise FatalError(f"git ls-files failed: {got.stderr.strip() or f'exit {got.code}'}")
    return list(dict.fromkeys(name for name in got.stdout.split("\0") if name))


def matches(path: str, types: Sequence[str]) -> bool:
    """Whether `path` has one of the identify tags `types` ("file": every file)."""
    if "file" in types:
        return True
    # identify loads its tables: only for files typed by hand
    from identify.identify import tags_from_path

    try:
        return bool(tags_from_path(path).intersection(types))
    except ValueError:  # gone since it was listed
        return False


def select(
    given: list[str], types: Sequence[str], root: str, *, under_pre_commit: bool
) -> list[str]:
    """pre-commit's files as they are (it filtered them already); by hand, the files given
    (directories expanded) or listed, by type. A named file that is gone stays: its unit says it was
    skipped."""
    if given and under_pre_commit:
        return list(given)
    if not given:
        return [f for f in listed_files(root) if matches(f, types)]
    out: list[str] = []
    for f in given:
        if os.path.isdir(f) and not os.path.islink(f):
            out += [g for g in listed_files(root, f) if matches(g, types)]
        elif not os.path.lexists(f) or matches(f, types):
            out.append(f)
    return out
