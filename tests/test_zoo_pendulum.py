"""The pendulum problem: its exact periods, its data, and a quick run whose findings must hold."""

import math

import pytest
import sympy
import torch
from _zoo_quick import assert_quick_findings_hold, by_level, run_quick
from scipy.integrate import quad

from symnn_zoo import pendulum


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("pendulum")
    return out, run_quick("pendulum", out)


def _rows(L, g, theta0):
    return torch.tensor([[L, 0.5, g, theta0]], dtype=torch.float64)


@pytest.mark.parametrize(("L", "g"), [(0.2, 9.78), (1.0, 9.81), (50.0, 1.62), (3.0, 24.8)])
@pytest.mark.parametrize("theta0", [0.0, 1e-4, 1e-3])
def test_small_amplitude_period_is_two_pi_sqrt_l_over_g(L, g, theta0):
    T = float(pendulum.period(_rows(L, g, theta0)))
    assert T == pytest.approx(2 * math.pi * math.sqrt(L / g), rel=1e-6, abs=0)


def test_period_ratio_matches_the_elliptic_integral_done_by_quadrature():
    # K(k²) = ∫_0^{π/2} dφ / sqrt(1 - k² sin²φ), integrated numerically: independent of ellipk.
    for angle, ratio in zip(pendulum.ANGLES_DEG, pendulum.classical_ratio()):
        k2 = math.sin(math.radians(angle) / 2) ** 2
        K, _ = quad(
            lambda phi, k2=k2: 1 / math.sqrt(1 - k2 * math.sin(phi) ** 2), 0, math.pi / 2, epsabs=1e-13
        )
        assert ratio == pytest.approx(2 / math.pi * K, rel=1e-10)
        T = float(pendulum.period(_rows(1.0, 9.81, math.radians(angle))))
        assert T / (2 * math.pi * math.sqrt(1 / 9.81)) == pytest.approx(ratio, rel=1e-12)
    # The textbook value: at 90° the period is 18.0% longer than the small-angle one.
    assert pendulum.classical_ratio((90,))[0] == pytest.approx(1.18034, abs=1e-5)


def test_test_sets_are_the_lab_set_with_one_quantity_changed():
    settings = pendulum.QUICK
    data = pendulum.make_data(settings, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert data.x.dtype == torch.float32 and data.x.shape == (settings.n_train, 4)
    for column, (low, high) in enumerate(
        (settings.length_range, settings.mass_range, settings.gravity_range, (0, settings.max_amplitude))
    ):
        assert low <= float(data.x64[:, column].min()) and float(data.x64[:, column].max()) <= high
    torch.testing.assert_close(data.y64, pendulum.period(data.x64), rtol=0, atol=0)
    (lab,) = [t for t in data.tests if t.in_distribution]
    changed = {}
    for test in data.tests:
        torch.testing.assert_close(test.y, pendulum.period(test.x), rtol=0, atol=0)
        columns = [c for c in range(4) if not torch.equal(test.x[:, c], lab.x[:, c])]
        changed[test.kind] = columns
    assert changed == {
        "lab": [],
        "moon": [2],
        "jupiter": [2],
        "long": [0],
        "light bob": [1],
        "heavy bob": [1],
    }


def test_units_alone_derive_the_small_angle_law():
    L, g = sympy.symbols("L g", positive=True)
    derivation = pendulum.small_angle_law()
    (C,) = derivation.constants
    assert sympy.simplify(derivation.expr - C * sympy.sqrt(L / g)) == 0


@pytest.mark.slow
def test_quick_findings_hold(quick):
    assert_quick_findings_hold(quick[1])


@pytest.mark.slow
def test_quick_run_reports_period_ratios_against_the_classical_values(quick):
    out, results = quick
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "period_ratio.png" in results["files"] and "](period_ratio.png)" in table
    assert "| 150° (beyond training) | 1.7622 |" in table and "| 90° | 1.1803 |" in table
    assert table.index("## Findings") < table.index("## T/T0 against amplitude") < table.index("## Figures")
    ratios = by_level(results)["4a"]["metrics"]
    assert all(ratios[f"T/T0 at {a}°"] == pytest.approx(ratios["fitted C / 2π"], rel=1e-12) for a in (10, 90))
