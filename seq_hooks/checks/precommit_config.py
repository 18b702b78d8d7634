"""Reading pre-commit's files: the project's `.pre-commit-config.yaml` and the hook manifests of its
repos.

Parsed with PyYAML, which pre-commit itself depends on. It is imported only here, and only `doctor`
reads these files: a plain `seq-hooks run` never loads it.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Any

import yaml

from seq_hooks.config import read_regular
from seq_hooks.errors import UsageError
from seq_hooks.records import NamedTuple

Hook = dict[str, Any]


class Repo(NamedTuple):
    url: str  # "local", "meta" or the repository's URL
    rev: str
    hooks: list[Hook]  # as configured
    # the repo's .pre-commit-hooks.yaml by hook id; None when not at hand
    manifest: dict[str, Hook] | None


def load_yaml(text: str) -> Any:
    """The document; ValueError with the parser's first line when it is not YAML."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(str(e).splitlines()[0]) from None


def read_config(path: str) -> list[Repo] | None:
    """The repos of a pre-commit config, None when there is no such file; ValueError (a sentence)
    when it cannot be read or is not a pre-commit config."""
    try:
        data = read_regular(path)
        text = None if data is None else data.decode("utf-8")
    except UsageError as e:
        raise ValueError(e.message.removeprefix(f"{path}: ")) from None
    except UnicodeDecodeError as e:
        raise ValueError(f"cannot read: {e}") from None
    if text is None:
        return None
    try:
        doc = load_yaml(text)
    except ValueError as e:
        raise ValueError(f"not valid YAML: {e}") from None
    repos = doc.get("repos") if isinstance(doc, dict) else None
    if not isinstance(repos, list):
        raise ValueError("has no `repos:` list")
    out = []
    for repo in repos:
        if isinstance(repo, dict):
            url, rev = str(repo.get("repo", "")), str(repo.get("rev", ""))
            hooks = [h for h in repo.get("hooks") or [] if isinstance(h, dict)]
            manifest = None if url in ("local", "meta") else cached_manifest(url, rev)
            out.append(Repo(url, rev, hooks, manifest))
    return out


def parse_manifest(text: str) -> dict[str, Hook] | None:
    """A .pre-commit-hooks.yaml by hook id (None when it is not one)."""
    try:
        listed = load_yaml(text)
    except ValueError:
        return None
    items = listed.get("hooks") if isinstance(listed, dict) else listed
    if not isinstance(items, list):
        return None
    return {str(h.get("id")): h for h in items if isinstance(h, dict)}


def _cache_dir() -> str:
    return os.environ.get("PRE_COMMIT_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "pre-commit",
    )


def cached_manifest(repo: str, rev: str) -> dict[str, Hook] | None:
    """The hook repo's manifest from pre-commit's cache, when pre-commit has cloned it."""
    db = os.path.join(_cache_dir(), "db.db")
    if not os.path.isfile(db):
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
        try:
            row = conn.execute(
                "SELECT path FROM repos WHERE repo = ? AND ref = ?", (repo, rev)
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if not row:
        return None
    try:
        with open(os.path.join(row[0], ".pre-commit-hooks.yaml"), encoding="utf-8") as f:
            return parse_manifest(f.read())
    except (OSError, UnicodeDecodeError):
        return None
