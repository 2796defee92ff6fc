"""A nonlinear elastic bar: keep the equation, learn the constitutive law σ(ε).

A bar on [0, 1], fixed at both ends (u(0) = u(1) = 0), under a distributed load f(x):
−(σ(u′))′ = f, with the true law σ(ε) = E ε + β ε³ (E = 2, β = 4: the cubic term is
about 45 % of the stress at the largest training strain).  With both ends fixed the
stress is not known from statics alone: every prediction is a real nonlinear solve.

Data: displacements at 19 sensors (x = k/20) for 50 training loads
a·sin(πx) + b·x + c (|a| ≤ 4, |b|, |c| ≤ 2), with noise of 0.2 % of the displacements'
spread, computed on a mesh 4× finer (480 elements) than the 120 linear elements of
the models' own solver (so the data are not the models' discretisation).  A load is
given by its five coefficients over the basis (sin πx, x, 1, sin 2πx, x²); the
training family uses the first three.  Test sets: 30 held-out loads of the family,
the same loads ×2.5 (strains beyond the training range) and a new shape
d·sin(2πx) + e·x², never seen.

Levels 0 and 3 learn the load-to-displacement map; levels 4 and 4b keep the equation
and learn only σ(ε), inside :func:`symnn.solve.newton` (damped Newton iterations,
gradients by the implicit function theorem).  :data:`LEVELS` is the ladder
(``symnn-zoo list elasticity`` prints it with each level's description).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import sympy
import torch
from matplotlib.figure import Figure
from torch import nn

import symnn
from symnn.solve import newton

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
    evaluate_regression,
)
from ._report import save_figure
from ._training import History, Settings, Trained, checkpoint_epochs, clock, synchronize

__all__ = ["PROBLEM", "ElasticitySettings", "Bar", "load_basis", "true_law"]

DTYPE = torch.float64


@dataclass(frozen=True)
class ElasticitySettings(Settings):
    """The elasticity problem's settings (``epochs``, ``lr``: the Adam levels 0 and 3)."""

    E: float = 2.0
    beta: float = 4.0
    elements: int = 120
    data_refinement: int = 4
    n_sensors: int = 19
    n_train: int = 50
    n_test: int = 30
    family_amplitude: tuple[float, float, float] = (4.0, 2.0, 2.0)
    new_shape_amplitude: tuple[float, float] = (6.0, 6.0)
    larger_factor: float = 2.5
    noise: float = 0.002
    load_points: int = 9
    width: int = 64
    law_width: int = 32
    lbfgs_iterations: int = 500
    lbfgs_iterations_form: int = 50
    n_probe: int = 10
    epochs: int = 3000
    lr: float = 3e-3
    final_lr: float = 0.0
    n_checkpoints: int = 10


FULL = ElasticitySettings()
QUICK = ElasticitySettings(epochs=1500, width=32, law_width=16, lbfgs_iterations=200, n_checkpoints=5)


def true_law(strain: torch.Tensor, settings: ElasticitySettings) -> torch.Tensor:
    """σ = E ε + β ε³."""
    return settings.E * strain + settings.beta * strain**3


def load_basis(x: torch.Tensor) -> torch.Tensor:
    """The load shapes (sin πx, x, 1, sin 2πx, x²) at ``x``, shape ``(..., 5)``."""
    return torch.stack(
        [torch.sin(math.pi * x), x, torch.ones_like(x), torch.sin(2 * math.pi * x), x**2], dim=-1
    )


def load_values(loads: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """f(x) for each load's five coefficients: ``(B, 5)``, ``(n,)`` → ``(B, n)``."""
    return loads @ load_basis(x).to(loads.dtype).mT


class Bar:
    """Linear finite elements for −(σ(u′))′ = f on a uniform mesh of [0, 1], u(0) = u(1) = 0.

    The unknowns are u at the ``elements − 1`` interior nodes; element i's strain is
    (u_{i+1} − u_i)/h, and node i's residual σ_{i−1} − σ_i − h f(x_i) (the load lumped
    at the nodes).  The Jacobian is tridiagonal, which :func:`symnn.solve.newton` is
    told (``bandwidth=1``).
    """

    def __init__(self, elements: int, n_sensors: int) -> None:
        self.h = 1.0 / elements
        self.x = torch.arange(1, elements, dtype=DTYPE) * self.h
        stride, rest = divmod(elements, n_sensors + 1)
        if rest:
            raise ValueError(
                f"expected elements divisible by n_sensors + 1 = {n_sensors + 1}; got {elements}"
            )
        self.sensor_index = torch.arange(1, n_sensors + 1) * stride - 1

    def strains(self, u: torch.Tensor) -> torch.Tensor:
        """The element strains of nodal displacements ``(..., n)`` → ``(..., n + 1)``."""
        return torch.diff(nn.functional.pad(u, (1, 1)), dim=-1) / self.h

    def solve(
        self,
        law: Callable[[torch.Tensor], torch.Tensor],
        loads: torch.Tensor,
        params: tuple[torch.Tensor, ...] = (),
        u0: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The nodal displacements ``(B, n)`` for loads ``(B, 5)``; differentiable in ``params``."""
        forcing = self.h * load_values(loads, self.x)

        def residual(u: torch.Tensor, forcing: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
            stress = law(self.strains(u))
            return stress[..., :-1] - stress[..., 1:] - forcing

        start = torch.zeros_like(forcing) if u0 is None else u0
        return newton(residual, start, (forcing, *params), bandwidth=1)


@dataclass
class ElasticityData:
    """Training loads and noisy sensor displacements, test sets, and the strains each set reaches."""

    x: torch.Tensor
    y: torch.Tensor
    u_scale: float
    tests: list[TestSet]
    max_strain: dict[str, float]


def make_data(
    settings: ElasticitySettings, generator: torch.Generator, device: torch.device
) -> ElasticityData:
    def family(n: int) -> torch.Tensor:
        scale = torch.tensor(settings.family_amplitude, dtype=DTYPE)
        coefficients = (2 * torch.rand(n, 3, generator=generator, dtype=DTYPE) - 1) * scale
        return torch.cat([coefficients, torch.zeros(n, 2, dtype=DTYPE)], dim=1)

    train, held_out = family(settings.n_train), family(settings.n_test)
    scale = torch.tensor(settings.new_shape_amplitude, dtype=DTYPE)
    shaped = (2 * torch.rand(settings.n_test, 2, generator=generator, dtype=DTYPE) - 1) * scale
    new_shape = torch.cat([torch.zeros(settings.n_test, 3, dtype=DTYPE), shaped], dim=1)
    fine = Bar(settings.data_refinement * settings.elements, settings.n_sensors)

    def law(strain: torch.Tensor) -> torch.Tensor:
        return true_law(strain, settings)

    sets = [  # (name, in distribution, kind, loads)
        ("training loads (noise-free)", True, "train", train),
        ("held-out loads", True, "held-out", held_out),
        (f"held-out ×{settings.larger_factor:g}", False, "larger", settings.larger_factor * held_out),
        ("new shape d sin 2πx + e x²", False, "new shape", new_shape),
    ]
    tests, max_strain = [], {}
    for name, in_distribution, kind, loads in sets:
        u = fine.solve(law, loads)
        tests.append(
            TestSet(name, loads.to(device), u[:, fine.sensor_index].to(device), in_distribution, kind)
        )
        max_strain[kind] = float(fine.strains(u).abs().max())
    clean = tests[0].y
    u_scale = float(clean.std())
    noisy = clean + settings.noise * u_scale * torch.randn(clean.shape, generator=generator, dtype=DTYPE).to(
        device
    )
    return ElasticityData(train.to(device), noisy, u_scale, tests, max_strain)


def scaled_mse(data: ElasticityData) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The training loss: mean squared displacement error over the displacements' spread squared."""

    def loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((predicted - target) ** 2).mean() / data.u_scale**2

    return loss


def alignment_probe(data: ElasticityData, settings: ElasticitySettings):
    """The first ``n_probe`` training loads, their noisy displacements, the training loss."""
    return data.x[: settings.n_probe], data.y[: settings.n_probe], scaled_mse(data)


# --- the models --------------------------------------------------------------------------


class AbsX(nn.Module):
    """(f_1, ..., f_k, x) → (f_1, ..., f_k, |x|): even in x, so ``Odd`` around it is odd in the load alone."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([z[..., :-1], z[..., -1:].abs()], dim=-1)


class LoadNet(nn.Module):
    """Levels 0 and 3: u at the sensors from the load's values at ``load_points`` points and x.

    The load enters as its values, not its coefficients, so that any load shape is
    expressible (the new shape is not a column the network never saw).
    """

    def __init__(self, settings: ElasticitySettings, odd: bool) -> None:
        super().__init__()
        width = settings.width
        core = symnn.MLP(settings.load_points + 1, 1, hidden=(width, width, width)).to(DTYPE)
        self.net = symnn.Odd(nn.Sequential(AbsX(), core)) if odd else core
        self.register_buffer("points", torch.linspace(0, 1, settings.load_points, dtype=DTYPE))
        self.register_buffer(
            "sensors", torch.arange(1, settings.n_sensors + 1, dtype=DTYPE) / (settings.n_sensors + 1)
        )
        self.load_scale = max(settings.family_amplitude)

    def forward(self, loads: torch.Tensor) -> torch.Tensor:  # (B, 5) -> (B, sensors)
        values = load_values(loads, self.points) / self.load_scale
        b, s = loads.shape[0], self.sensors.numel()
        z = torch.cat([values.unsqueeze(1).expand(b, s, -1), self.sensors.expand(b, s).unsqueeze(-1)], dim=-1)
        return self.net(z).squeeze(-1)


class Law(nn.Module):
    """σ(ε) elementwise, from a module on ``(..., 1)``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, strain: torch.Tensor) -> torch.Tensor:
        return self.net(strain.unsqueeze(-1)).squeeze(-1)


class SolverModel(nn.Module):
    """Levels 4 and 4b: loads → the solver's displacements at the sensors, with the learned law inside.

    In training mode each solve starts from the previous one's solution for the same
    batch (a warm start); in eval mode from zero, so that evaluation and the training
    records never touch the warm start.
    """

    def __init__(self, law: nn.Module, settings: ElasticitySettings) -> None:
        super().__init__()
        self.law = law
        self.bar = Bar(settings.elements, settings.n_sensors)
        self.warm: torch.Tensor | None = None

    def forward(self, loads: torch.Tensor) -> torch.Tensor:
        params = tuple(p for p in self.law.parameters() if p.requires_grad)
        warm = (
            self.warm
            if self.training and self.warm is not None and self.warm.shape[0] == len(loads)
            else None
        )
        u = self.bar.solve(self.law, loads, params, warm)
        if self.training:
            self.warm = u.detach()
        return u[:, self.bar.sensor_index.to(u.device)]


class MonotoneTanhSum(nn.Module):
    """g(ε) = Σ_j softplus(v_j) tanh(softplus(w_j) ε + b_j): increasing in ε for every parameter value."""

    def __init__(self, width: int, generator: torch.Generator) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(width, generator=generator, dtype=DTYPE))
        self.b = nn.Parameter(2 * torch.randn(width, generator=generator, dtype=DTYPE))
        self.v = nn.Parameter(torch.full((width,), -6.0, dtype=DTYPE))  # starts near g = 0

    def forward(self, strain: torch.Tensor) -> torch.Tensor:  # (..., 1) -> (..., 1)
        t = torch.tanh(nn.functional.softplus(self.w) * strain + self.b)
        return (nn.functional.softplus(self.v) * t).sum(-1, keepdim=True)


class PositiveLinear(nn.Module):
    """k ε with k = softplus(raw) > 0."""

    def __init__(self, initial: float) -> None:
        super().__init__()
        self.raw = nn.Parameter(torch.tensor(math.log(math.expm1(initial)), dtype=DTYPE))

    def forward(self, strain: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(self.raw) * strain


def train_through_solver(ctx: Context, model: SolverModel, iterations: int) -> Trained:
    """Full-batch L-BFGS (strong Wolfe line search) on the training loss, through the solver.

    L-BFGS, not the shared Adam loop: with a handful of law parameters and a
    deterministic full-batch loss, its quasi-Newton steps reach the noise floor in a
    few hundred solves.  The checkpoints (symmetry error, gradient alignment) are
    recorded between chunks of iterations, outside the clock, like the shared loop's.
    """
    data, settings, device = ctx.data, ctx.settings, ctx.device
    model.to(device)
    loss_of = scaled_mse(data)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.LBFGS(
        params,
        lr=1,
        max_iter=iterations,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        history_size=20,
    )
    history = History(seconds=0.0)
    alignment = ctx.alignment(model)

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(model(data.x), data.y)
        loss.backward()
        history.loss.append(float(loss.detach()))
        return loss

    def record() -> None:
        model.eval()
        epoch = len(history.loss)
        with torch.no_grad():
            history.monitor_epochs.append(epoch)
            history.monitor_values.append(float(monitor(model, data, settings)))
        if alignment is not None:
            history.alignment_epochs.append(epoch)
            history.alignment.append(alignment())
        model.train()

    model.train()
    checkpoints = checkpoint_epochs(iterations, settings.n_checkpoints)
    record()
    for done, target in pairwise(checkpoints):
        optimizer.param_groups[0]["max_iter"] = target - done  # the curvature history carries over
        synchronize(device)
        start = clock(device)
        optimizer.step(closure)
        history.seconds += clock(device) - start
        record()
    return Trained(model, history)


# --- the levels --------------------------------------------------------------------------


def level_0(ctx: Context) -> Trained:
    """Plain MLP from (the load's values at 9 points, x) to u(x) at the sensors; no physics."""
    model = LoadNet(ctx.settings, odd=False)
    loss = scaled_mse(ctx.data)
    return ctx.train(model, lambda: loss(model(ctx.data.x), ctx.data.y))


def level_3(ctx: Context) -> Trained:
    """Inductive bias: u(−f) = −u(f), which an odd σ implies, built in: ``Odd`` over (load, |x|).

    x enters as |x| (x > 0 anyway), so the network's oddness is oddness in the load alone.
    """
    model = LoadNet(ctx.settings, odd=True)
    loss = scaled_mse(ctx.data)
    return ctx.train(model, lambda: loss(model(ctx.data.x), ctx.data.y))


def level_4(ctx: Context) -> Trained:
    """Physics bias: the equation kept; σ = softplus(k) ε + Odd(g)(ε), g a monotone tanh sum, inside the solver.

    The learned part is ``symnn.Odd`` of a one-hidden-layer network whose output
    weights and slopes pass through softplus, so σ is increasing for every parameter
    value: every trial step of the L-BFGS line search is a law the bar has an
    equilibrium for (with a plain Odd(MLP), trial steps produced non-monotone laws,
    and the solver rightly raised ``NewtonError``).  Trained by L-BFGS through
    ``symnn.solve.newton``, gradients by the implicit function theorem.
    """
    learned = symnn.Odd(MonotoneTanhSum(ctx.settings.law_width, ctx.generator))
    law = Law(symnn.PhysicsResidual(PositiveLinear(1.0), learned))
    return train_through_solver(ctx, SolverModel(law, ctx.settings), ctx.settings.lbfgs_iterations)


def cubic_form() -> symnn.priors.SympyModule:
    """σ = C1 ε + C2 ε³, derived by ``symnn.priors.derive`` (degree ≤ 3, odd), starting at σ = ε."""
    strain = sympy.Symbol("eps")
    derivation = symnn.priors.derive([strain], 3, homogeneous=False, symmetries=[symnn.Parity(-1)])
    return symnn.priors.SympyModule(derivation, initial={"C1": 1.0, "C2": 0.0})


def level_4b(ctx: Context) -> Trained:
    """Physics bias: σ = C1 ε + C2 ε³ from ``symnn.priors.derive`` (odd, degree ≤ 3), C1 and C2 fitted through the solver."""
    form = cubic_form()
    trained = train_through_solver(
        ctx, SolverModel(Law(form), ctx.settings), ctx.settings.lbfgs_iterations_form
    )
    trained.history.extras.update({f"fitted {name}": value for name, value in form.constant_values().items()})
    return trained


LEVELS = (
    Level("0", "none", "plain MLP (load values, x) -> u", level_0),
    Level("3", "inductive", "Odd over the load: u(-f) = -u(f)", level_3),
    Level("4", "physics", "solver + learned monotone law k eps + Odd(g)(eps)", level_4),
    Level("4b", "physics", "solver + priors.derive form C1 eps + C2 eps³", level_4b),
)


# --- monitor, evaluation, figure -------------------------------------------------------


def monitor(model: nn.Module, data: ElasticityData, settings: ElasticitySettings) -> float:
    """Relative RMS of u(−f) + u(f) on the probe loads: 0 for a model odd in the load."""
    loads = data.x[: settings.n_probe]
    return float((model(loads) + model(-loads)).norm() / model(loads).norm())


def law_error(law: nn.Module, settings: ElasticitySettings, low: float, high: float) -> float:
    """max |σ_θ(ε) − σ(ε)| / max |σ(ε)| over ε in [low, high]."""
    strain = torch.linspace(low, high, 401, dtype=DTYPE)
    true = true_law(strain, settings)
    return float((law(strain).double() - true).abs().max() / true.abs().max())


_WITHIN = "law error over the training strains (max |Δσ| / max σ)"
_BEYOND = "law error beyond them, to the ×{:g} strains"


def evaluate(model: nn.Module, data: ElasticityData, settings: ElasticitySettings) -> Evaluation:
    evaluation = evaluate_regression(model, data.tests)
    evaluation.metrics["oddness in the load (relative RMS)"] = monitor(model, data, settings)
    for kind, strain in data.max_strain.items():
        evaluation.metrics[f"largest strain: {kind}"] = strain
    if isinstance(model, SolverModel):
        trained, larger = data.max_strain["train"], data.max_strain["larger"]
        evaluation.metrics[_WITHIN] = law_error(model.law, settings, 0.0, trained)
        evaluation.metrics[_BEYOND.format(settings.larger_factor)] = law_error(
            model.law, settings, trained, larger
        )
        strain = torch.linspace(0, max(data.max_strain.values()), 301, dtype=DTYPE)
        evaluation.figure_data["law"] = (strain.numpy(), model.law(strain).double().numpy())
    return evaluation


def law_curves(run: RunResult, out: Path) -> list[Path]:
    """σ_θ(ε) of the solver levels against the true law, up to the largest strain of each test set."""
    figure = Figure(figsize=(11.0, 4.0))
    law_ax, error_ax = figure.subplots(1, 2)
    settings, data = run.settings, run.data
    top = max(data.max_strain.values())
    strain = np.linspace(0, top, 301)
    truth = true_law(torch.as_tensor(strain), settings).numpy()
    law_ax.plot(strain, truth, "k--", linewidth=1.2, label="true σ = E ε + β ε³")
    for result in run.levels:
        if "law" in result.evaluation.figure_data:
            xs, sigma = result.evaluation.figure_data["law"]
            label = f"{result.level.key}: {result.level.title}"
            law_ax.plot(xs, sigma, linewidth=1, label=label)
            error_ax.plot(
                xs[1:],
                np.abs(sigma[1:] / true_law(torch.as_tensor(xs[1:]), settings).numpy() - 1),
                label=label,
            )
    for ax in (law_ax, error_ax):
        for (kind, reach), style in zip(data.max_strain.items(), (":", "-.", "--", "-")):
            ax.axvline(reach, color="0.5", linestyle=style, linewidth=0.8, label=f"largest strain: {kind}")
        ax.axvspan(0, data.max_strain["train"], color="gray", alpha=0.08)
        ax.set_xlabel("strain ε")
    law_ax.set_ylabel("stress σ")
    law_ax.set_title("elasticity: learned σ(ε) against the truth (grey: training strains)", fontsize=10)
    law_ax.legend(fontsize=6)
    error_ax.set_yscale("log")
    error_ax.set_ylabel("|σ_θ / σ − 1|")
    error_ax.set_title("relative error of the learned law", fontsize=10)
    return [save_figure(figure, out / "stress_strain.png")]


# --- what the results must show ---------------------------------------------------------


def _error(result: LevelResult, kind: str) -> float:
    (value,) = result.evaluation.errors_on(kind=kind).values()
    return value


def findings(results: dict[str, LevelResult], settings: ElasticitySettings) -> list[Finding]:
    out: list[Finding] = []

    def check(*args, **kwargs) -> None:
        out.append(claim(results, *args, **kwargs))

    for key in ("4", "4b"):
        for kind in ("held-out", "new shape"):
            check(
                f"level {key} predicts the {kind} loads within 2x its error on the training loads",
                (key,),
                lambda r, kind=kind: _error(r, kind) <= 2 * _error(r, "train"),
                lambda r, kind=kind: f"{_error(r, kind):.2e} against {_error(r, 'train'):.2e}",
                quick=True,
            )
    for key in ("0", "3"):
        check(
            f"level {key} fails on the new shape (error >= 5x its error on the training loads)",
            (key,),
            lambda r: _error(r, "new shape") >= 5 * _error(r, "train"),
            lambda r: f"{_error(r, 'new shape'):.2e} against {_error(r, 'train'):.2e}",
            quick=True,
        )
    check(
        f"level 4b also holds at the larger amplitudes (×{settings.larger_factor:g}: within 2x its training error)",
        ("4b",),
        lambda r: _error(r, "larger") <= 2 * _error(r, "train"),
        lambda r: f"{_error(r, 'larger'):.2e} against {_error(r, 'train'):.2e}",
        quick=True,
    )
    for key in ("4", "4b"):
        check(
            f"level {key}'s learned σ(ε) is within 2% of the true law over the training strains",
            (key,),
            lambda r: r.evaluation.metrics[_WITHIN] <= 0.02,
            lambda r: (
                f"{r.evaluation.metrics[_WITHIN]:.2%} up to ε = {r.evaluation.metrics['largest strain: train']:.2f}"
            ),
            quick=True,
        )
    check(
        f"level 4b recovers E = {settings.E:g} and β = {settings.beta:g} within 1%",
        ("4b",),
        lambda r: (
            abs(r.evaluation.metrics["fitted C1"] / settings.E - 1) <= 0.01
            and abs(r.evaluation.metrics["fitted C2"] / settings.beta - 1) <= 0.01
        ),
        lambda r: f"C1 {r.evaluation.metrics['fitted C1']:.5f}, C2 {r.evaluation.metrics['fitted C2']:.5f}",
        quick=True,
    )
    return out


PROBLEM = Problem(
    name="elasticity",
    summary="a nonlinear elastic bar -(σ(u'))' = f, σ = E ε + β ε³: keep the equation and learn σ(ε)",
    levels=LEVELS,
    full_settings=FULL,
    quick_settings=QUICK,
    make_data=make_data,
    evaluate=evaluate,
    monitor=monitor,
    findings=findings,
    monitor_label="relative RMS of u(-f) + u(f) on the probe loads",
    error_label="relative RMS displacement error at the sensors",
    monitor_column="oddness in the load",
    extra_figures=law_curves,
    alignment_probe=alignment_probe,
    alignment_method="exact",
)
