"""sizes: the one megabyte and the one way to write a size."""
from __future__ import annotations

import pytest

from seq_hooks import sizes


@pytest.mark.parametrize(
    ("mb", "text"), [(None, "-"), (1.25, "1.2 MB"), (10239, "10239.0 MB"), (20480, "20.0 GB")]
)
def test_megabytes(mb: float | None, text: str) -> None:
    assert sizes.megabytes(mb) == text


def test_a_megabyte_is_what_the_kernel_counts() -> None:
    assert sizes.MB == 1024 * 1024
