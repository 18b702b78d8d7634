"""Resident tools that seq-hooks starts, records, and stops: today the mypy daemon of `atomic-mypy`.

`record`: the state of each daemon in the state dir (who, where, since when, what it cannot see change);
`mypyd`: starting, using, and giving up on a mypy daemon for one unit; `tend`: what every command may do to the
daemons cheaply (stop idle ones, make room, stop them all); `dmypy_serve`: the daemon's own entry point, run by
the project's interpreter.
"""
