"""Checks of the pre-commit configuration: hooks that fan out over every CPU outside the queue."""
from __future__ import annotations

import os

from seq_hooks.checks import INFO, OK, PROBLEM, Finding, Scene
from seq_hooks.checks.precommit_config import Hook, Repo, read_config

TOPIC = "pre-commit"
OUR_HOOK_IDS = (
    "atomic",
    "atomic-ruff",
    "atomic-ruff-format",
    "atomic-mypy",
    "atomic-pytest",
    "git-safe",
)
# tools whose processes each take hundreds of MB or minutes: fanned out over every CPU they drown a
# machine
HEAVY = frozenset(
    {
        "pytest",
        "py.test",
        "mypy",
        "dmypy",
        "pylint",
        "pyright",
        "basedpyright",
        "pytype",
        "tox",
        "nox",
        "coverage",
        "sphinx-build",
        "bandit",
        "semgrep",
        "eslint",
        "tsc",
        "jest",
        "vitest",
        "cargo",
        "go",
        "mvn",
        "gradle",
        "make",
    }
)


def _tool(hook: Hook) -> str:
    entry = str(hook.get("entry") or "")
    first = entry.split(maxsplit=1)[0] if entry.strip() else ""
    return os.path.basename(first)


def _words(hook: Hook) -> set[str]:
    """The hook id and the first words of its entry (`uv run pytest` is pytest)."""
    entry = str(hook.get("entry") or "").split()
    return {str(hook.get("id", "")), *(os.path.basename(w) for w in entry[:3])}


def _suggest(hook: Hook) -> str:
    words = _words(hook)
    if "py.test" in words:
        words.add("pytest")
    for tool in ("mypy", "pytest", "ruff"):
        if tool in words:
            return f"atomic-{tool}"
    return f"`atomic -- {_tool(hook) or 'TOOL'}`"


def classify(repo: Repo, hook: Hook) -> str:
    """"serial" (one process, or through our queue), "unknown" (its manifest is not at hand),
    "heavy" (fans out a heavy tool or a local command) or "light" (fans out a quick tool)."""
    hid = str(hook.get("id", "?"))
    manifest = repo.manifest or {}
    merged = {**manifest.get(hid, {}), **hook}
    if repo.url != "local" and hid not in manifest and "require_serial" not in hook:
        return "serial" if "seq-hooks" in repo.url or hid in OUR_HOOK_IDS else "unknown"
    if merged.get("require_serial") is True or merged.get("pass_filenames") is False:
        return "serial"
    if hid in OUR_HOOK_IDS or _tool(merged) in (*OUR_HOOK_IDS, "seq-hooks"):
        return "serial"
    return "heavy" if repo.url == "local" or _words(merged) & HEAVY else "light"


def _fans_out(repo: Repo, hook: Hook) -> Finding:
    hid = str(hook.get("id", "?"))
    merged = {**(repo.manifest or {}).get(hid, {}), **hook}
    where = "local hook" if repo.url == "local" else f"hook from {repo.url}"
    return Finding(
        PROBLEM,
        TOPIC,
        f"{where} {hid!r} fans out: pre-commit starts one `{_tool(merged) or hid}` per CPU, each "
        "with a "
        "share of the files",
        f"add `require_serial: true` to it in .pre-commit-config.yaml, or use seq-hooks' "
        f"{_suggest(merged)} (one unit at a time through the lock)",
    )


def fan_out(scene: Scene) -> list[Finding]:
    path = os.path.join(scene.root, ".pre-commit-config.yaml")
    try:
        repos = read_config(path)
    except ValueError as e:
        return [Finding(PROBLEM, TOPIC, f"{path}: {e}", "fix the file (pre-commit cannot read it)")]
    if repos is None:
        return [Finding(INFO, TOPIC, "no .pre-commit-config.yaml in the project")]
    out: list[Finding] = []
    seen: dict[str, list[str]] = {"serial": [], "unknown": [], "light": []}
    for repo in repos:
        for hook in repo.hooks if repo.url != "meta" else []:
            kind = classify(repo, hook)
            if kind == "heavy":
                out.append(_fans_out(repo, hook))
            else:
                seen[kind].append(str(hook.get("id", "?")))
    if seen["light"]:
        out.append(
            Finding(
                INFO,
                TOPIC,
                f"light hooks that fan out over the CPUs: {', '.join(seen['light'])} "
                "(harmless for quick tools; add `require_serial: true` to keep them on one "
                "CPU)",
            )
        )
    if seen["unknown"]:
        out.append(
            Finding(
                INFO,
                TOPIC,
                f"not checked (hook repo not in pre-commit's cache; `pre-commit "
                f"install-hooks` fetches it): {', '.join(seen['unknown'])}",
            )
        )
    if not any(f.level == PROBLEM for f in out):
        out.insert(
            0, Finding(OK, TOPIC, f"no heavy hook fans out ({len(seen['serial'])} run serially)")
        )
    return out
