"""A nonlinear spring, F = k1 x + k2 x³: the lecture's oddness ladder.

The force is odd in the displacement, F(-x) = -F(x).  The network sees noisy forces
for x > 0 only, and is tested on the training range, on x < 0 (its mirror image,
never seen) and beyond the training range on both sides.  Knowing the oddness is
the difference between predicting x < 0 and not.  :data:`LEVELS` below is the
ladder (``symnn-zoo list spring`` prints it, with each level's description).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sympy
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
    RunResult,
    TestSet,
    claim,
    evaluate_regression,
    model_dtype,
    relative_symmetry_error,
)
from ._report import new_figure, save_figure
from ._training import Settings, Trained

__all__ = ["PROBLEM", "SpringSettings", "ODD", "true_force"]

#: The force is odd in the displacement.
ODD = symnn.Parity(-1)


@dataclass(frozen=True)
class SpringSettings(Settings):
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
    penalty_weight: float = 1.0
    n_probe: int = 256
    symmetry_floor: float = 0.1


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
    tests: list[TestSet]
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
    inputs = [  # (name, kind, x); 0.0 - v: no "-0" in a name
        (
            f"train range x in ({low:g}, {high:g})",
            "train range",
            _uniform(settings.n_test, settings.train_range, generator),
        ),
        (
            f"mirror x in ({-high:g}, {0.0 - low:g})",
            "mirror",
            -_uniform(settings.n_test, settings.train_range, generator),
        ),
        (
            f"beyond x in ({beyond_low:g}, {beyond_high:g})",
            "beyond",
            _uniform(settings.n_test, settings.beyond_range, generator),
        ),
        (
            f"beyond x in ({-beyond_high:g}, {0.0 - beyond_low:g})",
            "beyond mirror",
            -_uniform(settings.n_test, settings.beyond_range, generator),
        ),
    ]
    tests = [
        TestSet(name, x.to(device), true_force(x, settings).to(device), kind == "train range", kind)
        for name, kind, x in inputs
    ]
    probe = torch.linspace(-high, high, settings.n_probe, dtype=torch.float64).unsqueeze(-1)
    return SpringData(
        x64.float().to(device),
        y64.float().to(device),
        x64.to(device),
        y64.to(device),
        tests,
        probe.to(device),
    )


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
    """Inductive bias: f(x) = (g(x) - g(-x)) / 2, odd by construction.

    ``symnn.enforce`` picks ``Odd`` from the symmetry ``Parity(-1)``.
    """
    return ctx.train_mse(symnn.enforce(backbone(ctx.settings), ODD))


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
_ODDNESS = "oddness error (largest relative)"


def _mirror(r: LevelResult) -> float:
    return r.evaluation.error_on(kind="mirror", in_distribution=False)


def findings(results: dict[str, LevelResult], settings: SpringSettings) -> list[Finding]:
    out: list[Finding] = []

    def check(*args, **kwargs) -> None:
        out.append(claim(results, *args, **kwargs))

    check(
        f"level 0 does not predict x < 0 (error there > {_PREDICTS:.0%})",
        ("0",),
        lambda r: _mirror(r) > _PREDICTS,
        lambda r: f"{_mirror(r):.1%}",
        quick=True,
    )
    for key in ("1", "2", "3", "4a", "4b"):
        check(
            f"level {key} predicts x < 0 (error there <= {_PREDICTS:.0%})",
            (key,),
            lambda r: _mirror(r) <= _PREDICTS,
            lambda r: f"{_mirror(r):.1%}",
            quick=key in ("1", "3", "4a", "4b"),
        )
        check(
            f"level {key} at least halves level 0's error on x < 0",
            ("0", key),
            lambda r0, r: _mirror(r) < 0.5 * _mirror(r0),
            lambda r0, r: f"{_mirror(r):.1%} against {_mirror(r0):.1%}",
            quick=True,
        )
    for key in ("3", "4a", "4b"):
        check(
            f"level {key} is exactly odd (oddness error 0, largest and RMS)",
            (key,),
            lambda r: r.evaluation.metrics[_ODDNESS] == 0.0 and r.monitor_final == 0.0,
            lambda r: f"{r.evaluation.metrics[_ODDNESS]:.1e}, RMS {r.monitor_final:.1e}",
            quick=True,
        )
    for key in ("0", "1", "2"):
        check(
            f"level {key} is not exactly odd (oddness error > 0)",
            (key,),
            lambda r: r.monitor_final > 0.0,
            lambda r: f"RMS {r.monitor_final:.1e}",
            quick=True,
        )
    check(
        "level 4b recovers the spring constants k1 and k2 (within 5%)",
        ("4b",),
        lambda r: (
            abs(r.evaluation.metrics["fitted C1"] / settings.k1 - 1) <= 0.05
            and abs(r.evaluation.metrics["fitted C2"] / settings.k2 - 1) <= 0.05
        ),
        lambda r: f"C1 {r.evaluation.metrics['fitted C1']:.4f}, C2 {r.evaluation.metrics['fitted C2']:.4f}",
        quick=True,
    )
    return out


PROBLEM = Problem(
    name="spring",
    summary="nonlinear spring F = k1 x + k2 x³ trained on x > 0: the oddness ladder",
    levels=LEVELS,
    full_settings=FULL,
    quick_settings=QUICK,
    make_data=make_data,
    evaluate=evaluate,
    monitor=monitor,
    findings=findings,
    monitor_label="relative RMS of f(-x) + f(x) on x in (-2, 2)",
    error_label="relative RMS error",
    monitor_column="oddness error",
    extra_figures=force_curves,
)
