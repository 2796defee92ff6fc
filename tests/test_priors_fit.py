"""fit_constants: closed-form least squares where constants enter linearly, else L-BFGS."""

import math

import pytest
import sympy
import torch

import symnn
from symnn import priors
from symnn.priors import FitResult, SympyModule, fit_constants

x, k, w, t = sympy.symbols("x k w t")


def triangles(n, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (1 + torch.rand(n, 3, generator=g, dtype=torch.float64)).to(dtype)


def heron_by_hand(edges):
    a, b, c = edges.unbind(-1)
    return torch.sqrt((a + b + c) * (-a + b + c) * (a - b + c) * (a + b - c)) / 4


def test_level_four_recovers_heron_to_1e_12():
    edges = triangles(4000)
    area = heron_by_hand(edges)
    result = fit_constants(priors.heron_module(), edges, area)
    assert result.method == "linear-in-root"
    assert abs(result.constants["C"] * 16 - 1) < 1e-12
    fitted = result.module(edges).squeeze(-1)
    assert ((fitted - area).abs() / area).max() < 1e-12
    assert result.residual < 1e-12


def test_level_four_in_float32():
    edges = triangles(4000, torch.float32)
    result = fit_constants(priors.heron_module(), edges, heron_by_hand(edges))
    assert abs(result.constants["C"] * 16 - 1) < 1e-5


def test_affine_constants_are_fitted_exactly_in_closed_form():
    xs = torch.linspace(-2, 2, 101, dtype=torch.float64).unsqueeze(-1)
    force = 1.5 * xs - 0.25 * xs**3 + 0.1
    spring = SympyModule(priors.spring().expr + w, [x])
    result = fit_constants(spring, xs, force)
    assert result.method == "linear"
    values = result.constants
    assert (
        abs(values["C1"] - 1.5) < 1e-13
        and abs(values["C2"] + 0.25) < 1e-13
        and abs(values["w"] - 0.1) < 1e-13
    )


def test_frozen_constants_stay_fixed():
    module = SympyModule(k * x + w * x**2, [x], initial={k: 3.0})
    module.constants["k"].requires_grad_(False)
    xs = torch.linspace(0, 1, 20, dtype=torch.float64).unsqueeze(-1)
    result = fit_constants(module, xs, 3.0 * xs + 2.0 * xs**2)
    assert result.constants == {"k": 3.0, "w": pytest.approx(2.0, abs=1e-13)}


def test_nonlinear_constants_use_lbfgs():
    times = torch.linspace(0, 2, 50, dtype=torch.float64).unsqueeze(-1)
    decay = SympyModule(w * sympy.exp(-k * t), [t], initial={k: 1.0, w: 1.0})
    result = fit_constants(decay, times, 2.0 * torch.exp(-3.0 * times))
    assert result.method == "lbfgs"
    assert result.constants == {"k": pytest.approx(3.0, rel=1e-8), "w": pytest.approx(2.0, rel=1e-8)}


def test_lbfgs_steps_back_from_outside_the_domain():
    # From C = 1 an unguarded first step lands on C <= 0, where the root is NaN or flat.
    edges = triangles(500)
    result = fit_constants(priors.heron_module(initial=1.0), edges, heron_by_hand(edges), method="lbfgs")
    assert abs(result.constants["C"] * 16 - 1) < 1e-10


def test_refine_continues_on_the_original_residual():
    edges = triangles(500)
    g = torch.Generator().manual_seed(1)
    noisy = heron_by_hand(edges) * (1 + 0.05 * torch.randn(500, generator=g, dtype=torch.float64))
    closed = fit_constants(priors.heron_module(), edges, noisy)
    refined = fit_constants(priors.heron_module(), edges, noisy, refine=True)
    assert refined.method == "linear-in-root+lbfgs"
    assert refined.residual < closed.residual
    assert abs(refined.constants["C"] * 16 - 1) < 0.05


def test_any_module_is_fitted_by_lbfgs():
    torch.manual_seed(0)
    line = torch.nn.Linear(2, 1).double()
    xs = torch.randn(40, 2, dtype=torch.float64)
    result = fit_constants(line, xs, xs @ torch.tensor([[2.0], [-1.0]], dtype=torch.float64) + 0.5)
    assert result.method == "lbfgs" and result.constants == {}
    assert result.residual < 1e-8


def test_physics_residual_fits_the_correction_constant():
    baseline = SympyModule(k * x, [x], initial={k: 2.0})
    correction = SympyModule(w * x**3, [x], initial=0.0)
    model = symnn.PhysicsResidual(baseline, correction, train_baseline=False)
    xs = torch.linspace(-1, 1, 30, dtype=torch.float64).unsqueeze(-1)
    fit_constants(model, xs, 2.0 * xs + 0.5 * xs**3)
    assert baseline.constant_values() == {"k": 2.0}
    assert correction.constant_values()["w"] == pytest.approx(0.5, rel=1e-8)


def test_result_unpacks_as_module_and_residual():
    xs = torch.linspace(0, 1, 10, dtype=torch.float64).unsqueeze(-1)
    module, residual = fit_constants(SympyModule(k * x, [x]), xs, 4 * xs)
    assert isinstance(module, SympyModule) and residual < 1e-14
    assert isinstance(fit_constants(module, xs, 4 * xs), FitResult)


@pytest.mark.parametrize("target_shape", [(10,), (10, 1)])
def test_targets_with_or_without_the_trailing_one(target_shape):
    xs = torch.linspace(0, 1, 10, dtype=torch.float64).unsqueeze(-1)
    result = fit_constants(SympyModule(k * x, [x]), xs, (4 * xs).reshape(target_shape))
    assert result.constants["k"] == pytest.approx(4.0, rel=1e-14)


def test_bad_input_is_named():
    xs = torch.linspace(0, 1, 10, dtype=torch.float64).unsqueeze(-1)
    linear = SympyModule(k * x, [x])
    with pytest.raises(ValueError, match="method"):
        fit_constants(linear, xs, xs, method="newton")
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        fit_constants(linear, xs, xs.reshape(2, 5))
    with pytest.raises(ValueError, match="do not enter linearly"):
        fit_constants(SympyModule(sympy.exp(k * x), [x]), xs, xs, method="linear")
    with pytest.raises(TypeError, match="needs a SympyModule"):
        fit_constants(torch.nn.Linear(1, 1), xs.float(), xs.float(), method="linear")
    with pytest.raises(ValueError, match="non-finite"):
        fit_constants(linear, xs, torch.full((10,), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="no constants"):
        fit_constants(SympyModule(x**2, [x]), xs, xs)
    with pytest.raises(ValueError, match="not finite"):
        fit_constants(SympyModule(sympy.sqrt(k * x), [x], initial=-1.0), xs + 1, xs, method="lbfgs")
    with pytest.raises(TypeError, match=r"nn\.Module"):
        fit_constants(lambda v: v, xs, xs)
    with pytest.raises(ValueError, match="max_iter"):
        fit_constants(linear, xs, xs, max_iter=0)


def _heron_rows_with_one_invalid_triangle():
    edges = 1 + torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    area = symnn.functional.heron_area(edges)
    edges[7] = torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64)  # a > b + c: no triangle
    area[7] = 0.5  # a finite (wrong) target, so only the domain can tell
    return edges, area


@pytest.mark.parametrize("method", ["auto", "lbfgs"])
def test_fit_constants_names_rows_outside_the_domain_instead_of_fitting_them(method):
    edges, area = _heron_rows_with_one_invalid_triangle()
    with pytest.raises(
        ValueError, match=r"1 of 50 rows are outside the domain .*x\[7\]; .*drop_invalid=True"
    ):
        fit_constants(priors.heron_module(), edges, area, method=method)
    # Leading batch dimensions: the row is named by its index in x.
    with pytest.raises(ValueError, match=r"x\[\(0, 7\)\]"):
        fit_constants(priors.heron_module(), edges.reshape(5, 10, 3), area.reshape(5, 10), method=method)


@pytest.mark.parametrize("method", ["auto", "lbfgs"])
def test_fit_constants_drops_rows_outside_the_domain_only_when_asked(method):
    edges, area = _heron_rows_with_one_invalid_triangle()
    result = fit_constants(priors.heron_module(), edges, area, method=method, drop_invalid=True)
    assert result.dropped == 1
    assert abs(result.constants["C"] * 16 - 1) < 1e-12
    assert math.isfinite(result.residual) and result.residual < 1e-12
    clean = fit_constants(priors.heron_module(), edges[:7], area[:7])
    assert clean.dropped == 0


def test_fit_constants_drops_non_finite_data_rows_when_asked():
    xs = torch.linspace(0.1, 1, 10, dtype=torch.float64).unsqueeze(-1)
    ys = 3 * xs.squeeze(-1)
    ys[[2, 5]] = math.nan
    with pytest.raises(ValueError, match=r"2 of 10 rows .*x\[2, 5\]"):
        fit_constants(SympyModule(k * x, [x]), xs, ys)
    result = fit_constants(SympyModule(k * x, [x]), xs, ys, drop_invalid=True)
    assert result.dropped == 2 and abs(result.constants["k"] - 3) < 1e-14
