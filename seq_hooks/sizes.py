"""Memory sizes: the one megabyte and the one way to write a size for people. No imports: the run
path uses it."""
from __future__ import annotations

# bytes in a megabyte as the kernel, psutil and every MB setting of seq-hooks count it (MiB)
MB = 1 << 20


def megabytes(mb: float | None) -> str:
    """12.5 MB, 10.2 GB from 10240 MB on; "-" for unknown."""
    if mb is None:
        return "-"
    return f"{mb / 1024:.1f} GB" if mb >= 10240 else f"{mb:.1f} MB"
