"""Rotation output: a network must return the rotation that moved a template.

A fixed template of points is rotated by an unknown R and observed with a little
noise; from the observed points the network outputs R.  A rotation matrix has 9
entries but 3 degrees of freedom: RᵀR = I and det R = 1.  The lecture's inductive
bias is to output a rotation vector v and return exp(v̂), which is always a rotation.
:data:`LEVELS` below is the ladder (``symnn-zoo list rotation`` prints it).

All levels train on the same loss (mean squared error of the matrix entries) with
rotation angles up to 90°, and are tested on angles up to 90° (in distribution) and
from 90° to 180° (out of distribution).  The geodesic angle error of the raw head is
that of its nearest rotation (by SVD); its distance from being a rotation at all
is reported separately, as ‖RᵀR − I‖ and |det R − 1|, also on arbitrary inputs.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.functional import normalize

import symnn

from ._problem import Context, Evaluation, Finding, Level, LevelResult, Problem, TestSet, claim, model_dtype
from ._training import Settings, Trained

__all__ = ["PROBLEM", "RotationSettings", "GramSchmidt6D", "rotation_errors"]


@dataclass(frozen=True)
class RotationSettings(Settings):
    """The rotation problem's settings."""

    n_points: int = 4
    noise: float = 0.01
    n_train: int = 4000
    n_test: int = 1000
    train_angle_deg: tuple[float, float] = (0.0, 90.0)
    ood_angle_deg: tuple[float, float] = (90.0, 180.0)
    arbitrary_input_scale: float = 3.0
    hidden: tuple[int, ...] = (128, 128, 128)
    activation: str = "silu"
    n_probe: int = 256


FULL = RotationSettings()
QUICK = RotationSettings(
    n_train=500, n_test=300, epochs=100, lr=3e-3, final_lr=3e-5, n_probe=64, n_checkpoints=5
)


class GramSchmidt6D(nn.Module):
    r"""Two 3-vectors to a rotation by Gram–Schmidt: :math:`R = [b_1, b_2, b_1 \times b_2]`.

    :math:`b_1 = a_1/\lVert a_1\rVert`, :math:`b_2` the normalised part of :math:`a_2`
    orthogonal to :math:`b_1`.  A rotation to rounding whenever :math:`a_1` and
    :math:`a_2` are not (nearly) parallel; a continuous representation of SO(3)
    (Zhou et al., 2019), unlike the rotation vector at 180°.  ``(..., 6) -> (..., 3, 3)``.
    """

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        b1 = normalize(a[..., :3], dim=-1)
        a2 = a[..., 3:]
        b2 = normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
        return torch.stack((b1, b2, torch.linalg.cross(b1, b2, dim=-1)), dim=-1)


def random_rotations(n: int, angle_deg: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """``n`` rotations, uniform random axis, angle uniform in ``angle_deg``; float64 ``(n, 3, 3)``."""
    axis = normalize(torch.randn(n, 3, generator=generator, dtype=torch.float64), dim=-1)
    low, high = (math.radians(a) for a in angle_deg)
    angle = low + (high - low) * torch.rand(n, 1, generator=generator, dtype=torch.float64)
    return symnn.functional.so3_exp(angle * axis)


@dataclass
class RotationData:
    """Observations (flattened rotated template plus noise) and true rotations."""

    x: torch.Tensor
    y: torch.Tensor
    tests: list[TestSet]
    arbitrary: torch.Tensor
    probe: torch.Tensor


def make_data(settings: RotationSettings, generator: torch.Generator, device: torch.device) -> RotationData:
    template = torch.randn(settings.n_points, 3, generator=generator, dtype=torch.float64)

    def observe(rotations: torch.Tensor) -> torch.Tensor:
        points = template @ rotations.transpose(-1, -2)  # (n, K, 3): each point rotated
        noise = settings.noise * torch.randn(points.shape, generator=generator, dtype=torch.float64)
        return (points + noise).flatten(-2)

    train = random_rotations(settings.n_train, settings.train_angle_deg, generator)
    tests = []
    for in_distribution, angles in ((True, settings.train_angle_deg), (False, settings.ood_angle_deg)):
        rotations = random_rotations(settings.n_test, angles, generator)
        name = f"{_where(in_distribution)} angles {angles[0]:g}-{angles[1]:g}°"
        tests.append(TestSet(name, observe(rotations).to(device), rotations.to(device), in_distribution))
    n_inputs = 3 * settings.n_points
    arbitrary = settings.arbitrary_input_scale * torch.randn(settings.n_test, n_inputs, generator=generator)
    probe = observe(random_rotations(settings.n_probe, settings.train_angle_deg, generator))
    return RotationData(
        observe(train).float().to(device),
        train.float().to(device),
        tests,
        arbitrary.to(device),
        probe.to(device),
    )


def _where(in_distribution: bool) -> str:
    return "ID" if in_distribution else "OOD"


def rotation_errors(matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per matrix, compared in float64: the largest entry of |RᵀR − I|, and |det R − 1|."""
    m = matrices.to(torch.float64)
    eye = torch.eye(3, dtype=torch.float64, device=m.device)
    return (m.transpose(-1, -2) @ m - eye).abs().amax(dim=(-2, -1)), (torch.linalg.det(m) - 1).abs()


def nearest_rotation(matrices: torch.Tensor) -> torch.Tensor:
    """The rotation closest to each matrix in the Frobenius norm (SVD, determinant fixed to +1)."""
    u, _, vh = torch.linalg.svd(matrices.to(torch.float64))
    d = torch.linalg.det(u @ vh)
    fix = torch.ones_like(u[..., 0, :])
    fix[..., -1] = d
    return (u * fix.unsqueeze(-2)) @ vh


def geodesic_angle_deg(predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """The angle of the rotation between the nearest rotation to ``predicted`` and ``true``, degrees."""
    relative = true.to(torch.float64).transpose(-1, -2) @ nearest_rotation(predicted)
    return torch.rad2deg(symnn.functional.so3_log(relative).norm(dim=-1))


def monitor(model: nn.Module, data: RotationData, settings: RotationSettings) -> float:
    return float(rotation_errors(model(data.probe.to(model_dtype(model))))[0].max())


def evaluate(model: nn.Module, data: RotationData, settings: RotationSettings) -> Evaluation:
    dtype = model_dtype(model)
    evaluation = Evaluation({})
    errors, metrics, predictions = evaluation.errors, evaluation.metrics, evaluation.predictions
    for test in data.tests:
        predicted = model(test.x.to(dtype))
        angle = geodesic_angle_deg(predicted, test.y)
        key = f"angle {_where(test.in_distribution)} (°, RMS)"
        errors[key] = float(angle.square().mean().sqrt())
        evaluation.test_sets[key] = test
        metrics[f"{test.name}: median angle error (°)"] = float(angle.median())
        predictions[test.name] = (predicted.cpu().double().numpy().ravel(), test.y.cpu().numpy().ravel())
    # Distance from SO(3) on every input, arbitrary ones included: in the model's own
    # precision, and with the same trained weights run in float64 (the head's structure
    # alone, without float32 rounding).
    inputs = {test.name: test.x for test in data.tests} | {"arbitrary inputs": data.arbitrary}
    for label, precision in (("float32", dtype), ("float64", torch.float64)):
        runner = model if precision == dtype else copy.deepcopy(model).to(precision)
        worst = {"RᵀR − I": 0.0, "det R − 1": 0.0}
        for name, x in inputs.items():
            orthogonality, det = rotation_errors(runner(x.to(precision)))
            metrics[f"{name}: max ‖RᵀR − I‖ ({label})"] = float(orthogonality.max())
            metrics[f"{name}: max ‖det R − 1‖ ({label})"] = float(det.max())
            worst["RᵀR − I"] = max(worst["RᵀR − I"], float(orthogonality.max()))
            worst["det R − 1"] = max(worst["det R − 1"], float(det.max()))
        for what, value in worst.items():
            target = errors if label == "float32" else metrics
            target[f"max ‖{what}‖ ({label})"] = value
    return evaluation


# --- the levels ---------------------------------------------------------------------------


def backbone(settings: RotationSettings, out: int) -> nn.Module:
    return symnn.MLP(3 * settings.n_points, out, hidden=settings.hidden, activation=settings.activation)


def level_0(ctx: Context) -> Trained:
    """Raw head: nine numbers, reshaped."""
    return ctx.train_mse(nn.Sequential(backbone(ctx.settings, 9), nn.Unflatten(-1, (3, 3))))


def level_3(ctx: Context) -> Trained:
    """Inductive bias: a rotation vector, mapped by exp to a rotation matrix."""
    return ctx.train_mse(nn.Sequential(backbone(ctx.settings, 3), symnn.SO3Exp()))


def level_3g(ctx: Context) -> Trained:
    """Inductive bias: two vectors, orthonormalised (6D representation)."""
    return ctx.train_mse(nn.Sequential(backbone(ctx.settings, 6), GramSchmidt6D()))


LEVELS = (
    Level("0", "none", "raw head: MLP -> 9 numbers", level_0),
    Level("3", "inductive", "MLP -> 3 -> SO3Exp()", level_3),
    Level("3g", "inductive", "MLP -> 6 -> Gram-Schmidt (6D)", level_3g),
)


# --- what the results must show ---------------------------------------------------------


def _distance_from_rotations(r: LevelResult, precision: str) -> float:
    values = {**r.evaluation.errors, **r.evaluation.metrics}
    return max(values[f"max ‖RᵀR − I‖ ({precision})"], values[f"max ‖det R − 1‖ ({precision})"])


def findings(results: dict[str, LevelResult], settings: RotationSettings) -> list[Finding]:
    def check(key: str, text: str, float32: float) -> Finding:
        return claim(
            results,
            f"level {key} outputs rotations on every input, arbitrary ones included ({text}: "
            f"RᵀR = I and det R = 1 to {float32:g} in float32, 1e-12 in float64)",
            (key,),
            lambda r: (
                _distance_from_rotations(r, "float32") <= float32
                and _distance_from_rotations(r, "float64") <= 1e-12
            ),
            lambda r: (
                f"float32 {_distance_from_rotations(r, 'float32'):.1e}, "
                f"float64 {_distance_from_rotations(r, 'float64'):.1e}"
            ),
            quick=True,
        )

    def learns(key: str) -> Finding:
        return claim(
            results,
            f"level {key} learns in distribution (RMS angle error < 30°)",
            (key,),
            lambda r: r.evaluation.worst(in_distribution=True) < 30.0,
            lambda r: f"{r.evaluation.worst(in_distribution=True):.1f}°",
            quick=True,
        )

    return [
        check("3", "SO3Exp, to rounding", 1e-6),
        # Gram-Schmidt loses orthogonality to cancellation when its two vectors are
        # nearly parallel: a few rounding errors more, not a guarantee to rounding.
        check("3g", "Gram-Schmidt", 1e-5),
        claim(
            results,
            "the raw head's outputs are not rotations (RᵀR − I or det R − 1 above 1e-3 somewhere)",
            ("0",),
            lambda r: _distance_from_rotations(r, "float32") > 1e-3,
            lambda r: f"max {_distance_from_rotations(r, 'float32'):.2g}",
            quick=True,
        ),
        *(learns(key) for key in ("0", "3", "3g")),
    ]


PROBLEM = Problem(
    name="rotation",
    summary="output the rotation that moved a template of points: raw 9 numbers against SO3Exp",
    levels=LEVELS,
    full_settings=FULL,
    quick_settings=QUICK,
    make_data=make_data,
    evaluate=evaluate,
    monitor=monitor,
    findings=findings,
    monitor_label="largest entry of |RᵀR − I| of the outputs, in-distribution inputs",
    monitor_column="‖RᵀR − I‖ (train)",
    error_label="geodesic angle error (RMS, degrees) and distance from SO(3)",
    error_in_percent=False,
)
