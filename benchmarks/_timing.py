"""Timing shared by the benchmark scripts: ratios come from interleaved repeats in one run.

Import it from a script run as ``python benchmarks/<script>.py`` (its folder is on
``sys.path``): ``from _timing import interleaved_medians``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_medians(
    steps: dict[str, Callable[[], object]], repeats: int, warmup: int = 3
) -> dict[str, float]:
    """Median seconds per call of each step, timing the candidates in turn so that load spikes hit all."""
    for step in steps.values():  # warm-up: allocator, thread pool, first-call dispatch, caches
        for _ in range(warmup):
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}
