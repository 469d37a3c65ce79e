"""The one timing helper of the benchmark modules."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeats: int, *, warmup: bool = True):
    """Median wall time of ``repeats`` calls (after one untimed warm-up call); returns (median, last result)."""
    result = fn() if warmup else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result
