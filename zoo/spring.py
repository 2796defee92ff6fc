"""A nonlinear spring, F = k1 x + k2 x³: the lecture's oddness ladder.

The force is odd in the displacement, F(-x) = -F(x).  The network sees noisy forces
for x > 0 only, and is tested on the training range, on x < 0 (its mirror image,
never seen) and beyond the training range on both sides.  Knowing the oddness is
the difference between predicting x < 0 and not:

====  ===========  ===============================================================
0     none         plain MLP
1     observation  ``symnn.augment(x, F, Parity(-1))``: every sample and its mirror image
2     learning     ``symnn.SymmetryPenalty(Parity(-1), elements="all")``: f(x) + f(-x) penalised
3     inductive    ``symnn.Odd(MLP)``: exactly odd
4a    physics      ``PhysicsResidual(k* x, Odd(MLP))``: learn only what the linear law misses
4b    physics      ``symnn.priors.spring()``: F = C1 x + C2 x³ derived from oddness, fitted in closed form
====  ===========  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sympy
import torch
from torch.nn.functional import mse_loss

import symnn
from zoo._problem import (
    Context,
    Evaluation,
    Finding,
    Level,
    LevelResult,
    Problem,
    RunResult,
    claim,
    evaluate_regression,
    model_dtype,
    relative_symmetry_error,
)
from zoo._report import new_figure, save_figure
from zoo._training import Trained

__all__ = ["PROBLEM", "SpringSettings", "ODD", "true_force"]

#: The force is odd in the displacement.
ODD = symnn.Parity(-1)


@dataclass(frozen=True)
class SpringSettings:
    """The spring problem's settings."""

    k1: float = 1.0
    k2: float = 0.5
    k_star: float = 1.0
    noise: float = 0.05
    n_train: int = 200
    train_range: tuple[float, float] = (0.0, 2.0)
    beyond_range: tuple[float, float] = (2.0, 3.0)
    n_test: int = 500
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "silu"
    epochs: int = 2000
    lr: float = 1e-3
    final_lr: float = 1e-5
    penalty_weight: float = 1.0
    n_probe: int = 256
    symmetry_floor: float = 0.1
    n_checkpoints: int = 40


FULL = SpringSettings()
QUICK = SpringSettings(n_test=200, epochs=200, lr=3e-3, final_lr=3e-5, n_probe=64, n_checkpoints=5)


def true_force(x: torch.Tensor, settings: SpringSettings) -> torch.Tensor:
    """F = k1 x + k2 x³, noise-free."""
    return settings.k1 * x + settings.k2 * x**3


@dataclass
class SpringData:
    """Training set (noisy, x > 0; float32 on the device and float64), test sets and a probe."""

    x: torch.Tensor
    y: torch.Tensor
    x64: torch.Tensor
    y64: torch.Tensor
    tests: dict[str, tuple[torch.Tensor, torch.Tensor]]
    probe: torch.Tensor


def _uniform(n: int, interval: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    low, high = interval
    return low + (high - low) * torch.rand(n, 1, generator=generator, dtype=torch.float64)


def make_data(settings: SpringSettings, generator: torch.Generator, device: torch.device) -> SpringData:
    x64 = _uniform(settings.n_train, settings.train_range, generator)
    y64 = true_force(x64, settings) + settings.noise * torch.randn(
        x64.shape, generator=generator, dtype=torch.float64
    )
    low, high = settings.train_range
    beyond_low, beyond_high = settings.beyond_range
    inputs = {  # 0.0 - v: no "-0" in a name
        f"train range x in ({low:g}, {high:g})": _uniform(settings.n_test, settings.train_range, generator),
        f"mirror x in ({-high:g}, {0.0 - low:g})": -_uniform(
            settings.n_test, settings.train_range, generator
        ),
        f"beyond x in ({beyond_low:g}, {beyond_high:g})": _uniform(
            settings.n_test, settings.beyond_range, generator
        ),
        f"beyond x in ({-beyond_high:g}, {0.0 - beyond_low:g})": -_uniform(
            settings.n_test, settings.beyond_range, generator
        ),
    }
    tests = {name: (x.to(device), true_force(x, settings).to(device)) for name, x in inputs.items()}
    probe = torch.linspace(-high, high, settings.n_probe, dtype=torch.float64).unsqueeze(-1)
    return SpringData(
        x64.float().to(device),
        y64.float().to(device),
        x64.to(device),
        y64.to(device),
        tests,
        probe.to(device),
    )


def _mirror_set(errors: dict[str, float]) -> str:
    return next(name for name in errors if name.startswith("mirror"))


def oddness_error(model: torch.nn.Module, probe: torch.Tensor, floor: float) -> float:
    """Largest relative violation of f(-x) = -f(x) on the probe."""
    return symnn.testing.equivariance_error(model, ODD, probe.to(model_dtype(model)), floor=floor)


def monitor(model: torch.nn.Module, data: SpringData, settings: SpringSettings) -> float:
    return relative_symmetry_error(model, ODD, data.probe, ODD.elements()[1:])


def evaluate(model: torch.nn.Module, data: SpringData, settings: SpringSettings) -> Evaluation:
    evaluation = evaluate_regression(model, data.tests)
    high = settings.beyond_range[1]
    curve_x = torch.linspace(-high, high, 301, dtype=torch.float64, device=data.probe.device).unsqueeze(-1)
    curve_y = model(curve_x.to(model_dtype(model))).double()
    evaluation.figure_data["curve"] = (curve_x.cpu().numpy().ravel(), curve_y.cpu().numpy().ravel())
    evaluation.metrics = {
        "oddness error (largest relative)": oddness_error(model, data.probe, settings.symmetry_floor),
        "oddness error (relative RMS)": monitor(model, data, settings),
    }
    return evaluation


def force_curves(run: RunResult, out: Path) -> list[Path]:
    """Every level's F(x) against the truth, with the training data: the lecture's picture."""
    figure, ax = new_figure(6.4, 4.2)
    settings, data = run.settings, run.data
    for result in run.levels:
        xs, predicted = result.evaluation.figure_data["curve"]
        ax.plot(xs, predicted, linewidth=1, label=f"{result.level.key}: {result.level.title}")
    xs_tensor = torch.as_tensor(xs).unsqueeze(-1)
    ax.plot(xs, true_force(xs_tensor, settings).numpy().ravel(), "k--", linewidth=1, label="truth")
    ax.scatter(
        data.x64.cpu().numpy(), data.y64.cpu().numpy(), s=3, color="gray", label="training data (x > 0)"
    )
    ax.axvspan(*settings.train_range, color="gray", alpha=0.08)
    ax.set_xlabel("x")
    ax.set_ylabel("F")
    ax.set_title("spring: learned force against the truth (grey: training range)", fontsize=10)
    ax.legend(fontsize=6)
    return [save_figure(figure, out / "force_curves.png")]


# --- the levels: each bias is one or two lines of symnn ---------------------------------


def backbone(settings: SpringSettings) -> torch.nn.Module:
    return symnn.MLP(1, 1, hidden=settings.hidden, activation=settings.activation)


def level_0(ctx: Context) -> Trained:
    """Plain MLP, plain loss."""
    return ctx.train_mse(backbone(ctx.settings))


def level_1(ctx: Context) -> Trained:
    """Observation bias: each sample (x, F) and its mirror image (-x, -F)."""
    x, y = symnn.augment(ctx.data.x, ctx.data.y, ODD, copies="orbit")
    return ctx.train_mse(backbone(ctx.settings), x, y)


def level_2(ctx: Context) -> Trained:
    """Learning bias: the lecture's penalty on f(x) + f(-x), no labels needed."""
    model, x, y = backbone(ctx.settings), ctx.data.x, ctx.data.y
    oddness = symnn.SymmetryPenalty(ODD, weight=ctx.settings.penalty_weight, elements="all")
    return ctx.train(model, lambda: mse_loss(model(x), y) + oddness(model, x))


def level_3(ctx: Context) -> Trained:
    """Inductive bias: f(x) = (g(x) - g(-x)) / 2, odd by construction."""
    return ctx.train_mse(symnn.Odd(backbone(ctx.settings)))


def linear_law(k_star: float) -> symnn.priors.SympyModule:
    """The known linear law F = k* x, as a module with its constant fixed."""
    x, k = sympy.symbols("x k")
    return symnn.priors.SympyModule(k * x, [x], initial={k: k_star})


def level_4a(ctx: Context) -> Trained:
    """Physics bias: F = k* x (known, frozen) + an odd learned correction."""
    model = symnn.PhysicsResidual(
        linear_law(ctx.settings.k_star), symnn.Odd(backbone(ctx.settings)), train_baseline=False
    )
    return ctx.train_mse(model)


def level_4b(ctx: Context) -> Trained:
    """Physics bias: F = C1 x + C2 x³ (derived from oddness by sympy), C1 and C2 in closed form."""
    prior = symnn.priors.SympyModule(symnn.priors.spring())
    trained = ctx.fit(lambda: symnn.priors.fit_constants(prior, ctx.data.x64, ctx.data.y64).module)
    constants = prior.constant_values()
    trained.history.extras.update({f"fitted {name}": value for name, value in constants.items()})
    return trained


LEVELS = (
    Level("0", "none", "plain MLP", level_0),
    Level("1", "observation", "augment with the mirror images (2x data)", level_1),
    Level("2", "learning", "oddness penalty f(x) + f(-x)", level_2),
    Level("3", "inductive", "Odd(MLP)", level_3),
    Level("4a", "physics", "PhysicsResidual(k* x, Odd(MLP))", level_4a),
    Level("4b", "physics", "priors.spring(): C1 x + C2 x³, closed-form fit", level_4b),
)


# --- what the results must show ---------------------------------------------------------

# "Predicts x < 0": a relative RMS error on the mirror set this small.
_PREDICTS = 0.1


def findings(results: dict[str, LevelResult], quick: bool) -> list[Finding]:
    out: list[Finding] = []

    def mirror(r: LevelResult) -> float:
        return r.evaluation.errors[_mirror_set(r.evaluation.errors)]

    out.append(
        claim(
            results,
            f"level 0 does not predict x < 0 (error there > {_PREDICTS:.0%})",
            ("0",),
            lambda r: mirror(r) > _PREDICTS,
            lambda r: f"{mirror(r):.1%}",
            quick=True,
        )
    )
    for key in ("1", "2", "3", "4a", "4b"):
        out.append(
            claim(
                results,
                f"level {key} predicts x < 0 (error there <= {_PREDICTS:.0%})",
                (key,),
                lambda r: mirror(r) <= _PREDICTS,
                lambda r: f"{mirror(r):.1%}",
                quick=key in ("3", "4a", "4b"),
            )
        )
    for key in ("3", "4a", "4b"):
        out.append(
            claim(
                results,
                f"level {key} is exactly odd (oddness error 0)",
                (key,),
                lambda r: r.evaluation.metrics["oddness error (largest relative)"] == 0.0,
                lambda r: f"{r.evaluation.metrics['oddness error (largest relative)']:.1e}",
                quick=True,
            )
        )
    return out


PROBLEM = Problem.from_module(
    __name__,
    name="spring",
    summary="nonlinear spring F = k1 x + k2 x³ trained on x > 0: the oddness ladder",
    monitor_label="relative RMS of f(-x) + f(x) on x in (-2, 2)",
    error_label="relative RMS error",
    monitor_column="oddness error",
    extra_figures=force_curves,
)
