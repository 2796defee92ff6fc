"""Triangle area from its three edge lengths: the lecture's bias ladder.

The lecture's setting: edges uniform in (0.2, 1.0), rejected unless they form a
triangle; 4,000 training triangles; an MLP with three hidden layers of 128 (ReLU:
in a reference run tanh did not converge within 2,000 full-batch epochs); Adam,
2,000 full-batch epochs, MSE.  The learning rate decays along a cosine from 1e-3
to 1e-5, which lets level 0 settle to the lecture's picture (accurate in
distribution, off outside it) instead of ending on a noisy step.

Test sets, each in distribution (edges in (0.2, 1.0)) and out of distribution
(edges in (1.5, 3.0)): ``base`` (fresh triangles), ``permuted`` (the same ones, edges
in a random order: the area must not change) and ``scaled`` (edges times a random
s in (0.6, 1.7): the area must scale by s²).

The knowledge is one symmetry object, :data:`TRIANGLE_SYMMETRY`, and each level
puts it in one place: :data:`LEVELS` below is the ladder (``symnn-zoo list triangle``
prints it, with each level's description).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.functional import mse_loss

import symnn

from ._problem import (
    Context,
    Evaluation,
    Finding,
    Level,
    LevelResult,
    Problem,
    TestSet,
    claim,
    evaluate_regression,
    model_dtype,
    relative_symmetry_error,
)
from ._training import Settings, Trained

__all__ = ["PROBLEM", "TriangleSettings", "EDGE_ORDER", "RESCALING", "TRIANGLE_SYMMETRY", "true_area"]

#: The area does not depend on the order of the edges.
EDGE_ORDER = symnn.Permutation(3)
#: Edges times s multiply the area by s² (s drawn from the lecture's range).
RESCALING = symnn.Scaling(degree=2, scale_range=(0.6, 1.7))
#: Both at once: what every level knows, in its own way.
TRIANGLE_SYMMETRY = EDGE_ORDER * RESCALING


@dataclass(frozen=True)
class TriangleSettings(Settings):
    """The triangle problem's settings; the defaults are the lecture's."""

    n_train: int = 4000
    n_test: int = 4000
    edge_range: tuple[float, float] = (0.2, 1.0)
    ood_edge_range: tuple[float, float] = (1.5, 3.0)
    scale_range: tuple[float, float] = RESCALING.scale_range  # recorded; RESCALING fixes it
    hidden: tuple[int, ...] = (128, 128, 128)
    activation: str = "relu"
    penalty_weight: float = 1.0
    penalty_samples: int = 1
    n_probe: int = 256
    symmetry_floor: float = 1e-2


FULL = TriangleSettings()
QUICK = TriangleSettings(
    n_train=500, n_test=500, epochs=100, lr=3e-3, final_lr=3e-5, n_probe=128, n_checkpoints=5
)


def true_area(edges: torch.Tensor) -> torch.Tensor:
    """The exact area (Heron's formula in Kahan's stable order), shape ``(..., 1)``."""
    return symnn.functional.heron_area(edges).unsqueeze(-1)


def random_triangles(n: int, edge_range: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """``n`` triangles, edges uniform in ``edge_range``, invalid triples rejected; float64 ``(n, 3)``."""
    low, high = edge_range
    kept: list[torch.Tensor] = []
    count = 0
    while count < n:
        edges = low + (high - low) * torch.rand(2 * n, 3, generator=generator, dtype=torch.float64)
        valid = edges.sum(-1) > 2 * edges.amax(-1)  # the longest edge is shorter than the other two together
        kept.append(edges[valid])
        count += int(valid.sum())
    return torch.cat(kept)[:n]


@dataclass
class TriangleData:
    """Training set (float32, on the device), test sets and probes (float64)."""

    x: torch.Tensor
    y: torch.Tensor
    x64: torch.Tensor
    y64: torch.Tensor
    tests: list[TestSet]
    probes: dict[str, torch.Tensor]


def make_data(settings: TriangleSettings, generator: torch.Generator, device: torch.device) -> TriangleData:
    x64 = random_triangles(settings.n_train, settings.edge_range, generator)
    y64 = true_area(x64)
    tests = []
    for in_distribution, edge_range in ((True, settings.edge_range), (False, settings.ood_edge_range)):
        base = random_triangles(settings.n_test, edge_range, generator)
        area = true_area(base)
        order = EDGE_ORDER.sample_rows(len(base), generator)
        scale = RESCALING.sample_rows(len(base), generator)
        where = "ID" if in_distribution else "OOD"
        tests += [
            TestSet(f"base {where}", base, area, in_distribution, "base"),
            TestSet(
                f"permuted {where}", EDGE_ORDER.act_input(order, base), area, in_distribution, "permuted"
            ),
            TestSet(
                f"scaled {where}",
                RESCALING.act_input(scale, base),
                RESCALING.act_output(scale, area),
                in_distribution,
                "scaled",
            ),
        ]
    probes = {
        "ID": random_triangles(settings.n_probe, settings.edge_range, generator),
        "OOD": random_triangles(settings.n_probe, settings.ood_edge_range, generator),
    }
    return TriangleData(
        x=x64.float().to(device),
        y=y64.float().to(device),
        x64=x64.to(device),
        y64=y64.to(device),
        tests=[test.to(device) for test in tests],
        probes={k: p.to(device) for k, p in probes.items()},
    )


#: The elements the symmetry error is measured on: the same eight at every checkpoint.
CHECK_ELEMENTS = TRIANGLE_SYMMETRY.sample(8, torch.Generator().manual_seed(0))


def symmetry_error(model: torch.nn.Module, probe: torch.Tensor) -> float:
    """Relative RMS violation of edge order and rescaling on the probe (8 fixed elements)."""
    return relative_symmetry_error(model, TRIANGLE_SYMMETRY, probe, CHECK_ELEMENTS)


def monitor(model: torch.nn.Module, data: TriangleData, settings: TriangleSettings) -> float:
    return symmetry_error(model, data.probes["ID"])


def evaluate(model: torch.nn.Module, data: TriangleData, settings: TriangleSettings) -> Evaluation:
    evaluation = evaluate_regression(model, data.tests)
    metrics = evaluation.metrics
    for name, (predicted, true) in evaluation.predictions.items():
        metrics[f"{name}: max relative error"] = float(np.max(np.abs(predicted - true) / true))
    for where, probe in data.probes.items():
        metrics[f"symmetry error {where} (relative RMS)"] = symmetry_error(model, probe)
        metrics[f"symmetry error {where} (largest relative, floor {settings.symmetry_floor:g})"] = (
            symnn.testing.equivariance_error(
                model,
                TRIANGLE_SYMMETRY,
                probe.to(model_dtype(model)),
                elements=CHECK_ELEMENTS,
                floor=settings.symmetry_floor,
            )
        )
    return evaluation


# --- the levels: each bias is one or two lines of symnn ---------------------------------


def backbone(settings: TriangleSettings) -> torch.nn.Module:
    return symnn.MLP(3, 1, hidden=settings.hidden, activation=settings.activation)


def level_0(ctx: Context) -> Trained:
    """Plain MLP, plain loss."""
    return ctx.train_mse(backbone(ctx.settings))


def level_1a(ctx: Context) -> Trained:
    """Observation bias, the lecture's form: all six edge orders plus one rescaled copy (7x data)."""
    x, y = symnn.augment(ctx.data.x, ctx.data.y, [EDGE_ORDER, (RESCALING, 1)], generator=ctx.generator)
    return ctx.train_mse(backbone(ctx.settings), x, y)


def level_1b(ctx: Context) -> Trained:
    """Observation bias, online: every epoch, each triangle gets a fresh random order and scale."""
    draw = symnn.RandomAction(TRIANGLE_SYMMETRY, generator=ctx.generator)
    model, x, y = backbone(ctx.settings), ctx.data.x, ctx.data.y

    def loss() -> torch.Tensor:
        gx, gy = draw(x, y)
        return mse_loss(model(gx), gy)

    return ctx.train(model, loss)


def level_2a(ctx: Context) -> Trained:
    """Learning bias, the lecture's form: penalties for every edge order and a rescaling, every step."""
    model, x, y, w = backbone(ctx.settings), ctx.data.x, ctx.data.y, ctx.settings.penalty_weight
    every_order = symnn.SymmetryPenalty(EDGE_ORDER, weight=w, elements="all")
    one_scale = symnn.SymmetryPenalty(RESCALING, weight=w, generator=ctx.generator)
    return ctx.train(model, lambda: mse_loss(model(x), y) + every_order(model, x, y) + one_scale(model, x, y))


def level_2b(ctx: Context) -> Trained:
    """Learning bias, stochastic: k random (order, scale) elements per triangle, fresh every step."""
    model, x, y, w = backbone(ctx.settings), ctx.data.x, ctx.data.y, ctx.settings.penalty_weight
    sampled = symnn.SymmetryPenalty(
        TRIANGLE_SYMMETRY, weight=w, n_elements=ctx.settings.penalty_samples, generator=ctx.generator
    )
    return ctx.train(model, lambda: mse_loss(model(x), y) + sampled(model, x, y))


def level_3(ctx: Context) -> Trained:
    """Inductive bias: sort the edges, divide by their sum, restore the area's scale.

    ``symnn.enforce`` picks these layers from the symmetry itself:
    ``ScaleNormalize(PermutationSort(MLP), degree=2)``.
    """
    return ctx.train_mse(symnn.enforce(backbone(ctx.settings), TRIANGLE_SYMMETRY))


def level_3s(ctx: Context) -> Trained:
    """Inductive bias by averaging over the six edge orders instead of sorting (6 passes)."""
    return ctx.train_mse(symnn.ScaleNormalize(symnn.Symmetrize(backbone(ctx.settings), EDGE_ORDER), degree=2))


_FITTED_C = "fitted C (Heron: 1/16)"


def level_4(ctx: Context) -> Trained:
    """Physics bias: A = sqrt(C (a+b+c)(a+b-c)(a-b+c)(-a+b+c)), derived by sympy; C in closed form."""
    prior = symnn.priors.heron_module()  # the derivation runs here, outside the timed fit
    trained = ctx.fit(lambda: symnn.priors.fit_constants(prior, ctx.data.x64, ctx.data.y64).module)
    trained.history.extras[_FITTED_C] = prior.constant_values()["C"]
    return trained


LEVELS = (
    Level("0", "none", "plain MLP", level_0),
    Level("1a", "observation", "augment: full orbit, 6 orders + 1 rescaling (lecture, 7x data)", level_1a),
    Level("1b", "observation", "augment online: RandomAction, fresh element per row each epoch", level_1b),
    Level("2a", "learning", "penalties: every order + a rescaling, every step (lecture)", level_2a),
    Level("2b", "learning", "stochastic penalty: k sampled (order, scale) per row per step", level_2b),
    Level("3", "inductive", "ScaleNormalize(PermutationSort(MLP), degree=2)", level_3),
    Level("3s", "inductive", "ScaleNormalize(Symmetrize(MLP, Permutation(3)), degree=2)", level_3s),
    Level("4", "physics", "Heron form from symnn.priors, C fitted in closed form", level_4),
)


# --- what the results must show ---------------------------------------------------------


def _error(result: LevelResult, kind: str, in_distribution: bool) -> float:
    return result.evaluation.error_on(kind=kind, in_distribution=in_distribution)


def _worst(result: LevelResult, in_distribution: bool | None = None) -> float:
    return result.evaluation.worst(in_distribution=in_distribution)


def _symmetry(result: LevelResult) -> float:
    return result.monitor_final


def findings(results: dict[str, LevelResult], settings: TriangleSettings) -> list[Finding]:
    out: list[Finding] = []

    def check(*args, **kwargs) -> None:
        out.append(claim(results, *args, **kwargs))

    check(
        "level 0 is off out of distribution (OOD error > 3x its ID error)",
        ("0",),
        lambda r: _error(r, "base", False) > 3 * _error(r, "base", True),
        lambda r: f"base ID {_error(r, 'base', True):.2%}, base OOD {_error(r, 'base', False):.2%}",
        quick=True,
    )
    check(
        "level 0 is off on rescaled triangles in distribution (scaled ID error > base ID error)",
        ("0",),
        lambda r: _error(r, "scaled", True) > _error(r, "base", True),
        lambda r: f"base ID {_error(r, 'base', True):.2%}, scaled ID {_error(r, 'scaled', True):.2%}",
        quick=True,
    )
    check(
        "level 0 is not symmetric (symmetry error > 1e-2)",
        ("0",),
        lambda r: _symmetry(r) > 1e-2,
        lambda r: f"{_symmetry(r):.1e}",
        quick=True,
    )
    for key in ("1a", "1b", "2a", "2b"):
        check(
            f"level {key} fixes scaled ID (within 2x its base ID error) but not OOD (> 3x)",
            (key,),
            lambda r: (
                _error(r, "scaled", True) <= 2 * _error(r, "base", True)
                and _error(r, "base", False) > 3 * _error(r, "base", True)
            ),
            lambda r: (
                f"base ID {_error(r, 'base', True):.2%}, scaled ID {_error(r, 'scaled', True):.2%}, "
                f"base OOD {_error(r, 'base', False):.2%}"
            ),
            quick=True,
        )
    check(
        "level 3 is accurate in and out of distribution (<= 2% on every test set)",
        ("3",),
        lambda r: _worst(r) <= 0.02,
        lambda r: f"worst {_worst(r):.2%}",
    )
    check(
        "level 3 beats level 0 out of distribution",
        ("0", "3"),
        lambda r0, r3: _worst(r3, False) < _worst(r0, False),
        lambda r0, r3: f"worst OOD: level 0 {_worst(r0, False):.2%}, level 3 {_worst(r3, False):.2%}",
        quick=True,
    )
    for key in ("3", "3s"):
        check(
            f"level {key} is symmetric to float32 rounding (symmetry error < 1e-5)",
            (key,),
            lambda r: _symmetry(r) < 1e-5,
            lambda r: f"{_symmetry(r):.1e}",
            quick=True,
        )
    check(
        "level 3 costs at most 1.15x level 0",
        ("0", "3"),
        lambda r0, r3: r3.cost_ratio <= 1.15,
        lambda r0, r3: f"{r3.cost_ratio:.2f}x",
    )
    for online, lecture, lecture_cost in (("1b", "1a", 2.6), ("2b", "2a", 4.1)):
        check(
            f"level {online} costs less than the lecture's {lecture_cost}x",
            ("0", online),
            lambda r0, r, cost=lecture_cost: r.cost_ratio < cost,
            lambda r0, r: f"{r.cost_ratio:.2f}x",
        )
        check(
            f"level {online} is within 1.5x of level {lecture}'s error on every ID test set",
            (online, lecture),
            lambda r, full: all(
                value <= 1.5 * full.evaluation.errors[name]
                for name, value in r.evaluation.errors_on(in_distribution=True).items()
            ),
            lambda r, full: ", ".join(
                f"{name} {value:.2%} vs {full.evaluation.errors[name]:.2%}"
                for name, value in r.evaluation.errors_on(in_distribution=True).items()
            ),
        )
    check(
        "level 4 is exact to rounding (relative error <= 1e-12 on every test set)",
        ("4",),
        lambda r: _worst(r) <= 1e-12,
        lambda r: f"worst {_worst(r):.1e}",
        quick=True,
    )
    check(
        "level 4 recovers Heron's constant C = 1/16 (to 1e-12 relative)",
        ("4",),
        lambda r: abs(16 * r.evaluation.metrics[_FITTED_C] - 1) <= 1e-12,
        lambda r: f"C = {r.evaluation.metrics[_FITTED_C]!r}",
        quick=True,
    )
    check(
        "level 4 fits in milliseconds (< 100 ms)",
        ("4",),
        lambda r: r.history.seconds < 0.1,
        lambda r: f"{r.history.seconds * 1000:.1f} ms",
    )
    return out


PROBLEM = Problem(
    name="triangle",
    summary="area of a triangle from its edge lengths: the lecture's ladder of biases",
    levels=LEVELS,
    full_settings=FULL,
    quick_settings=QUICK,
    make_data=make_data,
    evaluate=evaluate,
    monitor=monitor,
    findings=findings,
    monitor_label="relative RMS violation of edge order x rescaling, ID probe",
    error_label="relative RMS error",
)
