"""Laplace's equation u_xx + u_yy = 0 on the unit square, by a physics-informed network.

The exact solution u = sin(πx) sinh(πy) / sinh(π) gives the Dirichlet data on the
boundary (and only there); the network must find u inside from the equation alone.
Both levels train on the same equation residual, ``symnn.pinn.laplacian``, at the
same collocation points for the same number of epochs; they differ in how the
boundary condition gets in: level 2 (learning bias) as a penalty on u − g at
boundary points, level 3 (inductive bias) built into the output,
``pinn.HardBoundary(MLP, g, pinn.box_distance)``: u = g + d·N with d = 0 on the
boundary, so u = g there whatever the network outputs.  :data:`LEVELS` below is the
ladder (``symnn-zoo list laplace`` prints it).

g inside the square is the transfinite (Coons) interpolation of the boundary data: it
reads the data on the four edges only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.functional import mse_loss

import symnn
from symnn import pinn

from ._problem import (
    Context,
    Evaluation,
    Finding,
    Level,
    LevelResult,
    Problem,
    TestSet,
    claim,
    model_dtype,
    relative_rms,
)
from ._training import Settings, Trained

__all__ = ["PROBLEM", "LaplaceSettings", "exact_solution", "transfinite"]


@dataclass(frozen=True)
class LaplaceSettings(Settings):
    """The Laplace problem's settings."""

    n_interior: int = 1000
    n_boundary_per_side: int = 100
    grid: int = 51
    hidden: tuple[int, ...] = (64, 64, 64)
    activation: str = "tanh"
    boundary_weight: float = 1.0


FULL = LaplaceSettings()
QUICK = LaplaceSettings(
    n_interior=200, n_boundary_per_side=20, grid=21, epochs=150, lr=3e-3, final_lr=3e-5, n_checkpoints=5
)


def exact_solution(p: torch.Tensor) -> torch.Tensor:
    """u = sin(πx) sinh(πy) / sinh(π): harmonic, 0 on three sides, sin(πx) on the top."""
    x, y = p.unbind(-1)
    return (torch.sin(math.pi * x) * torch.sinh(math.pi * y) / math.sinh(math.pi)).unsqueeze(-1)


def transfinite(boundary: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The Coons patch of boundary data on the unit square: equal to it on all four edges.

    ``boundary`` is only ever called on points of the boundary.
    """

    def g(p: torch.Tensor) -> torch.Tensor:
        x, y = p[..., :1], p[..., 1:]
        zero, one = torch.zeros_like(x), torch.ones_like(x)

        def at(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return boundary(torch.cat((u, v), dim=-1))

        edges = (1 - y) * at(x, zero) + y * at(x, one) + (1 - x) * at(zero, y) + x * at(one, y)
        corners = (
            (1 - x) * (1 - y) * at(zero, zero)
            + x * (1 - y) * at(one, zero)
            + (1 - x) * y * at(zero, one)
            + x * y * at(one, one)
        )
        return edges - corners

    return g


@dataclass
class LaplaceData:
    """Collocation points, boundary points with their data, and the test grid."""

    interior: torch.Tensor
    boundary: torch.Tensor
    boundary_values: torch.Tensor
    grid: torch.Tensor
    grid_values: torch.Tensor


def _boundary_points(n: int, generator: torch.Generator) -> torch.Tensor:
    t = torch.rand(4, n, generator=generator, dtype=torch.float64)
    zero, one = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
    sides = [(t[0], zero), (t[1], one), (zero, t[2]), (one, t[3])]
    return torch.cat([torch.stack(side, dim=-1) for side in sides])


def make_data(settings: LaplaceSettings, generator: torch.Generator, device: torch.device) -> LaplaceData:
    interior = torch.rand(settings.n_interior, 2, generator=generator, dtype=torch.float64)
    boundary = _boundary_points(settings.n_boundary_per_side, generator)
    ticks = torch.linspace(0, 1, settings.grid, dtype=torch.float64)
    grid = torch.cartesian_prod(ticks, ticks)
    return LaplaceData(
        interior.float().to(device),
        boundary.float().to(device),
        exact_solution(boundary).float().to(device),
        grid.to(device),
        exact_solution(grid).to(device),
    )


def boundary_error(model: nn.Module, data: LaplaceData) -> float:
    """Largest ‖u − g‖ at the boundary points."""
    dtype = model_dtype(model)
    return float((model(data.boundary.to(dtype)).double() - data.boundary_values.double()).abs().max())


def monitor(model: nn.Module, data: LaplaceData, settings: LaplaceSettings) -> float:
    return boundary_error(model, data)


def evaluate(model: nn.Module, data: LaplaceData, settings: LaplaceSettings) -> Evaluation:
    dtype = model_dtype(model)
    predicted = model(data.grid.to(dtype)).double()
    with torch.enable_grad():
        points = data.interior.to(dtype).requires_grad_(True)
        residual = pinn.laplacian(model(points), points, create_graph=False)
    errors = {
        _GRID: relative_rms(predicted, data.grid_values),
        _BOUNDARY: boundary_error(model, data),
        "PDE residual RMS": float(residual.double().square().mean().sqrt()),
    }
    grid = TestSet("grid", data.grid, data.grid_values, in_distribution=True, kind="grid")
    return Evaluation(
        errors,
        predictions={"grid": (predicted.cpu().numpy().ravel(), data.grid_values.cpu().numpy().ravel())},
        test_sets={"relative L² error (grid)": grid},
    )


def alignment_probe(
    data: LaplaceData, settings: LaplaceSettings
) -> tuple[torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]]:
    """The first 16 collocation points, the exact solution there, MSE.

    The training loss is the equation's residual, which is no function of the outputs
    alone; the alignment asks instead how much of the step toward the true solution at
    these points the parameters can take (on the boundary, the hard level's outputs do
    not depend on the parameters at all).
    """
    points = data.interior[:16]
    return points, exact_solution(points.double()).to(points.dtype), mse_loss


# --- the levels -----------------------------------------------------------------------------


def backbone(settings: LaplaceSettings) -> nn.Module:
    return symnn.MLP(2, 1, hidden=settings.hidden, activation=settings.activation)


def equation_residual(model: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """The loss of u_xx + u_yy = 0 at the collocation points."""
    points = points.requires_grad_(True)
    return pinn.residual_loss(pinn.laplacian(model(points), points))


def level_2(ctx: Context) -> Trained:
    """Learning bias: the boundary condition as a penalty."""
    model, data, w = backbone(ctx.settings), ctx.data, ctx.settings.boundary_weight
    return ctx.train(
        model,
        lambda: (
            equation_residual(model, data.interior) + w * mse_loss(model(data.boundary), data.boundary_values)
        ),
    )


def level_3(ctx: Context) -> Trained:
    """Inductive bias: u = g + d·N, the boundary condition built into the output."""
    model = pinn.HardBoundary(backbone(ctx.settings), transfinite(exact_solution), distance=pinn.box_distance)
    return ctx.train(model, lambda: equation_residual(model, ctx.data.interior))


LEVELS = (
    Level("2", "learning", "soft boundary: penalty on u − g", level_2),
    Level("3", "inductive", "hard boundary: pinn.HardBoundary(MLP, g, box_distance)", level_3),
)


# --- what the results must show ---------------------------------------------------------


_GRID = "relative L² error (grid)"
_BOUNDARY = "max ‖u − g‖ on the boundary"


def findings(results: dict[str, LevelResult], settings: LaplaceSettings) -> list[Finding]:
    return [
        claim(
            results,
            "the hard boundary reaches a lower error than the soft one at equal epochs",
            ("2", "3"),
            lambda soft, hard: hard.evaluation.errors[_GRID] < soft.evaluation.errors[_GRID],
            lambda soft, hard: (
                f"hard {hard.evaluation.errors[_GRID]:.2e}, soft {soft.evaluation.errors[_GRID]:.2e}"
            ),
            quick=True,
        ),
        claim(
            results,
            "the hard boundary holds to rounding (boundary error <= 1e-6)",
            ("3",),
            lambda hard: hard.evaluation.errors[_BOUNDARY] <= 1e-6,
            lambda hard: f"{hard.evaluation.errors[_BOUNDARY]:.1e}",
            quick=True,
        ),
        claim(
            results,
            "the soft boundary does not hold (boundary error > 1e-3)",
            ("2",),
            lambda soft: soft.evaluation.errors[_BOUNDARY] > 1e-3,
            lambda soft: f"{soft.evaluation.errors[_BOUNDARY]:.1e}",
            quick=True,
        ),
    ]


PROBLEM = Problem(
    name="laplace",
    summary="u_xx + u_yy = 0 on the unit square by a physics-informed network: soft against hard boundary",
    levels=LEVELS,
    full_settings=FULL,
    quick_settings=QUICK,
    make_data=make_data,
    evaluate=evaluate,
    monitor=monitor,
    findings=findings,
    monitor_label="largest ‖u − g‖ at the boundary points",
    monitor_column="boundary error (train)",
    error_label="relative L² error on a grid, boundary error, PDE residual",
    error_in_percent=False,
    baseline_level="2",
    alignment_probe=alignment_probe,
)
