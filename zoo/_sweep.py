"""Sweeps: a problem's levels over several seeds, in one process or split over ``torchrun`` ranks.

The unit of work is one (seed, level) pair.  Its numbers depend on that pair alone:
the data come from the seed (:func:`~symnn_zoo._problem.make_data`), the level's
initialisation and random draws from :func:`~symnn_zoo._problem.level_seed` of the
pair.  So the units can run in any order and in any process, and a sweep split over
the ranks of ``torchrun`` gives the numbers a serial sweep gives, bit for bit on the
same machine: each rank runs every ``world``-th unit, rank 0 gathers the results
(``torch.distributed.gather_object``: gloo on the CPU, NCCL on GPUs) and alone
writes the report.

Over several seeds, every number of a level becomes a :class:`Spread`: a float that
is the mean over the seeds, compares as the mean (so a problem's findings, written
for one run, are judged on the means unchanged) and prints as ``mean ± std``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ._problem import Evaluation, LevelResult, Problem, RunResult, assemble, make_data, run_level
from ._training import History

__all__ = ["Spread", "Ranks", "aggregate", "run_sweep", "init_ranks"]

#: How long a rank waits for the others at the gather: a rank that finished its
#: share waits there while the others train (hours in the full setting).
GATHER_TIMEOUT = timedelta(days=7)


class Spread(float):
    """The mean of a number over seeds, which remembers the seeds' values.

    It compares and computes as the mean (a plain ``float``), so a finding written
    for one run is judged on the mean; it formats as ``mean ± std`` with the same
    format for both (``f"{x:.1%}"`` gives ``"12.3% ± 0.4%"``).  ``std`` is the
    sample standard deviation over the seeds (0 for one seed).  Multiplying or
    dividing by a plain number (``100 * x``, ``x / k``) scales the values and keeps
    the spread; any other arithmetic gives a plain float.

    >>> x = Spread([0.1, 0.2, 0.3])
    >>> x > 0.15, f"{x:.2f}", x.min, x.max
    (True, '0.20 ± 0.10', 0.1, 0.3)
    """

    values: tuple[float, ...]

    def __new__(cls, values: Sequence[float]) -> Spread:
        values = tuple(float(v) for v in values)
        if not values:
            raise ValueError("expected at least one value; got none")
        self = super().__new__(cls, float(np.mean(values)))
        self.values = values
        return self

    @property
    def mean(self) -> float:
        return float(self)

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def __format__(self, spec: str) -> str:
        return f"{format(float(self), spec)} ± {format(self.std, spec)}"

    def __repr__(self) -> str:
        return f"{float(self)!r} ± {self.std!r}"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Spread, (self.values,))

    def _scaled(self, factor: Any) -> Any:
        return Spread([v * factor for v in self.values])

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, (int, float)) and not isinstance(other, (bool, Spread)):
            return self._scaled(other)
        return float(self) * (float(other) if isinstance(other, Spread) else other)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Any:
        if isinstance(other, (int, float)) and not isinstance(other, (bool, Spread)) and other != 0:
            return self._scaled(1 / other)
        return float(self) / (float(other) if isinstance(other, Spread) else other)

    def __neg__(self) -> Spread:
        return self._scaled(-1)


def _spread_or_same(values: list[Any]) -> Any:
    """A :class:`Spread` of numbers; anything else kept when the seeds agree, else their list."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return Spread(values)
    return values[0] if all(v == values[0] for v in values) else list(values)


def _mean_level(results: list[LevelResult]) -> LevelResult:
    """One level's results over the seeds, every number a :class:`Spread`."""
    first = results[0]
    evaluations = [r.evaluation for r in results]
    histories = [r.history for r in results]

    def over(dicts: list[dict[str, Any]]) -> dict[str, Any]:
        return {name: _spread_or_same([d.get(name) for d in dicts]) for name in dicts[0]}

    history = History(
        seconds=Spread([h.seconds for h in histories]),
        loss=[Spread(column) for column in zip(*(h.loss for h in histories))],
        monitor_epochs=list(first.history.monitor_epochs),
        monitor_values=[Spread(column) for column in zip(*(h.monitor_values for h in histories))],
        extras=over([h.extras for h in histories]),
    )
    history.alignment = [over(list(column)) for column in zip(*(h.alignment for h in histories))]
    history.alignment_epochs = list(first.history.alignment_epochs[: len(history.alignment)])
    ratios = [r.cost_ratio for r in results]
    return LevelResult(
        first.level,
        Evaluation(
            errors=over([e.errors for e in evaluations]),
            metrics=over([e.metrics for e in evaluations]),
            test_sets=first.evaluation.test_sets,
        ),
        history,
        None if any(r is None for r in ratios) else Spread(ratios),
    )


def aggregate(runs: list[RunResult], seconds: float) -> RunResult:
    """The runs of one problem over several seeds as one run of means (see :class:`Spread`).

    Its findings are the problem's claims judged on the means, each with its verdict
    for every seed alone in ``seed_holds``.
    """
    first = runs[0]
    levels = [_mean_level([run.levels[i] for run in runs]) for i in range(len(first.levels))]
    findings = first.problem.findings({r.level.key: r for r in levels}, first.settings)
    for i, finding in enumerate(findings):
        seed_findings = [run.findings[i] for run in runs]
        if any(f.claim != finding.claim for f in seed_findings):
            raise RuntimeError(f"{first.problem.name}: the findings differ from seed to seed")
        finding.seed_holds = [f.holds for f in seed_findings]
    return replace(first, levels=levels, findings=findings, seconds=seconds, runs=list(runs))


@dataclass(frozen=True)
class Ranks:
    """This process's place in a sweep: its rank among ``world`` processes (1: no torch.distributed)."""

    rank: int = 0
    world: int = 1

    @property
    def leader(self) -> bool:
        """Whether this process gathers the results and writes the report (rank 0)."""
        return self.rank == 0

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj``, in rank order, on rank 0 (None elsewhere)."""
        if self.world == 1:
            return [obj]
        gathered: list[Any] | None = [None] * self.world if self.leader else None
        dist.gather_object(obj, gathered, dst=0)
        return gathered


def init_ranks(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the ``torchrun`` process group when there is one; the ranks and this rank's device.

    Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the group uses NCCL on
    GPUs (each rank on the GPU ``LOCAL_RANK``) and gloo on the CPU; the rendezvous is
    torchrun's (``MASTER_ADDR``, ``MASTER_PORT``).  Otherwise a single process.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Ranks(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=GATHER_TIMEOUT)
    return Ranks(dist.get_rank(), dist.get_world_size()), device


def _portable(result: LevelResult) -> tuple[str, Evaluation, History]:
    """What a rank sends for one level: no model, no build function, tensors on the CPU."""

    def cpu(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.cpu()
        if isinstance(value, dict):
            return {k: cpu(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(cpu(v) for v in value)
        return value

    evaluation = replace(
        result.evaluation,
        figure_data=cpu(result.evaluation.figure_data),
        test_sets={name: test.to(torch.device("cpu")) for name, test in result.evaluation.test_sets.items()},
    )
    return result.level.key, evaluation, result.history


def run_sweep(
    problem: Problem,
    level_keys: Sequence[str],
    *,
    settings: Any,
    seeds: Sequence[int],
    device: torch.device,
    quick: bool,
    progress: bool = True,
    ranks: Ranks | None = None,
) -> RunResult | None:
    """Run ``level_keys`` for every seed; one seed's run, or their :func:`aggregate`.

    The (seed, level) units are dealt to the ranks in turn (unit ``i`` to rank
    ``i % world``); rank 0 gathers every unit's result, puts each seed's levels in
    the ladder's order and returns the run; the other ranks return None.  With one
    seed and one process this is :func:`~symnn_zoo._problem.run_problem`.
    """
    ranks = ranks or Ranks()
    start = time.perf_counter()
    units = [(seed, key) for seed in seeds for key in level_keys]
    done: list[tuple[int, Any]] = []
    data_seed, data = None, None
    for seed, key in units[ranks.rank :: ranks.world]:
        if seed != data_seed:  # units come seed by seed: one data set at a time
            data_seed, data = seed, make_data(problem, settings, seed, device)
        result = run_level(problem, key, data, settings=settings, seed=seed, device=device, progress=progress)
        done.append((seed, result if ranks.world == 1 else _portable(result)))
    gathered = ranks.gather(done)
    if gathered is None:
        return None
    found: dict[tuple[int, str], LevelResult] = {}
    for seed, result in (unit for share in gathered for unit in share):
        if not isinstance(result, LevelResult):
            key, evaluation, history = result
            result = LevelResult(problem.level(key), evaluation, history)
        found[seed, result.level.key] = result
    runs = []
    for seed in seeds:
        seed_data = data if seed == data_seed else None
        if seed == seeds[0] and seed_data is None:  # the problem's own figures draw the first seed's data
            seed_data = make_data(problem, settings, seed, device)
        runs.append(
            assemble(
                problem,
                [found[seed, key] for key in level_keys],
                settings=settings,
                seed=seed,
                device=device,
                quick=quick,
                seconds=time.perf_counter() - start,
                data=seed_data,
            )
        )
    seconds = time.perf_counter() - start
    if len(runs) == 1:
        return replace(runs[0], seconds=seconds)
    return aggregate(runs, seconds)
