"""The modified inertia tensor of Finzi et al. (2021): a nearly O(3)-symmetric target.

Five point masses with masses ``softplus(N(0, 1))`` and positions ``N(0, 1)`` in 3D;
the input is the 5 masses then the 5 positions (20 numbers), the target the inertia
tensor :math:`\\sum_k m_k (\\lVert r_k\\rVert^2 I - r_k r_k^\\top)` plus
:math:`0.1\\,(\\mathcal I e_z) e_z^\\top`, flattened to 9 numbers.  The inertia tensor
transforms as :math:`R \\mathcal I R^\\top` under every rotation and reflection, but the
extra term only under those about the z axis: an exactly O(3)-equivariant model is
misspecified, and cannot go below the test MSE of the best equivariant predictor,
the group average :math:`\\mathcal I (1 + 0.1/3)` (positions are isotropic, and
:math:`R^\\top e_z e_z^\\top R` averages to :math:`I/3`).  This is the "modified
inertia" task of Finzi, Benton and Wilson, "Residual pathway priors for soft
equivariance constraints" (NeurIPS 2021), with their setting: 3,000 samples split
1,000 train / 1,000 validation / 1,000 test, Adam with learning rate 3e-3, batches of
500, 1,000 epochs (2,000 optimiser steps, the learning rate decayed along a cosine),
MLPs of three hidden layers of 384, no standardisation.  Their published table
(:data:`PUBLISHED`) is shown next to symnn's levels.

Errors: the mean squared error over samples and all 9 entries, on the training and
the test set.  The symmetry error is theirs: on the first test batch of 500, one
Haar-random O(3) element :math:`g` per row,
:math:`\\mathrm{rms}(f(gx) - g \\cdot f(x)) / (\\mathrm{rms}(f(gx)) +
\\mathrm{rms}(g \\cdot f(x)) + \\mathrm{mean}|g - I|)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

import symnn

from ._problem import (
    Context,
    Evaluation,
    Finding,
    Level,
    LevelResult,
    Problem,
    RunResult,
    TestSet,
    claim,
    model_dtype,
)
from ._report import save_figure
from ._training import Settings, Trained

__all__ = ["PROBLEM", "InertiaSettings", "SYMMETRY", "PUBLISHED", "inertia", "E3nnInertia"]

#: 5 masses (scalars) and 5 positions (vectors, flipped by a reflection) in; a 3×3
#: Cartesian tensor out, acted on as g Y gᵀ by every element g of O(3).
SYMMETRY = symnn.Rotation("5x0e + 5x1o", "ij", improper=True)

#: Finzi et al. 2021's published results on this task: (train MSE, test MSE, O(3) error).
PUBLISHED = {
    "MLP": (0.034, 4.78, 0.17),
    "EMLP (exact)": (0.235, 2.39, 2e-7),
    "RPP (soft)": (0.070, 0.15, 0.08),
}

_TRAIN, _TEST = "train MSE", "test MSE"
_O3 = "O(3) equivariance error"
_FLOOR = "exact floor: test MSE of I (1 + 0.1/3)"


@dataclass(frozen=True)
class InertiaSettings(Settings):
    """The inertia problem's settings.

    ``epochs`` counts optimiser steps, as everywhere in the zoo: with batches of
    ``batch_size`` from ``n_train`` samples, 2,000 steps are 1,000 passes over the data.
    """

    epochs: int = 2000
    lr: float = 3e-3
    final_lr: float = 3e-5
    n_checkpoints: int = 20
    n_masses: int = 5
    z_weight: float = 0.1
    n_train: int = 1000
    n_val: int = 1000
    n_test: int = 1000
    batch_size: int = 500
    hidden: tuple[int, ...] = (384, 384, 384)
    activation: str = "silu"
    e3nn_scalars: int = 32
    e3nn_gated: int = 16
    penalty_weight: float = 1.0
    free_decay: float = 1e-2
    n_probe: int = 500


FULL = InertiaSettings()
QUICK = InertiaSettings(
    epochs=100,
    lr=3e-3,
    final_lr=3e-5,
    n_checkpoints=4,
    hidden=(64, 64, 64),
    e3nn_scalars=4,
    e3nn_gated=2,
    n_probe=200,
)


def inertia(x: torch.Tensor, n_masses: int = 5) -> torch.Tensor:
    """The inertia tensor :math:`\\sum_k m_k (\\lVert r_k\\rVert^2 I - r_k r_k^\\top)`, ``(..., 4n) -> (..., 9)``.

    ``x`` holds the ``n`` masses, then the ``n`` positions (3 numbers each); the
    tensor is flattened row-major.
    """
    m = x[..., :n_masses]
    r = x[..., n_masses:].unflatten(-1, (n_masses, 3))
    eye = torch.eye(3, dtype=x.dtype, device=x.device)
    r2 = r.square().sum(-1)[..., None, None]
    return (m[..., None, None] * (r2 * eye - r[..., :, None] * r[..., None, :])).sum(-3).flatten(-2)


def modified_inertia(x: torch.Tensor, settings: InertiaSettings) -> torch.Tensor:
    """The target: :math:`\\mathcal I + w\\,(\\mathcal I e_z) e_z^\\top`, flattened to ``(..., 9)``."""
    big = inertia(x, settings.n_masses).unflatten(-1, (3, 3))
    ez = torch.tensor([0.0, 0.0, 1.0], dtype=x.dtype, device=x.device)
    return (big + settings.z_weight * (big @ ez)[..., :, None] * ez).flatten(-2)


def best_equivariant(x: torch.Tensor, settings: InertiaSettings) -> torch.Tensor:
    """The best O(3)-equivariant predictor of the target: its group average :math:`\\mathcal I (1 + w/3)`."""
    return inertia(x, settings.n_masses) * (1 + settings.z_weight / 3)


@dataclass
class InertiaData:
    """Training, validation and test sets (float32), and the fixed O(3) elements of the check."""

    x: torch.Tensor
    y: torch.Tensor
    val: TestSet
    tests: list[TestSet]
    probe: torch.Tensor
    probe_elements: torch.Tensor
    floor: float


def make_data(settings: InertiaSettings, generator: torch.Generator, device: torch.device) -> InertiaData:
    n = settings.n_train + settings.n_val + settings.n_test
    x = torch.randn(n, 4 * settings.n_masses, generator=generator)
    x[:, : settings.n_masses] = nn.functional.softplus(x[:, : settings.n_masses])
    y = modified_inertia(x, settings)
    splits = np.cumsum([settings.n_train, settings.n_val])
    (x_train, x_val, x_test), (y_train, y_val, y_test) = (t.tensor_split(splits.tolist()) for t in (x, y))
    probe = x_test[: settings.n_probe]
    elements = SYMMETRY.sample_rows(probe.shape[0], generator)
    floor = float((best_equivariant(x_test.double(), settings) - y_test.double()).square().mean())
    return InertiaData(
        x_train.to(device),
        y_train.to(device),
        TestSet("validation", x_val.to(device), y_val.to(device), True, "validation"),
        [
            TestSet(_TRAIN, x_train.to(device), y_train.to(device), True, "train"),
            TestSet(_TEST, x_test.to(device), y_test.to(device), True, "test"),
        ],
        probe.to(device),
        elements.to(device),
        floor,
    )


def equivariance_error(model: nn.Module, x: torch.Tensor, elements: torch.Tensor) -> float:
    """Finzi et al.'s scale-adjusted relative O(3) error, one element per row of ``x``.

    .. math:: \\frac{\\mathrm{rms}(f(g x) - g\\cdot f(x))}
              {\\mathrm{rms}(f(g x)) + \\mathrm{rms}(g\\cdot f(x)) + \\mathrm{mean}|g - I|}

    The group acts in float64; the model runs in its own dtype.
    """
    dtype = model_dtype(model)
    g = elements.double()
    with torch.no_grad():
        y1 = model(SYMMETRY.act_input(g, x.double()).to(dtype)).double()
        y2 = SYMMETRY.act_output(g, model(x.to(dtype)).double())
    eye = torch.eye(3, dtype=torch.float64, device=g.device)

    def rms(t: torch.Tensor) -> torch.Tensor:
        return t.square().mean().sqrt()

    return float(rms(y1 - y2) / (rms(y1) + rms(y2) + (g - eye).abs().mean()))


def mse(model: nn.Module, test: TestSet) -> float:
    """Mean squared error over the samples and all 9 entries, compared in float64."""
    predicted = model(test.x.to(model_dtype(model))).double()
    return float((predicted - test.y.double()).square().mean())


def monitor(model: nn.Module, data: InertiaData, settings: InertiaSettings) -> float:
    return equivariance_error(model, data.probe, data.probe_elements)


def evaluate(model: nn.Module, data: InertiaData, settings: InertiaSettings) -> Evaluation:
    evaluation = Evaluation({})
    dtype = model_dtype(model)
    for test in data.tests:
        predicted = model(test.x.to(dtype)).double()
        evaluation.errors[test.name] = mse(model, test)
        evaluation.test_sets[test.name] = test
        evaluation.predictions[test.name] = (predicted.cpu().numpy().ravel(), test.y.cpu().numpy().ravel())
    evaluation.metrics = {
        "validation MSE": mse(model, data.val),
        _O3: monitor(model, data, settings),
        _FLOOR: data.floor,
    }
    return evaluation


# --- the models --------------------------------------------------------------------------


def backbone(settings: InertiaSettings) -> nn.Module:
    n_in = 4 * settings.n_masses
    return symnn.MLP(n_in, 9, hidden=settings.hidden, activation=settings.activation)


class InertiaFormula(nn.Module):
    """The inertia formula as a module (no parameters): the physics level's baseline."""

    def __init__(self, n_masses: int = 5) -> None:
        super().__init__()
        self.n_masses = n_masses

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return inertia(x, self.n_masses)


class E3nnInertia(nn.Module):
    """An O(3)-equivariant e3nn network from masses and positions to a symmetric 3×3 tensor.

    Two tensor products of the input with itself (so the output is cubic in the
    input at the least, like the inertia tensor), a gated nonlinearity between them,
    and a linear map to ``0e + 2e``, turned into the symmetric Cartesian tensor by
    e3nn's ``CartesianTensor("ij=ji")``.  ``(..., 4n) -> (..., 9)``.
    """

    def __init__(self, n_masses: int = 5, scalars: int = 32, gated: int = 16) -> None:
        super().__init__()
        from e3nn import o3
        from e3nn.io import CartesianTensor
        from e3nn.nn import Gate

        irreps_in = o3.Irreps(f"{n_masses}x0e + {n_masses}x1o")
        self.gate = Gate(
            f"{scalars}x0e",
            [nn.functional.silu],
            f"{2 * gated}x0e",
            [torch.sigmoid],
            f"{gated}x1o + {gated}x2e",
        )
        self.tp1 = o3.FullyConnectedTensorProduct(irreps_in, irreps_in, self.gate.irreps_in)
        self.tp2 = o3.FullyConnectedTensorProduct(
            self.gate.irreps_out, irreps_in, f"{scalars}x0e + {scalars}x2e"
        )
        self.out = o3.Linear(f"{scalars}x0e + {scalars}x2e", "0e + 2e")
        self.cartesian = CartesianTensor("ij=ji")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gate(self.tp1(x, x))
        irreps = self.out(self.tp2(h, x))
        return self.cartesian.to_cartesian(irreps).flatten(-2)


def e3nn_net(settings: InertiaSettings) -> nn.Module:
    return E3nnInertia(settings.n_masses, settings.e3nn_scalars, settings.e3nn_gated)


# --- the levels: each bias is one or two lines of symnn -----------------------------------


class _Batches:
    """Minibatches of the training set: a fresh random order every pass, ``batch_size`` rows each call."""

    def __init__(self, ctx: Context) -> None:
        self.x, self.y = ctx.data.x, ctx.data.y
        self.size = ctx.settings.batch_size
        self.generator = ctx.generator
        self.order = torch.empty(0, dtype=torch.long)

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.order.numel() < self.size:
            self.order = torch.randperm(self.x.shape[0], generator=self.generator)
        idx, self.order = self.order[: self.size], self.order[self.size :]
        idx = idx.to(self.x.device)
        return self.x[idx], self.y[idx]


def _train(ctx: Context, model: nn.Module, *, augment: bool = False, penalty: float = 0.0) -> Trained:
    """Train on minibatch MSE; optionally on randomly rotated batches, with a penalty, with a prior."""
    batches = _Batches(ctx)
    action = symnn.RandomAction(SYMMETRY, generator=ctx.generator)

    def loss() -> torch.Tensor:
        x, y = batches()
        if augment:
            x, y = action(x, y)
        out = model(x)
        value = (out - y).square().mean()
        if penalty:
            value = value + penalty * symnn.symmetry_penalty(
                model, x, SYMMETRY, generator=ctx.generator, output=out
            )
        if isinstance(model, symnn.ResidualPathway):
            value = value + model.prior()
        return value

    return ctx.train(model, loss)


def level_0(ctx: Context) -> Trained:
    """Plain MLP (3 hidden layers of 384), plain loss."""
    return _train(ctx, backbone(ctx.settings))


def level_1(ctx: Context) -> Trained:
    """Observation bias: every batch acted on by a fresh random O(3) element per sample."""
    return _train(ctx, backbone(ctx.settings), augment=True)


def level_2(ctx: Context) -> Trained:
    """Learning bias: a stochastic penalty on f(gx) − g·f(x), one sampled element per sample."""
    return _train(ctx, backbone(ctx.settings), penalty=ctx.settings.penalty_weight)


def level_3a(ctx: Context) -> Trained:
    """Inductive bias: the MLP frame-averaged (8 frames), O(3)-equivariant by construction.

    ``symnn.enforce`` picks ``FrameAverage`` from the symmetry ``Rotation``.
    """
    return _train(ctx, symnn.enforce(backbone(ctx.settings), SYMMETRY))


def level_3b(ctx: Context) -> Trained:
    """Inductive bias: an e3nn network (tensor products and a gate), O(3)-equivariant by construction."""
    return _train(ctx, e3nn_net(ctx.settings))


def level_3r(ctx: Context) -> Trained:
    """Soft symmetry: ResidualPathway(e3nn network, MLP), the free path's weights penalised (Finzi et al.)."""
    model = symnn.ResidualPathway(
        e3nn_net(ctx.settings), backbone(ctx.settings), free_decay=ctx.settings.free_decay
    )
    return _train(ctx, model)


def level_4(ctx: Context) -> Trained:
    """Physics bias: the inertia formula (known, no parameters) + a learned MLP correction."""
    return _train(ctx, symnn.PhysicsResidual(InertiaFormula(ctx.settings.n_masses), backbone(ctx.settings)))


LEVELS = (
    Level("0", "none", "plain MLP", level_0),
    Level("1", "observation", "random O(3) action on every batch", level_1),
    Level("2", "learning", "stochastic O(3) penalty", level_2),
    Level("3a", "inductive", "enforce(MLP, Rotation): FrameAverage", level_3a),
    Level("3b", "inductive", "e3nn network", level_3b),
    Level("3r", "inductive", "ResidualPathway(e3nn network, MLP)", level_3r),
    Level("4", "physics", "PhysicsResidual(inertia formula, MLP)", level_4),
)

_EXACT = ("3a", "3b")


# --- the published table next to symnn's ------------------------------------------------


def published_comparison(run: RunResult, out: Path) -> list[Path]:
    """Train MSE, test MSE and O(3) error of every level, next to Finzi et al.'s published rows."""
    rows = [
        (
            f"{r.level.key}: {r.level.title}",
            r.evaluation.errors[_TRAIN],
            r.evaluation.errors[_TEST],
            r.evaluation.metrics[_O3],
        )
        for r in run.levels
    ]
    rows += [(f"published {name}", *values) for name, values in PUBLISHED.items()]
    figure = Figure(figsize=(9.6, 0.35 * len(rows) + 1.4))
    axes = figure.subplots(1, 3, sharey=True)
    labels = [row[0] for row in rows]
    positions = np.arange(len(rows))[::-1]
    colors = ["tab:blue"] * len(run.levels) + ["tab:gray"] * len(PUBLISHED)
    floor = run.data.floor if run.data is not None else None
    for i, (ax, title) in enumerate(zip(axes, ("train MSE", "test MSE", "O(3) equivariance error"))):
        values = np.array([row[i + 1] for row in rows], dtype=float)
        ax.barh(positions, values, color=colors)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        for y, v in zip(positions, values):
            ax.text(v, y, f" {v:.2g}", va="center", fontsize=6)
        if i == 1 and floor is not None:
            ax.axvline(floor, color="k", linestyle="--", linewidth=0.8, label=f"exact floor {floor:.3f}")
            ax.legend(fontsize=6, loc="lower right")
    axes[0].set_yticks(positions, labels, fontsize=7)
    figure.suptitle(
        f"inertia: symnn's levels (seed {run.seed}{', quick' if run.quick else ''}) "
        "and Finzi et al. 2021's published results (grey)",
        fontsize=9,
    )
    figure.tight_layout()
    return [save_figure(figure, out / "published_comparison.png")]


# --- what the results must show -----------------------------------------------------------


def _train_mse(r: LevelResult) -> float:
    return r.evaluation.errors[_TRAIN]


def _test_mse(r: LevelResult) -> float:
    return r.evaluation.errors[_TEST]


def _o3(r: LevelResult) -> float:
    return r.evaluation.metrics[_O3]


def _published(name: str) -> str:
    train, test, err = PUBLISHED[name]
    return f"published {name}: {train:g} / {test:g} / {err:g}"


def _row(r: LevelResult) -> str:
    return f"{_train_mse(r):.3g} / {_test_mse(r):.3g} / {_o3(r):.2g}"


#: The published RPP's test MSE, which the soft level must reach.
_RPP_TEST = PUBLISHED["RPP (soft)"][1]


def findings(results: dict[str, LevelResult], settings: InertiaSettings) -> list[Finding]:
    out: list[Finding] = []

    def check(*args, **kwargs) -> None:
        out.append(claim(results, *args, **kwargs))

    for key in _EXACT:
        check(
            f"level {key} is O(3)-equivariant to float32 rounding (error <= 1e-6)",
            (key,),
            lambda r: _o3(r) <= 1e-6,
            lambda r: f"{_o3(r):.1e}; {_published('EMLP (exact)')}",
            quick=True,
        )
        check(
            f"level {key} cannot fit the misspecified term: test MSE >= the exact floor, "
            "the test MSE of the best equivariant predictor I (1 + 0.1/3)",
            (key,),
            lambda r: _test_mse(r) >= r.evaluation.metrics[_FLOOR],
            lambda r: f"{_test_mse(r):.3g} against {r.evaluation.metrics[_FLOOR]:.3g}",
            quick=True,
        )
    check(
        "level 0 (MLP) overfits: test MSE > 10x train MSE, and it is far from equivariant (error > 0.05)",
        ("0",),
        lambda r: _test_mse(r) > 10 * _train_mse(r) and _o3(r) > 0.05,
        lambda r: f"train / test / O(3) error {_row(r)}; {_published('MLP')}",
    )
    check(
        f"level 3r (soft symmetry) reaches test MSE <= {_RPP_TEST:g} (RPP's published)",
        ("3r",),
        lambda r: _test_mse(r) <= _RPP_TEST,
        lambda r: f"{_row(r)}; {_published('RPP (soft)')}",
    )
    check(
        "level 3r goes below the exact floor: its free path fits the z-axis term",
        ("3r",),
        lambda r: _test_mse(r) < r.evaluation.metrics[_FLOOR],
        lambda r: f"{_test_mse(r):.3g} against {r.evaluation.metrics[_FLOOR]:.3g}",
    )
    check(
        "level 3r beats the MLP and both exact levels on the test set",
        ("0", "3a", "3b", "3r"),
        lambda r0, ra, rb, rr: _test_mse(rr) < min(_test_mse(r0), _test_mse(ra), _test_mse(rb)),
        lambda r0, ra, rb, rr: (
            f"{_test_mse(rr):.3g} against {_test_mse(r0):.3g}, {_test_mse(ra):.3g}, {_test_mse(rb):.3g}"
        ),
    )
    for key in ("1", "2"):
        check(
            f"level {key} generalises far better than the MLP (test MSE < half level 0's)",
            ("0", key),
            lambda r0, r: _test_mse(r) < 0.5 * _test_mse(r0),
            lambda r0, r: f"{_row(r)} against {_test_mse(r0):.3g}",
        )
    others = [r for key, r in results.items() if key != "4"]

    def next_best(*_: LevelResult) -> float:
        return min(_test_mse(r) for r in others)

    check(
        "level 4 (physics) is far below every other level on the test set (< a third of the next best)",
        ("0", "4"),
        lambda r0, r4: _test_mse(r4) < next_best() / 3,
        lambda r0, r4: f"{_row(r4)}; next best {next_best():.3g}",
        quick=True,
    )
    return out


PROBLEM = Problem(
    name="inertia",
    summary="modified inertia tensor of Finzi et al. 2021: nearly O(3)-equivariant, exact against soft",
    levels=LEVELS,
    full_settings=FULL,
    quick_settings=QUICK,
    make_data=make_data,
    evaluate=evaluate,
    monitor=monitor,
    findings=findings,
    monitor_label="Finzi et al.'s scale-adjusted relative O(3) error on 500 test inputs",
    error_label="mean squared error over samples and the 9 entries",
    error_in_percent=False,
    monitor_column="O(3) error",
    extra_figures=published_comparison,
)
