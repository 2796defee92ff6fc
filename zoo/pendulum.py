"""A pendulum's period: units as a symmetry, and a ladder that travels to the Moon.

The period of a pendulum of length L, bob mass m and amplitude θ0 under gravity g is

    T = 4 sqrt(L/g) K(sin²(θ0/2))

(K the complete elliptic integral of the first kind, :func:`scipy.special.ellipk`,
whose argument is the parameter m = k²).  The networks see laboratory pendulums on
Earth only (L in 0.2-1 m, m in 0.1-1 kg, g in 9.78-9.83 m/s², θ0 up to 2.5 rad) and
are tested in distribution and on the Moon, on Jupiter, on 10-100 m pendulums and
with a 1 g and a 100 kg bob.  Each out-of-distribution set is the in-distribution set
with one quantity changed (same amplitudes, same other columns), so that a set's error
measures that one shift alone.

The knowledge is the units of the columns, :data:`UNITS` and :data:`OUTPUT`: by the
Buckingham Π theorem ``T sqrt(g/L) = Φ(θ0)``, and m drops out.  Each level puts it in
one place (:data:`LEVELS`; ``symnn-zoo list pendulum`` prints them): augmentation by
changes of units, a penalty, the exactly covariant ``Dimensionless(MLP)``, the
small-angle law that units alone derive (``T = C sqrt(L/g)``, C fitted: 2π), and that
law plus a ``Dimensionless`` correction for the amplitude.

Besides the errors, every level's ratio T/T0 (T0 = 2π sqrt(L/g), the small-angle
period) is compared with the classical values at a few amplitudes: a table in
results.md and the figure ``period_ratio.png``.  150° and 170° lie beyond the
training amplitudes (2.5 rad = 143°).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy
import torch
from scipy.special import ellipk
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

__all__ = [
    "PROBLEM",
    "PendulumSettings",
    "UNITS",
    "OUTPUT",
    "UNIT_CHANGES",
    "ANGLES_DEG",
    "period",
    "classical_ratio",
    "small_angle_law",
]

#: The input columns and their units, in order.
UNITS = {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}
#: The output and its unit.
OUTPUT = ("T", "s")
#: Changes of units, each base dimension's factor log-uniform in (0.1, 10).
UNIT_CHANGES = symnn.UnitScaling(UNITS, OUTPUT, scale_range=(0.1, 10.0))
#: The amplitudes (degrees) at which T/T0 is compared with the classical values.
ANGLES_DEG = (10, 30, 60, 90, 120, 150, 170)
#: The probe pendulum for T/T0 (L, m, g); T/T0 does not depend on it.
_PROBE = (1.0, 0.5, 9.81)


@dataclass(frozen=True)
class PendulumSettings(Settings):
    """The pendulum problem's settings (the full setting: more data and epochs than quick)."""

    epochs: int = 3000
    lr: float = 3e-3
    final_lr: float = 3e-5
    n_train: int = 2000
    n_test: int = 1000
    length_range: tuple[float, float] = (0.2, 1.0)
    mass_range: tuple[float, float] = (0.1, 1.0)
    gravity_range: tuple[float, float] = (9.78, 9.83)
    max_amplitude: float = 2.5
    moon: float = 1.62
    jupiter: float = 24.8
    long_range: tuple[float, float] = (10.0, 100.0)
    light_bob: float = 0.001
    heavy_bob: float = 100.0
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "silu"
    copies: int = 4
    scale_range: tuple[float, float] = UNIT_CHANGES.scale_range  # recorded; UNIT_CHANGES fixes it
    penalty_weight: float = 1.0
    small_angle: float = 0.05
    n_probe: int = 256


#: The full setting: 2,000 rows, 3,000 epochs.  Quick mode halves the data and runs a
#: third of the epochs (1,000 rows, 1,000 epochs: about 25 s of training CPU time for
#: all levels), everything else the same; 300 epochs were measured to underfit level 0.
FULL = PendulumSettings()
QUICK = PendulumSettings(n_train=1000, epochs=1000, n_test=500, n_probe=64, n_checkpoints=10)


def period(x: torch.Tensor) -> torch.Tensor:
    """The exact period T = 4 sqrt(L/g) K(sin²(θ0/2)) of rows (L, m, g, θ0), float64 ``(..., 1)``."""
    x = x.double()
    L, g, theta0 = x[..., 0], x[..., 2], x[..., 3]
    k2 = torch.sin(theta0 / 2) ** 2
    K = torch.as_tensor(ellipk(k2.cpu().numpy()), dtype=torch.float64, device=x.device)
    return (4.0 * torch.sqrt(L / g) * K).unsqueeze(-1)


def classical_ratio(angles_deg: tuple[float, ...] | np.ndarray = ANGLES_DEG) -> np.ndarray:
    """T/T0 = (2/π) K(sin²(θ0/2)) at the given amplitudes (degrees)."""
    theta0 = np.radians(np.asarray(angles_deg, dtype=float))
    return 2.0 / np.pi * ellipk(np.sin(theta0 / 2.0) ** 2)


def _uniform(n: int, interval: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    low, high = interval
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def lab_pendulums(n: int, settings: PendulumSettings, generator: torch.Generator) -> torch.Tensor:
    """``n`` laboratory pendulums on Earth, rows (L, m, g, θ0), float64 ``(n, 4)``."""
    columns = (
        settings.length_range,
        settings.mass_range,
        settings.gravity_range,
        (0.0, settings.max_amplitude),
    )
    return torch.stack([_uniform(n, interval, generator) for interval in columns], dim=-1)


def probe_inputs(angles_deg: tuple[float, ...] | np.ndarray) -> torch.Tensor:
    """The probe pendulum at the given amplitudes, float64 ``(len(angles), 4)``."""
    L, m, g = _PROBE
    return torch.tensor([[L, m, g, math.radians(a)] for a in angles_deg], dtype=torch.float64)


def _small_angle_period() -> float:
    L, _, g = _PROBE
    return 2 * math.pi * math.sqrt(L / g)


@dataclass
class PendulumData:
    """Training set (float32 on the device, and float64), test sets and the monitor's probe."""

    x: torch.Tensor
    y: torch.Tensor
    x64: torch.Tensor
    y64: torch.Tensor
    tests: list[TestSet]
    probe: torch.Tensor


def make_data(settings: PendulumSettings, generator: torch.Generator, device: torch.device) -> PendulumData:
    x64 = lab_pendulums(settings.n_train, settings, generator)
    base = lab_pendulums(settings.n_test, settings, generator)
    n = settings.n_test
    # (name, kind, column, new values): the in-distribution rows with one column changed.
    shifts = [
        (f"Moon g={settings.moon:g}", "moon", 2, torch.full((n,), settings.moon, dtype=torch.float64)),
        (
            f"Jupiter g={settings.jupiter:g}",
            "jupiter",
            2,
            torch.full((n,), settings.jupiter, dtype=torch.float64),
        ),
        (
            f"L {settings.long_range[0]:g}-{settings.long_range[1]:g} m",
            "long",
            0,
            _uniform(n, settings.long_range, generator),
        ),
        (
            f"{settings.light_bob * 1000:g} g bob",
            "light bob",
            1,
            torch.full((n,), settings.light_bob, dtype=torch.float64),
        ),
        (
            f"{settings.heavy_bob:g} kg bob",
            "heavy bob",
            1,
            torch.full((n,), settings.heavy_bob, dtype=torch.float64),
        ),
    ]
    tests = [TestSet("lab (ID)", base, period(base), True, "lab")]
    for name, kind, column, values in shifts:
        x = base.clone()
        x[:, column] = values
        tests.append(TestSet(name, x, period(x), False, kind))
    return PendulumData(
        x64.float().to(device),
        period(x64).float().to(device),
        x64.to(device),
        period(x64).to(device),
        [test.to(device) for test in tests],
        lab_pendulums(settings.n_probe, settings, generator).to(device),
    )


#: The unit changes the covariance error is measured on: the same eight at every checkpoint.
CHECK_ELEMENTS = UNIT_CHANGES.sample(8, torch.Generator().manual_seed(0))


def monitor(model: torch.nn.Module, data: PendulumData, settings: PendulumSettings) -> float:
    """Relative RMS violation of f(D(λ) x) = λ_time f(x) on the ID probe (8 fixed unit changes)."""
    return relative_symmetry_error(model, UNIT_CHANGES, data.probe, CHECK_ELEMENTS)


def _ratio_key(angle: float) -> str:
    return f"T/T0 at {angle:g}°"


def evaluate(model: torch.nn.Module, data: PendulumData, settings: PendulumSettings) -> Evaluation:
    evaluation = evaluate_regression(model, data.tests)
    dtype, device = model_dtype(model), data.probe.device
    t0 = _small_angle_period()
    ratios = model(probe_inputs(ANGLES_DEG).to(device, dtype)).double().squeeze(-1) / t0
    for angle, ratio in zip(ANGLES_DEG, ratios.tolist()):
        evaluation.metrics[_ratio_key(angle)] = ratio
    for name, (predicted, true) in evaluation.predictions.items():
        evaluation.metrics[f"{name}: mean relative error"] = float(np.mean(np.abs(predicted - true) / true))
    curve_deg = np.linspace(0.0, 175.0, 176)
    curve = model(probe_inputs(curve_deg).to(device, dtype)).double().squeeze(-1) / t0
    evaluation.figure_data["ratio curve"] = (curve_deg, curve.cpu().numpy())
    return evaluation


def period_ratio_figure(run: RunResult, out: Path) -> list[Path]:
    """Every level's T/T0 against the amplitude, with the classical curve."""
    figure, ax = new_figure(6.4, 4.2)
    for result in run.levels:
        degrees, ratio = result.evaluation.figure_data["ratio curve"]
        ax.plot(degrees, ratio, linewidth=1, label=f"{result.level.key}: {result.level.title}")
    degrees = np.linspace(0.0, 175.0, 351)
    ax.plot(degrees, classical_ratio(degrees), "k--", linewidth=1, label="classical (2/π) K(sin²(θ0/2))")
    ax.plot(ANGLES_DEG, classical_ratio(), "ko", markersize=3)
    ax.axvspan(math.degrees(run.settings.max_amplitude), 175.0, color="gray", alpha=0.12)
    ax.set_xlabel("amplitude θ0 (degrees)")
    ax.set_ylabel("T / T0,  T0 = 2π sqrt(L/g)")
    ax.set_ylim(0.8, 3.5)
    ax.set_title("pendulum: period against amplitude (grey: beyond the training amplitudes)", fontsize=10)
    ax.legend(fontsize=6)
    return [save_figure(figure, out / "period_ratio.png")]


def period_ratio_table(run: RunResult) -> str:
    """T/T0 per level at :data:`ANGLES_DEG` against the classical values, as Markdown."""
    beyond = math.degrees(run.settings.max_amplitude)
    header = ["θ0", "classical", *(f"level {r.level.key}" for r in run.levels)]
    rows = []
    for angle, exact in zip(ANGLES_DEG, classical_ratio()):
        mark = " (beyond training)" if angle > beyond else ""
        cells = [f"{angle}°{mark}", f"{exact:.4f}"]
        cells += [f"{r.evaluation.metrics[_ratio_key(angle)]:.4f}" for r in run.levels]
        rows.append(cells)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    intro = (
        f"T/T0 (T0 = 2π sqrt(L/g), the small-angle period) of the probe pendulum L = {_PROBE[0]:g} m, "
        f"g = {_PROBE[2]:g} m/s², against the classical (2/π) K(sin²(θ0/2)); the training amplitudes "
        f"reach {beyond:.0f}°."
    )
    return "\n".join(["## T/T0 against amplitude", "", intro, "", *lines])


# --- the levels: each bias is one or two lines of symnn ---------------------------------


def backbone(settings: PendulumSettings, n_in: int = 4) -> torch.nn.Module:
    return symnn.MLP(n_in, 1, hidden=settings.hidden, activation=settings.activation)


def level_0(ctx: Context) -> Trained:
    """Plain MLP on (L, m, g, θ0), plain loss."""
    return ctx.train_mse(backbone(ctx.settings))


def level_1(ctx: Context) -> Trained:
    """Observation bias: each pendulum also in 4 random systems of units (factors 0.1-10)."""
    x, y = symnn.augment(
        ctx.data.x, ctx.data.y, UNIT_CHANGES, copies=ctx.settings.copies, generator=ctx.generator
    )
    return ctx.train_mse(backbone(ctx.settings), x, y)


def level_2(ctx: Context) -> Trained:
    """Learning bias: a penalty on f(D(λ) x) - λ_time f(x), a fresh unit change per row and step."""
    model, x, y = backbone(ctx.settings), ctx.data.x, ctx.data.y
    covariance = symnn.SymmetryPenalty(
        UNIT_CHANGES, weight=ctx.settings.penalty_weight, generator=ctx.generator
    )
    return ctx.train(model, lambda: mse_loss(model(x), y) + covariance(model, x, y))


def level_3(ctx: Context) -> Trained:
    """Inductive bias: T = sqrt(L/g) Φ(θ0), the MLP Φ sees the one Π group θ0; m is never read.

    ``symnn.enforce`` builds ``Dimensionless`` from the symmetry ``UnitScaling``.
    """
    return ctx.train_mse(symnn.enforce(backbone(ctx.settings, n_in=1), UNIT_CHANGES))


_SYMBOLS = sympy.symbols("L m g theta0", positive=True)


def small_angle_law() -> symnn.priors.Derivation:
    """The power law with the unit of T in L, m and g: ``T = C sqrt(L/g)`` (units alone; θ0 dropped)."""
    L, m, g, _ = _SYMBOLS
    return symnn.priors.derive([L, m, g], units={L: "m", m: "kg", g: "m/s**2"}, unit="s")


_FITTED = "fitted C / 2π"


def _fit_small_angle_law(ctx: Context) -> symnn.priors.SympyModule:
    """4a's law with C fitted in closed form on the training rows of amplitude below ``small_angle``."""
    derivation = small_angle_law()
    law = symnn.priors.SympyModule(derivation.expr, list(_SYMBOLS), derivation.constants)
    small = ctx.data.x64[:, 3] < ctx.settings.small_angle
    return symnn.priors.fit_constants(law, ctx.data.x64[small], ctx.data.y64[small]).module


def _record_constant(trained: Trained, law: symnn.priors.SympyModule) -> Trained:
    (value,) = law.constant_values().values()
    trained.history.extras[_FITTED] = value / (2 * math.pi)
    return trained


def level_4a(ctx: Context) -> Trained:
    """Physics bias: T = C sqrt(L/g), derived from units by priors.derive; C fitted on small amplitudes."""
    trained = ctx.fit(lambda: _fit_small_angle_law(ctx))
    return _record_constant(trained, trained.model)


def level_4b(ctx: Context) -> Trained:
    """Physics bias: 4a's law plus a Dimensionless(MLP) correction for the amplitude (the law frozen)."""
    law = _fit_small_angle_law(ctx)
    correction = symnn.Dimensionless(backbone(ctx.settings, n_in=1), UNITS, OUTPUT)
    return _record_constant(ctx.train_mse(symnn.PhysicsResidual(law, correction, train_baseline=False)), law)


LEVELS = (
    Level("0", "none", "plain MLP", level_0),
    Level("1", "observation", "augment with 4 unit changes per row (5x data)", level_1),
    Level("2", "learning", "unit-covariance penalty, one sampled change per row", level_2),
    Level("3", "inductive", "enforce(MLP, UnitScaling) = Dimensionless(MLP)", level_3),
    Level("4a", "physics", "T = C sqrt(L/g) from units, C fitted (small θ0)", level_4a),
    Level("4b", "physics", "PhysicsResidual(4a, Dimensionless(MLP))", level_4b),
)


# --- what the results must show ---------------------------------------------------------

_FAR_FROM_EARTH = ("moon", "jupiter", "long")


def _id(r: LevelResult) -> float:
    return r.evaluation.error_on(in_distribution=True, kind="lab")


def _ood(r: LevelResult) -> dict[str, float]:
    """The error on each out-of-distribution set, keyed by its kind."""
    evaluation = r.evaluation
    return {
        test.kind: evaluation.errors[name]
        for name, test in evaluation.test_sets.items()
        if not test.in_distribution
    }


def _ratio(r: LevelResult, angle: int) -> float:
    return r.evaluation.metrics[_ratio_key(angle)]


def findings(results: dict[str, LevelResult], settings: PendulumSettings) -> list[Finding]:
    out: list[Finding] = []
    classical = dict(zip(ANGLES_DEG, classical_ratio()))

    def check(*args, **kwargs) -> None:
        out.append(claim(results, *args, **kwargs))

    check(
        "level 0 fails off Earth: Moon, Jupiter and long-pendulum errors >= 10x its ID error",
        ("0",),
        lambda r: all(_ood(r)[kind] >= 10 * _id(r) for kind in _FAR_FROM_EARTH),
        lambda r: (
            f"ID {_id(r):.2%}; " + ", ".join(f"{k} {_ood(r)[k] / _id(r):.0f}x" for k in _FAR_FROM_EARTH)
        ),
        quick=True,
    )
    for key in ("3", "4b"):
        check(
            f"level {key} is as accurate on every OOD set as in distribution (within 1.5x)",
            (key,),
            lambda r: all(e <= 1.5 * _id(r) for e in _ood(r).values()),
            lambda r: f"ID {_id(r):.2%}, worst OOD {max(_ood(r).values()):.2%}",
            quick=True,
        )
        check(
            f"level {key} is unit-covariant to float32 rounding (covariance error < 1e-5)",
            (key,),
            lambda r: r.monitor_final < 1e-5,
            lambda r: f"{r.monitor_final:.1e}",
            quick=True,
        )
    for key in ("1", "2"):
        check(
            f"level {key} does not carry to every OOD set (worst OOD error >= 10x its ID error)",
            (key,),
            lambda r: max(_ood(r).values()) >= 10 * _id(r),
            lambda r: f"ID {_id(r):.2%}, worst OOD {max(_ood(r).values()):.2%}",
            quick=True,
        )
    check(
        "level 4a's fitted constant is 2π (within 0.1%)",
        ("4a",),
        lambda r: abs(r.evaluation.metrics[_FITTED] - 1) < 1e-3,
        lambda r: f"C/2π = {r.evaluation.metrics[_FITTED]:.5f}",
        quick=True,
    )
    check(
        "level 4a is exact at small amplitude (T/T0 at 10° within 0.5% of the classical value)",
        ("4a",),
        lambda r: abs(_ratio(r, 10) / classical[10] - 1) < 5e-3,
        lambda r: f"{_ratio(r, 10):.4f} against {classical[10]:.4f}",
        quick=True,
    )
    check(
        "level 4a is off by the known amount at 90° (true T 16-20% above it; classical: 18.0%)",
        ("4a",),
        lambda r: 0.16 < classical[90] / _ratio(r, 90) - 1 < 0.20,
        lambda r: f"{classical[90] / _ratio(r, 90) - 1:.1%}",
        quick=True,
    )
    check(
        "level 4b is more accurate than level 3 in distribution (at most half its ID error)",
        ("3", "4b"),
        lambda r3, r4: _id(r4) <= 0.5 * _id(r3),
        lambda r3, r4: f"{_id(r4):.2%} against {_id(r3):.2%}",
        quick=True,
    )
    return out


PROBLEM = Problem(
    name="pendulum",
    summary="period of a pendulum T = 4 sqrt(L/g) K(sin²(θ0/2)), trained on Earth: the units ladder",
    levels=LEVELS,
    full_settings=FULL,
    quick_settings=QUICK,
    make_data=make_data,
    evaluate=evaluate,
    monitor=monitor,
    findings=findings,
    monitor_label="relative RMS of f(D(λ) x) - λ_time f(x), 8 fixed unit changes (0.1-10), ID probe",
    error_label="relative RMS error",
    monitor_column="covariance error",
    extra_figures=period_ratio_figure,
    extra_markdown=period_ratio_table,
)
