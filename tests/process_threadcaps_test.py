from __future__ import annotations

from seq_hooks.process import threadcaps


def test_every_cap_is_set_where_not_set() -> None:
    caps = threadcaps.caps(2, {})
    assert caps["OMP_NUM_THREADS"] == "2" and caps["RAYON_NUM_THREADS"] == "2"
    assert caps["PYTEST_XDIST_AUTO_NUM_WORKERS"] == "2" and caps["MAKEFLAGS"] == "-j2"
    assert set(caps) == set(threadcaps.CAPS)


def test_what_the_user_set_stays() -> None:
    caps = threadcaps.caps(1, {"OMP_NUM_THREADS": "8", "MAKEFLAGS": "-k", "RAYON_NUM_THREADS": ""})
    assert "OMP_NUM_THREADS" not in caps and "MAKEFLAGS" not in caps
    assert caps["RAYON_NUM_THREADS"] == "1"  # set but empty counts as not set
