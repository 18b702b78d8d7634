"""The pre-commit hooks: one console script per hook id, all through the shared atomic runner."""
from __future__ import annotations

import sys

from seq_hooks.entry import unsupported_platform
from seq_hooks.errors import INTERNAL

# the hook modules import POSIX-only modules (fcntl) at once: say why before that fails with a
# traceback
if (_why := unsupported_platform()) is not None:
    sys.stderr.write(f"seq-hooks: {_why}\n")
    raise SystemExit(INTERNAL)
