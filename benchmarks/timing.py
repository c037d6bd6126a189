"""Timing shared by the benchmarks that measure in one process."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(run: Callable[[], object], repeat: int) -> float:
    """Best wall time of `repeat` calls of `run` (after one warm-up call, which also warms DuckDB's caches)."""
    run()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
