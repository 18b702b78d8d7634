"""Where a project's state lives: the git common dir (shared by every worktree), made safely."""
from __future__ import annotations

import os
import stat

from seq_hooks import envnames
from seq_hooks.errors import FatalError, UsageError
from seq_hooks.records import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping


class Project(NamedTuple):
    root: str  # the worktree's top directory, or the working directory outside git
    common_dir: str | None  # git's common dir (all worktrees share it); None outside git
    git_dir: str | None  # this worktree's git dir


def _read_gitdir_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            line = f.readline().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    target = line[len("gitdir:") :].strip()
    return os.path.normpath(os.path.join(os.path.dirname(path), target))


def _common_dir(git_dir: str, env: Mapping[str, str]) -> str:
    common = env.get("GIT_COMMON_DIR")
    if common:
        return os.path.realpath(common)
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            rel = f.read().strip()
    except OSError:
        return os.path.realpath(git_dir)
    return os.path.realpath(os.path.join(git_dir, rel))


def find(cwd: str | None = None, env: Mapping[str, str] | None = None) -> Project:
    """Finds the git repository around `cwd` the way git does, without spawning git (it is on the
    hot path). `env`: the environment of the process working there (default ours), for GIT_DIR and
    friends."""
    env = os.environ if env is None else env
    here = os.path.realpath(cwd or os.getcwd())
    env_dir = env.get("GIT_DIR")
    if env_dir:
        git_dir = os.path.realpath(os.path.join(here, env_dir))
        root = env.get("GIT_WORK_TREE") or here
        return Project(os.path.realpath(root), _common_dir(git_dir, env), git_dir)
    ceilings = _ceilings(env)
    d = here
    while True:
        dot = os.path.join(d, ".git")
        if os.path.isdir(dot):
            return Project(d, _common_dir(dot, env), dot)
        if os.path.isfile(dot):
            linked = _read_gitdir_file(dot)
            if linked:
                return Project(d, _common_dir(linked, env), linked)
        # a bare repository, or inside a .git directory: the git dir is its own root
        if _is_git_dir(d):
            return Project(d, _common_dir(d, env), d)
        parent = os.path.dirname(d)
        # as git: never up into a GIT_CEILING_DIRECTORIES entry
        if parent == d or parent in ceilings:
            return Project(here, None, None)
        d = parent


def _ceilings(env: Mapping[str, str]) -> frozenset[str]:
    """GIT_CEILING_DIRECTORIES: absolute paths, separated by ':' (an empty entry is only a
    marker)."""
    return frozenset(
        os.path.realpath(p)
        for p in env.get("GIT_CEILING_DIRECTORIES", "").split(":")
        if os.path.isabs(p)
    )


def _is_git_dir(d: str) -> bool:
    """As git decides it: HEAD, and an objects and a refs directory (or a commondir file naming
    them)."""
    return os.path.isfile(os.path.join(d, "HEAD")) and (
        os.path.isfile(os.path.join(d, "commondir"))
        or (os.path.isdir(os.path.join(d, "objects")) and os.path.isdir(os.path.join(d, "refs"))))


def _others_can_rename(st: os.stat_result) -> bool:
    """Whether another user could rename or replace entries of a directory with this stat: its owner
    if that is not us (or root), anyone when it is world-writable, a group with other members when
    group-writable; the sticky bit keeps others from moving what is ours."""
    if st.st_uid not in (os.geteuid(), 0):
        return True
    if st.st_mode & stat.S_ISVTX:
        return False
    return bool(st.st_mode & 0o002) or (bool(st.st_mode & 0o020) and _group_has_others(st.st_gid))


def _group_has_others(gid: int) -> bool:
    import grp  # only for a state dir that others may write to
    import pwd  # only for a state dir that others may write to

    me = os.geteuid()
    try:
        members = grp.getgrgid(gid).gr_mem
        names = {pwd.getpwuid(me).pw_name}
    except KeyError:
        return True  # a group or user unknown to this machine's databases: assume the worst
    return any(m not in names for m in members) or any(
        p.pw_gid == gid and p.pw_uid != me for p in pwd.getpwall()
    )


def _make_parents(path: str, what: str) -> None:
    """Makes the missing directories of `path`, each mode 0700 (os.makedirs gives the mode to the
    last only)."""
    missing = []
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    for d in reversed(missing):
        try:
            os.mkdir(d, MADE_MODE)
        except FileExistsError:
            pass
        except OSError as e:
            raise FatalError(f"cannot create {what} {d}: {e.strerror}") from None


STATE_NAME = "seq-hooks"  # the state dir's name in git's common dir and in the user's state dir
MADE_MODE = 0o700  # the mode of every directory seq-hooks makes
KEEPS_WHAT_IT_FINDS = "seq-hooks changes no directory it did not make (not even its mode)"


def ensure_private_dir(path: str, what: str = "the state directory") -> str:
    """Creates `path` mode 0700 (and its missing parents), or checks an existing one: a real
    directory, ours, that no other user can rename entries in. An existing directory is never
    changed (not even its mode). `what` names it in an error."""
    path = path.rstrip(os.sep) or os.sep  # "link/" would resolve the link
    try:
        os.mkdir(path, MADE_MODE)
    except FileExistsError:
        pass
    except FileNotFoundError:
        _make_parents(os.path.dirname(path), what)
        return ensure_private_dir(path, what)
    except OSError as e:
        raise FatalError(f"cannot create {what} {path}: {e.strerror}") from None
    why = refusal(path, os.lstat(path), what)
    if why is not None:
        raise FatalError(why)
    return path


def refusal(path: str, st: os.stat_result, what: str = "the state directory") -> str | None:
    """The rule for a directory seq-hooks finds in its place (`st`: its lstat): why it is refused,
    None when it is used as it is. Doctor says the same sentence."""
    if stat.S_ISLNK(st.st_mode):
        return f"refusing {what} {path}: it is a symlink (remove it; seq-hooks makes a new one)"
    if not stat.S_ISDIR(st.st_mode):
        return f"refusing {what} {path}: it is not a directory"
    if st.st_uid != os.geteuid():
        return f"refusing {what} {path}: it belongs to uid {st.st_uid}, not to you"
    if _others_can_rename(st):
        return (
            f"refusing {what} {path}: other users may write to it (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); "
            f"{KEEPS_WHAT_IT_FINDS}: remove their write permission, or name another"
        )
    return None


def user_state_base() -> str:
    """The user's own state dir: $XDG_STATE_HOME (when absolute, as the XDG spec says), else
    ~/.local/state. A relative HOME (`HOME=.` in a CI step) is refused as a relative SEQ_HOOKS_HOME
    is: every working directory would have queues of its own, and units in two of them would
    overlap."""
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, STATE_NAME)
    home = os.path.expanduser("~")
    if not os.path.isabs(home):
        raise UsageError(
            f"HOME must be an absolute path to find the state directory, got {home!r} (or set "
            f"{envnames.HOME} or XDG_STATE_HOME to an absolute path)"
        )
    return os.path.join(home, ".local", "state", STATE_NAME)


def state_path(project: Project, scope: str = "project") -> str:
    """Where the state lives: `$SEQ_HOOKS_HOME`, `<common-dir>/seq-hooks`, or the user's XDG state
    dir (keyed by the repository when others may write to its common dir, by the directory outside
    git, or one for all projects with scope "machine"). Computes only; creates nothing."""
    override = os.environ.get(envnames.HOME)
    if override:
        if not os.path.isabs(override):
            raise UsageError(f"SEQ_HOOKS_HOME must be an absolute path, got {override!r}")
        return override.rstrip(os.sep) or os.sep
    if scope == "machine":
        return os.path.join(user_state_base(), "machine")
    if project.common_dir is not None and not shared(project.common_dir):
        return os.path.join(project.common_dir, STATE_NAME)
    import hashlib  # only outside git or in a shared repository: off the hot path

    where, kind = (
        (project.common_dir, "repos") if project.common_dir is not None else (project.root, "dirs")
    )
    key = hashlib.sha256(where.encode()).hexdigest()[:16]
    return os.path.join(
        user_state_base(), kind, f"{os.path.basename(project.root) or 'root'}-{key}"
    )


def shared(common_dir: str) -> bool:
    """A repository other users may change (a group-shared `.git`, or someone else's): our state
    there could be moved or pre-empted by them, so it goes to our own state dir, keyed by the
    repository (docs/design.md, "State is hostile input"). Users of one shared repository then each
    have their own queues."""
    try:
        return _others_can_rename(os.stat(common_dir))
    except OSError:
        return False


def state_dir(project: Project, scope: str = "project") -> str:
    """The private state directory (see `state_path`), created mode 0700 or checked."""
    return ensure_private_dir(state_path(project, scope))


def open_private(path: str, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """Opens a file in the state dir without following a planted symlink."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise FatalError(f"cannot open {path}: {e.strerror}") from None
