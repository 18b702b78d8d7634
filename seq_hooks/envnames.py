"""The environment variables seq-hooks sets for its commands or reads as switches: one owner for
each name.

The settings' own variables (SEQ_HOOKS_TIMEOUT and the guides' names) belong to their settings in
config.py.
"""
from __future__ import annotations

# <token>: every supervised tree carries its run's token (how leftovers are found)
RUN = "SEQ_HOOKS_RUN"
# <lock id>:<pid>:<token>,...: the locks the command's ancestors hold (markers)
HOLDER = "SEQ_HOOKS_HOLDER"
# <token>: a resident daemon seq-hooks started (daemons/): no unit's tree holds it
DAEMON = "SEQ_HOOKS_DAEMON"
DEADLINE = "SEQ_HOOKS_DEADLINE"  # <epoch s>: the pipeline's deadline; nested runs never outlive it
HOME = "SEQ_HOOKS_HOME"  # the state directory, instead of <git common dir>/seq-hooks
DEBUG = "SEQ_HOOKS_DEBUG"  # 1: an internal error prints its traceback
# 1: psutil instead of /proc (tests the other platforms' path on Linux)
PORTABLE = "SEQ_HOOKS_PORTABLE"
NO_SUBREAPER = "SEQ_HOOKS_NO_SUBREAPER"  # 1: no subreaper (tests the marker scan that replaces it)
