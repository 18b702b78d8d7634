"""Text for terminals: durations, sizes, safe command lines, widths and whether to use colour."""
from __future__ import annotations

import os
import shlex
import time

from seq_hooks.records import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO

_CONTROL: dict[int, str] = dict.fromkeys(
    [*range(32), 127, *range(128, 160), *range(0xD800, 0xE000)], "?"
)
# a byte that was not UTF-8 (a surrogate escape, os.fsdecode's way) is shown as \xNN: never sent raw
# (0x9b is the C1 control CSI), and the name stays recognisable
_CONTROL.update((0xDC00 + b, f"\\x{b:02x}") for b in range(128, 256))


def seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 10:
        return f"{s:.2f}s"
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def clean(text: str) -> str:
    """Control characters replaced: a command line may hold escape sequences that would drive the
    terminal; bytes that were not UTF-8 shown as \\xNN."""
    return text.translate(_CONTROL)


def command(argv: object) -> str:
    if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
        return clean(shlex.join(argv))
    return clean(str(argv))


def clock(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def fit(text: str, width: int) -> str:
    """Cut to `width` characters, marking the cut; a narrow terminal must never wrap a line."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[: max(width, 0)]
    return text[: width - 1] + "…"


def fit_parts(parts: list[tuple[str, str]], width: int, colour: bool) -> str:
    """Joins (text, SGR code) pieces cut to `width` visible characters, painting after cutting."""
    out = []
    left = width
    for i, (text, code) in enumerate(parts):
        if left <= 0:
            break
        rest = sum(len(t) for t, _ in parts[i + 1 :])
        piece = text if len(text) + rest <= left else fit(text, left) if len(text) >= left else text
        out.append(paint(piece, code, colour))
        left -= len(piece)
    return "".join(out)


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal and only without NO_COLOR (https://no-color.org: any non-empty
    value)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, code: str, on: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if on and code else text
