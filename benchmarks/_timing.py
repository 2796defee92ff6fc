"""Timing and command line shared by the benchmark scripts: ratios come from interleaved repeats in one run.

Import it from a script run as ``python benchmarks/<script>.py`` (its folder is on
``sys.path``): ``from _timing import interleaved_medians``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch


def benchmark_parser(doc: str, repeats: int) -> argparse.ArgumentParser:
    """A command line with the options every benchmark takes, ``--repeats`` and ``--threads``.

    ``doc`` is the script's docstring (its first line describes the script); the script
    adds its own options, then calls :func:`parse_benchmark_args`.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=repeats, help="timed repeats per case (the median is taken)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    return parser


def parse_benchmark_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The parsed command line, with ``--threads`` applied to torch before anything is timed."""
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def interleaved_medians(
    steps: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int = 3,
    min_sample_seconds: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds per call of each step, timing the candidates in turn so that load spikes hit all.

    With ``min_sample_seconds``, a cheaper step is timed over enough calls in a row to
    last about that long (judged by its last warm-up call): timed alone right after an
    expensive one, a cheap step would mostly measure a cold cache.  ``clock`` is wall
    time by default; ``time.thread_time`` counts only this thread's CPU time (user and
    system: page faults included), which a step of 30 ms and one of 300 ms lose alike
    to other processes on busy cores, where wall time preempts the longer one more often.
    """
    calls: dict[str, int] = {}
    for name, step in steps.items():  # warm-up: allocator, thread pool, first-call dispatch, caches
        elapsed = math.inf  # without a warm-up, one call per sample
        for _ in range(warmup):
            start = clock()
            step()
            elapsed = clock() - start
        calls[name] = max(1, round(min_sample_seconds / max(elapsed, 1e-6)))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = clock()
            for _ in range(calls[name]):
                step()
            samples[name].append((clock() - start) / calls[name])
    return {name: statistics.median(times) for name, times in samples.items()}
