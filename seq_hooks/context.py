"""Where a command runs: the project around the working directory, its settings and its state
dir."""
from __future__ import annotations

from seq_hooks import config, project, sharedtree
from seq_hooks.config import Settings
from seq_hooks.records import NamedTuple


class Context(NamedTuple):
    project: project.Project
    settings: Settings
    state_dir: str


def load(cwd: str | None = None) -> Context:
    proj = project.find(cwd)
    # the project's own state dir keeps its parsed pyproject.toml, in any scope
    own = project.state_path(proj)
    settings = config.load(proj.root, cache_dir=own)
    if settings.scope == "project":
        state_dir = project.ensure_private_dir(own)
    else:
        state_dir = project.state_dir(proj, settings.scope)
    # a dead commit's stash: one listing (and a flock test per record) to know
    if sharedtree.orphaned(state_dir):
        from seq_hooks.sharedtree import recover  # only for a dead commit's stash

        recover.recover(state_dir)
    return Context(proj, settings, state_dir)
