"""The usual thread and worker caps of common tools, for units of a project that sets `threads = N`.

Inside one unit a test run or a build may fan out again over every CPU (pytest-xdist's `-n auto`,
OpenMP, BLAS, rayon, `make -j`) behind the queue's back. Each tool reads its own variable; a
variable the user already set is left as it is. An explicit count on a command line (`-n 8`, `make
-j8`) is not reachable from here: `doctor` points out a pytest configuration that has one.
"""
from __future__ import annotations

from collections.abc import Mapping

XDIST_WORKERS = "PYTEST_XDIST_AUTO_NUM_WORKERS"  # the workers pytest-xdist's -n auto starts
# variable -> the tools that read it
CAPS: dict[str, str] = {
    XDIST_WORKERS: "pytest-xdist's -n auto / logical",
    "OMP_NUM_THREADS": "OpenMP (numpy, scipy, torch, scikit-learn)",
    "OPENBLAS_NUM_THREADS": "OpenBLAS",
    "MKL_NUM_THREADS": "Intel MKL",
    "VECLIB_MAXIMUM_THREADS": "Apple Accelerate",
    "NUMEXPR_NUM_THREADS": "numexpr",
    "NUMBA_NUM_THREADS": "numba",
    "POLARS_MAX_THREADS": "polars",
    "LOKY_MAX_CPU_COUNT": "joblib / loky",
    "RAYON_NUM_THREADS": "Rust's rayon (ruff's own fan-out too)",
    "TOKIO_WORKER_THREADS": "Rust's tokio",
    "CARGO_BUILD_JOBS": "cargo build",
    "GOMAXPROCS": "Go programs",
    "CMAKE_BUILD_PARALLEL_LEVEL": "cmake --build",
    "MAKEFLAGS": "make (-jN)",
}


def caps(threads: int, env: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to `env` so that its tools use at most `threads` threads or workers
    each."""
    out = {name: str(threads) for name in CAPS if not env.get(name)}
    if "MAKEFLAGS" in out:
        out["MAKEFLAGS"] = f"-j{threads}"
    return out
