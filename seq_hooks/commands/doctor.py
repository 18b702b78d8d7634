"""`seq-hooks doctor`: checks the setup and the machine, and says how to fix each problem found.

The guides' ensure-sequential.sh, done properly: it changes nothing (its `chmod` and hook rewriting are the
job of `install-git-hook` and `clean`), reads the queue without taking it, and finds leftover processes by run
token only. Exit 0 when healthy, 1 when any problem was found.
"""
from __future__ import annotations

import os
import re
import stat
import sys
from typing import Any, NamedTuple

from seq_hooks import config, display, leftovers, logfile, machine, proctree, project
from seq_hooks.config import Settings
from seq_hooks.errors import FAILED, OK, FatalError, UsageError
from seq_hooks.options import Option, parse

OPTIONS: tuple[Option, ...] = ()
SUMMARY = ("Check the configuration, the state directory, stale queue entries, leftover processes of dead runs, "
           "the git hook, the pre-commit configuration, memory enforcement and the guides' environment "
           "variables. Changes nothing; exit 1 when something needs fixing.")

OK_, INFO, PROBLEM = "ok", "info", "problem"
OUR_HOOK_IDS = ("atomic", "atomic-ruff", "atomic-ruff-format", "atomic-mypy", "atomic-pytest", "git-safe")
# tools whose processes each take hundreds of MB or minutes: fanned out over every CPU they drown a machine
HEAVY = frozenset({"pytest", "py.test", "mypy", "dmypy", "pylint", "pyright", "basedpyright", "pytype", "tox", "nox",
                   "coverage", "sphinx-build", "bandit", "semgrep", "eslint", "tsc", "jest", "vitest", "cargo",
                   "go", "mvn", "gradle", "make"})
GUIDE_NAMES = ("TIMEOUT", "MEMORY_LIMIT_MB", "PIPELINE_TIMEOUT", "CHECK_INTERVAL")
_MEANING = {
    "timeout": "seconds a unit may run before its whole tree is killed (exit 124)",
    "memory_limit_mb": "MB of resident memory for a unit's whole process tree (the guides counted one process)",
    "pipeline_timeout": "seconds for an outermost lock holder and everything nested in it",
    "check_interval": "longest gap between memory samples; `seq-hooks run` samples at least every 0.25 s "
                      "(the guides' 5 s let a fast allocation overshoot by gigabytes)",
}


class Finding(NamedTuple):
    level: str  # ok, info, problem
    topic: str
    text: str
    fix: str = ""


# configuration, state dir ---------------------------------------------------------------------------------

def check_config(root: str) -> tuple[Settings, list[Finding]]:
    try:
        settings = config.load(root)
    except UsageError as e:
        return Settings(), [Finding(PROBLEM, "configuration", e.message,
                                    "correct it: every seq-hooks command refuses to run until then")]
    if settings.source != "defaults":
        text = f"{settings.source}: [tool.seq-hooks] parses"
    else:
        text = "defaults (no [tool.seq-hooks] in pyproject.toml)"
    return settings, [Finding(OK_, "configuration", text)]


def check_state_dir(path: str) -> tuple[bool, list[Finding]]:
    """(usable, findings): whether the queue in it may be read."""
    topic = "state dir"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False, [Finding(INFO, topic, f"{path} does not exist yet (the first run makes it, mode 0700)")]
    except OSError as e:
        return False, [Finding(PROBLEM, topic, f"{path}: {e.strerror}", "check the path and its parents")]
    if stat.S_ISLNK(st.st_mode):
        return False, [Finding(PROBLEM, topic, f"{path} is a symlink: seq-hooks refuses it",
                               f"remove it (rm {path}); the next run makes a private directory")]
    if not stat.S_ISDIR(st.st_mode):
        return False, [Finding(PROBLEM, topic, f"{path} is not a directory", f"remove it (rm {path})")]
    if st.st_uid != os.geteuid():
        return False, [Finding(PROBLEM, topic, f"{path} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()})",
                               "remove it as its owner, or set SEQ_HOOKS_HOME to a directory of yours")]
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        return True, [Finding(PROBLEM, topic, f"{path} has mode {mode:04o}: others can read the queue and the logs",
                              f"chmod 700 {path} (the next run also does it)")]
    if not os.access(path, os.W_OK | os.X_OK):
        return False, [Finding(PROBLEM, topic, f"{path} is not writable", f"chmod u+rwx {path}")]
    return True, [Finding(OK_, topic, f"{path}: yours, mode {mode:04o}")]


def check_logs(settings: Settings, state: str, root: str) -> list[Finding]:
    log_dir = logfile.log_dir(settings, state, root)
    names = logfile.logs(log_dir)
    size = 0
    for n in names:
        try:
            size += os.stat(os.path.join(log_dir, n)).st_size
        except OSError:
            pass
    keep = f"keep_logs {settings.keep_logs or 'unlimited'}, keep_logs_mb {settings.keep_logs_mb or 'unlimited'}"
    return [Finding(OK_, "logs", f"{len(names)} run logs, {size / 1048576:.1f} MB in {log_dir} ({keep})")]


# stale queue entries, leftover processes -------------------------------------------------------------------

def check_leftovers(state: str, log_dir: str) -> list[Finding]:
    stale, found, untouched = leftovers.find(state, log_dir)
    out = []
    for s in stale:
        t = s.ticket
        name = os.path.basename(s.path)
        what = f"pid {t.pid} ({display.fit(display.command(t.argv), 60)})" if t else "unreadable"
        held = " while holding the lock" if t is not None and t.granted is not None else " while waiting"
        out.append(Finding(PROBLEM, "stale ticket",
                           f"lock {s.lock_id}: {name}, {what}, is dead: it died{held if t else ''}",
                           "seq-hooks clean (the next caller of that lock also removes it)"))
    for lo in found:
        procs = ", ".join(f"{pid} ({display.fit(display.clean(proctree.cmdline(pid)), 50)})" for pid in lo.pids)
        out.append(Finding(PROBLEM, "leftover processes",
                           f"run {lo.token[:12]}: {lo.why}; still running: pid {procs}",
                           "seq-hooks clean (ends them by their run token, TERM then KILL)"))
    for u in untouched:
        out.append(Finding(INFO, "unknown run",
                           f"pid {', '.join(map(str, u.pids))} carry run {u.token[:12]}, which has no ticket and no "
                           f"journal record; they hang under live pid {u.parent}, so it is most likely a "
                           "`--no-lock` run in progress: left alone"))
    if not out:
        out.append(Finding(OK_, "queues", "no stale tickets, no leftover processes of dead runs"))
    return out


# git hook --------------------------------------------------------------------------------------------------

def check_git_hook(root: str) -> list[Finding]:
    from seq_hooks import githook

    try:
        loc = githook.locate(root)
    except FatalError as e:
        return [Finding(INFO, "git hook", f"not checked: {e.message}")]
    where = loc.hooks_dir + (f" (core.hooksPath {loc.hooks_path})" if loc.hooks_path else "")
    states = githook.installed(loc)
    if not states:
        return [Finding(INFO, "git hook", f"not installed in {where}: commits run their hooks outside the lock",
                        "seq-hooks install-git-hook (optional: the atomic-* hooks queue on their own)")]
    out = []
    for h in states:
        if h.state == "moved":
            out.append(Finding(PROBLEM, "git hook",
                               f"{h.hook_type}: `pre-commit install` moved ours to {h.hook_type}.legacy, so "
                               "pre-commit's hooks run outside the lock", "seq-hooks install-git-hook"))
        elif not os.access(h.path, os.X_OK):
            out.append(Finding(PROBLEM, "git hook", f"{h.path} is ours but not executable: git skips it",
                               f"chmod +x {h.path}"))
        else:
            out.append(Finding(OK_, "git hook", f"{h.hook_type}: ours, in {where}"))
    return out


# pre-commit configuration ----------------------------------------------------------------------------------

def _scalar(raw: str) -> Any:
    v = raw.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    low = v.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    return v


_ITEM = re.compile(r"(-\s+)?([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$")


def parse_text(text: str) -> dict[str, Any]:
    """A best-effort reading of the block-style YAML that pre-commit files use, for when PyYAML is absent:
    {"repos": [{"repo", "rev", "hooks": [{key: scalar}]}]} for a config, {"hooks": [...]} for a manifest.
    Nested values (args lists, flow lists) are skipped or kept as text; only the scalars matter here."""
    top: list[dict[str, Any]] = []
    repos_mode = False
    item: dict[str, Any] | None = None
    item_dash = item_col = -1
    hook: dict[str, Any] | None = None
    hook_dash = hook_col = -1
    hooks_at: int | None = None  # column of the current repo's `hooks:` key
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        body = line.lstrip()
        m = _ITEM.match(body)
        if m is None:
            continue
        col = len(line) - len(body)
        key, value = m.group(2), _scalar(m.group(3) or "")
        if m.group(1) is not None:
            if item is not None and hooks_at is not None and col >= hooks_at and (hook is None or col == hook_dash):
                hook = {key: value}
                item["hooks"].append(hook)
                hook_dash, hook_col = col, col + len(m.group(1))
            elif item is None or col == item_dash:
                item = {key: value}
                top.append(item)
                item_dash, item_col = col, col + len(m.group(1))
                hook, hooks_at = None, None
            continue
        if hook is not None and col == hook_col:
            hook[key] = value
        elif item is not None and col == item_col:
            item[key] = [] if key == "hooks" else value
            hook = None
            hooks_at = col if repos_mode and key == "hooks" else None
        elif col == 0 and key == "repos":
            repos_mode = True
    return {"repos": top} if repos_mode else {"hooks": top}


def load_yaml(text: str) -> tuple[Any, bool]:
    """(document, exact): PyYAML when installed (pre-commit brings it; it is not our dependency), else text."""
    import importlib

    try:
        yaml: Any = importlib.import_module("yaml")  # untyped, and not ours to require
    except ImportError:
        return parse_text(text), False
    try:
        return yaml.safe_load(text), True
    except yaml.YAMLError as e:
        raise ValueError(str(e).splitlines()[0]) from None


def _pre_commit_cache_manifest(repo: str, rev: str) -> str | None:
    """The hook repo's .pre-commit-hooks.yaml from pre-commit's cache, when pre-commit has cloned it."""
    home = os.environ.get("PRE_COMMIT_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "pre-commit")
    db = os.path.join(home, "db.db")
    if not os.path.isfile(db):
        return None
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
        try:
            row = conn.execute("SELECT path FROM repos WHERE repo = ? AND ref = ?", (repo, rev)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if not row:
        return None
    try:
        with open(os.path.join(row[0], ".pre-commit-hooks.yaml"), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _tool(hook: dict[str, Any]) -> str:
    entry = str(hook.get("entry") or "")
    first = entry.split(maxsplit=1)[0] if entry.strip() else ""
    return os.path.basename(first)


def _is_heavy(hook: dict[str, Any]) -> bool:
    return bool(_words(hook) & HEAVY)


def _wrapped(hook: dict[str, Any]) -> bool:
    """Our own hooks, or an entry that goes through our queue."""
    return str(hook.get("id")) in OUR_HOOK_IDS or _tool(hook) in (*OUR_HOOK_IDS, "seq-hooks")


def check_pre_commit(root: str) -> list[Finding]:
    path = os.path.join(root, ".pre-commit-config.yaml")
    topic = "pre-commit"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return [Finding(INFO, topic, "no .pre-commit-config.yaml in the project")]
    except (OSError, UnicodeDecodeError) as e:
        return [Finding(PROBLEM, topic, f"{path}: cannot read: {e}", "fix the file")]
    try:
        doc, exact = load_yaml(text)
    except ValueError as e:
        return [Finding(PROBLEM, topic, f"{path}: not valid YAML: {e}", "fix the file (pre-commit cannot read it)")]
    how = "parsed with PyYAML" if exact else "PyYAML is not installed: read as text, best effort"
    repos = doc.get("repos") if isinstance(doc, dict) else None
    if not isinstance(repos, list):
        return [Finding(PROBLEM, topic, f"{path} has no `repos:` list ({how})", "fix the file")]
    out: list[Finding] = []
    light: list[str] = []
    unknown: list[str] = []
    serial = 0
    for repo in repos:
        if not isinstance(repo, dict):
            continue
        url = str(repo.get("repo", ""))
        manifest: dict[str, dict[str, Any]] = {}
        if url not in ("local", "meta"):
            raw = _pre_commit_cache_manifest(url, str(repo.get("rev", "")))
            if raw is not None:
                try:
                    listed, _ = load_yaml(raw)
                except ValueError:
                    listed = None
                items = listed.get("hooks") if isinstance(listed, dict) else listed
                if isinstance(items, list):
                    manifest = {str(h.get("id")): h for h in items if isinstance(h, dict)}
        for hook in repo.get("hooks") or []:
            if not isinstance(hook, dict) or url == "meta":
                continue
            hid = str(hook.get("id", "?"))
            merged = {**manifest.get(hid, {}), **hook}
            if url not in ("local",) and hid not in manifest and "require_serial" not in hook:
                if "seq-hooks" in url or hid in OUR_HOOK_IDS:
                    serial += 1
                else:
                    unknown.append(hid)
                continue
            if merged.get("require_serial") is True or merged.get("pass_filenames") is False:
                serial += 1
                continue
            if _wrapped(merged):
                serial += 1
                continue
            if url == "local" or _is_heavy(merged):
                where = "local hook" if url == "local" else f"hook from {url}"
                out.append(Finding(
                    PROBLEM, topic,
                    f"{where} {hid!r} fans out: pre-commit starts one `{_tool(merged) or hid}` per CPU, each with a "
                    f"share of the files",
                    f"add `require_serial: true` to it in .pre-commit-config.yaml, or use seq-hooks' "
                    f"{_suggest(merged)} (one unit at a time through the lock)"))
            else:
                light.append(hid)
    if light:
        out.append(Finding(INFO, topic, f"light hooks that fan out over the CPUs: {', '.join(light)} (harmless "
                                        "for quick tools; add `require_serial: true` to keep them on one CPU)"))
    if unknown:
        out.append(Finding(INFO, topic, f"not checked (hook repo not in pre-commit's cache; `pre-commit "
                                        f"install-hooks` fetches it): {', '.join(unknown)}"))
    if not any(f.level == PROBLEM for f in out):
        out.insert(0, Finding(OK_, topic, f"no heavy hook fans out ({serial} run serially; {how})"))
    else:
        out.append(Finding(INFO, topic, how))
    return out


def _words(hook: dict[str, Any]) -> set[str]:
    """The hook id and the first words of its entry (`uv run pytest` is pytest)."""
    entry = str(hook.get("entry") or "").split()
    return {str(hook.get("id", "")), *(os.path.basename(w) for w in entry[:3])}


def _suggest(hook: dict[str, Any]) -> str:
    words = _words(hook)
    if "py.test" in words:
        words.add("pytest")
    for tool in ("mypy", "pytest", "ruff"):
        if tool in words:
            return f"atomic-{tool}"
    return f"`atomic -- {_tool(hook) or 'TOOL'}`"


# memory enforcement ----------------------------------------------------------------------------------------

def memory_enforcement() -> list[str]:
    """What the machine offers for a kernel-enforced memory limit, one sentence each."""
    offers = []
    paths = machine.cgroup_paths()
    for point, fstype, opts in machine.mounts():
        if fstype == "cgroup2" and "" in paths:
            d = os.path.normpath(point + paths[""])
            try:
                with open(os.path.join(d, "cgroup.controllers"), encoding="utf-8") as f:
                    controllers = f.read().split()
            except OSError:
                controllers = []
            if "memory" in controllers and os.access(d, os.W_OK):
                offers.append(f"cgroup v2 at {d}: memory controller delegated to you (kernel limit possible)")
            elif "memory" in controllers:
                offers.append(f"cgroup v2 at {d}: memory controller present, not writable by you")
            else:
                offers.append(f"cgroup v2 at {point}: no memory controller in your group")
        elif fstype == "cgroup" and "memory" in opts.split(",") and "memory" in paths:
            d = os.path.normpath(point + paths["memory"])
            writable = os.access(d, os.W_OK)
            offers.append(f"cgroup v1 memory at {d}: {'writable (kernel limit possible)' if writable else 'read-only'}")
    return offers


def check_memory(settings: Settings) -> list[Finding]:
    sampler = "/proc" if proctree.use_proc() else "psutil"
    limit = f"{settings.memory_limit_mb} MB per unit" if settings.memory_limit_mb else "no memory limit (0)"
    offers = memory_enforcement() or ["no cgroup memory controller found"]
    return [Finding(INFO, "memory", f"{limit}, enforced by sampling the whole tree from {sampler} (adaptive, "
                                    f"at least every 0.25 s); the machine offers: {'; '.join(offers)}")]


# environment -----------------------------------------------------------------------------------------------

def _env_file_names(root: str) -> list[str]:
    path = os.path.join(root, ".env.development")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found = []
    for line in lines:
        m = re.match(r"\s*(?:export\s+)?([A-Z_]+)\s*=", line)
        if m and m.group(1) in GUIDE_NAMES:
            found.append(m.group(1))
    return found


def check_environment(root: str) -> list[Finding]:
    out = []
    for key, names in config.ENV_NAMES.items():
        set_names = [n for n in names if os.environ.get(n, "").strip()]
        for name in set_names:
            value = os.environ[name].strip()
            try:
                config.from_env({name: value})
            except UsageError as e:
                out.append(Finding(PROBLEM, "environment", e.message, f"unset {name} or give it a number"))
                continue
            if name != set_names[0]:
                out.append(Finding(INFO, "environment", f"{name}={value} is ignored: {set_names[0]} wins"))
            elif name in GUIDE_NAMES or name.startswith("SEQ_HOOKS_"):
                origin = " (the guides' name, honoured as a fallback)" if name in GUIDE_NAMES else ""
                meaning = _MEANING.get(key, key)
                out.append(Finding(INFO, "environment", f"{name}={value}{origin} -> {key} = {value}: {meaning}"))
    in_file = _env_file_names(root)
    if in_file:
        out.append(Finding(INFO, "environment",
                           f".env.development sets {', '.join(in_file)}: seq-hooks reads the environment, not this "
                           "file; export them, or put them in [tool.seq-hooks] of pyproject.toml"))
    if not out:
        out.append(Finding(INFO, "environment", f"none of the guides' variables ({', '.join(GUIDE_NAMES)}) is set"))
    return out


# report ----------------------------------------------------------------------------------------------------

def run_checks() -> tuple[str, list[Finding]]:
    proj = project.find()
    settings, findings = check_config(proj.root)
    try:
        state = project.state_path(proj, settings.scope)
    except UsageError as e:
        state = ""
        usable, state_findings = False, [Finding(PROBLEM, "state dir", f"{e.message}: every seq-hooks command "
                                                 "refuses it", "give a full path")]
    else:
        usable, state_findings = check_state_dir(state)
    findings += state_findings
    if usable:
        findings += check_logs(settings, state, proj.root)
        findings += check_leftovers(state, logfile.log_dir(settings, state, proj.root))
    findings += check_git_hook(proj.root)
    findings += check_pre_commit(proj.root)
    findings += check_memory(settings)
    findings += check_environment(proj.root)
    return proj.root, findings


def render(root: str, findings: list[Finding], colour: bool) -> str:
    codes = {OK_: "32", INFO: "2", PROBLEM: "31;1"}
    width = max(len(f.topic) for f in findings)
    lines = [f"seq-hooks doctor: {root}"]
    for f in findings:
        label = display.paint(f"{f.level.upper() if f.level == PROBLEM else f.level:<8}", codes[f.level], colour)
        lines.append(f"  {label} {f.topic:<{width}}  {f.text}")
        if f.fix:
            lines.append(f"  {'':<8} {'':<{width}}  fix: {f.fix}")
    problems = sum(1 for f in findings if f.level == PROBLEM)
    lines.append(f"{problems} problem{'s' if problems != 1 else ''} found" if problems else "healthy")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parse(argv, OPTIONS, prog="seq-hooks doctor", usage="", summary=SUMMARY)
    root, findings = run_checks()
    sys.stdout.write(render(root, findings, display.use_colour(sys.stdout)))
    return FAILED if any(f.level == PROBLEM for f in findings) else OK
