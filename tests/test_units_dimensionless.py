"""symnn.Dimensionless: exact covariance under changes of units, dropped inputs, edges."""

import math

import pytest
import torch

import symnn
from symnn.functional import dimensionless, pi_features, power_product
from symnn.testing import assert_equivariant, equivariance_error
from symnn.units import pi_groups

PENDULUM = {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}
DRAG = {"rho": "kg/m**3", "v": "m/s", "L": "m", "mu": "Pa*s"}
TRIANGLE = {"a": "m", "b": "m", "c": "m"}
CASES = [(PENDULUM, ("T", "s")), (DRAG, ("F", "N")), (TRIANGLE, ("A", "m**2"))]
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}


class Constant(torch.nn.Module):
    """A learned constant: the net of a problem with no dimensionless group."""

    def __init__(self) -> None:
        super().__init__()
        self.value = torch.nn.Parameter(torch.tensor([2 * math.pi], dtype=torch.float64))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.value.to(p.dtype).expand(*p.shape[:-1], 1)


def _model(inputs, output, dtype, seed=0):
    torch.manual_seed(seed)
    k = len(pi_groups(inputs, output).groups)
    return symnn.Dimensionless(symnn.MLP(k, 2, hidden=(32, 32)), inputs, output).to(dtype)


def _positive(n, d, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.exp(torch.empty(n, d, dtype=torch.float64).uniform_(-2, 2, generator=g)).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("inputs, output", CASES, ids=["pendulum", "drag", "triangle"])
def test_covariance_under_1000_unit_changes_over_ten_decades(inputs, output, dtype):
    model = _model(inputs, output, dtype)
    sym = symnn.UnitScaling(inputs, output, scale_range=(1e-5, 1e5))
    x = _positive(64, len(inputs), dtype)
    elements = sym.sample(1000, torch.Generator().manual_seed(2))
    error = equivariance_error(model, sym, x, elements=elements)
    assert error <= TOLERANCE[dtype]
    # And the claim is not empty: the elements really span ten decades of each factor.
    logs = torch.stack(elements).log10()
    assert logs.min() < -4.5 and logs.max() > 4.5


def test_a_plain_mlp_fails_the_same_check():
    torch.manual_seed(0)
    sym = symnn.UnitScaling(PENDULUM, ("T", "s"))
    error = equivariance_error(symnn.MLP(4, 1).double(), sym, _positive(16, 4, torch.float64))
    assert error > 1e-2


def test_symmetry_property_is_the_unit_scaling_it_guarantees():
    model = _model(PENDULUM, ("T", "s"), torch.float64)
    sym = model.symmetry
    assert isinstance(sym, symnn.UnitScaling)
    assert sym.inputs == PENDULUM and sym.output == ("T", "s")
    assert_equivariant(model, sym, _positive(32, 4, torch.float64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dropped_input_is_independent_bit_for_bit(dtype):
    model = _model(PENDULUM, ("T", "s"), dtype)
    x = _positive(50, 4, dtype).requires_grad_(True)
    out = model(x)
    for mass in (0.0, -3.0, 1e-30, 1e30, math.inf, -math.inf):
        other = x.detach().clone()
        other[:, 1] = mass
        assert torch.equal(model(other), out.detach())
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(grad[:, 1], torch.zeros_like(grad[:, 1]))


def test_nan_in_gives_nan_out_in_every_column_including_a_dropped_one():
    model = _model(PENDULUM, ("T", "s"), torch.float64)
    x = _positive(4, 4, torch.float64)
    for col in range(4):
        bad = x.clone()
        bad[col, col] = math.nan
        out = model(bad)
        assert torch.isnan(out[col]).all()
        keep = [r for r in range(4) if r != col]
        assert torch.isfinite(out[keep]).all()


def test_signed_quantities_with_integer_powers_are_allowed():
    # Drag: every exponent is an integer, so a negative velocity is a valid input.
    model = _model(DRAG, ("F", "N"), torch.float64)
    x = _positive(8, 4, torch.float64)
    x[:, 1] = -x[:, 1]
    out = model(x)
    assert torch.isfinite(out).all()
    # v enters the scale as v**2 and the group as v: the sign reaches the group only.
    pi = pi_features(x, model.analysis)
    assert (pi < 0).all()


def test_fractional_power_of_a_negative_number_is_nan_with_zero_gradient():
    model = _model(PENDULUM, ("T", "s"), torch.float64)
    x = _positive(3, 4, torch.float64)
    x[0, 0] = -1.0  # a negative length under sqrt(L)
    x.requires_grad_(True)
    out = model(x)
    assert torch.isnan(out[0]).all() and torch.isfinite(out[1:]).all()
    (grad,) = torch.autograd.grad(out[1:].sum(), x)
    assert torch.isfinite(grad).all()


def test_zero_edges_have_finite_values_and_gradients():
    model = _model(PENDULUM, ("T", "s"), torch.float64)
    x = _positive(3, 4, torch.float64)
    x[0, 0] = 0.0  # L = 0: T = 0, the power 1/2 of 0
    x[1, 3] = 0.0  # theta0 = 0, a dimensionless group at 0
    x.requires_grad_(True)
    out = model(x)
    assert torch.isfinite(out).all()
    assert torch.equal(out[0], torch.zeros_like(out[0]))
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.isfinite(grad).all()


def test_rows_outside_the_domain_do_not_poison_the_parameter_gradients():
    model = _model(PENDULUM, ("T", "s"), torch.float64)
    x = _positive(4, 4, torch.float64)
    x[0, 0] = -1.0  # sqrt of a negative length: NaN
    x[1, 2] = 0.0  # g = 0: the scale sqrt(L/g) is a pole
    x[2, 3] = math.nan
    out = model(x)
    assert torch.isnan(out[0]).all() and torch.isnan(out[2]).all()
    assert torch.isinf(out[1]).all() and torch.isfinite(out[3]).all()
    out[3].sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_an_infinite_group_is_outside_the_domain():
    model = _model(DRAG, ("F", "N"), torch.float64)
    x = _positive(2, 4, torch.float64)
    x[0, 3] = 0.0  # mu = 0: the Reynolds number is infinite
    out = model(x)
    assert torch.isnan(out[0]).all() and torch.isfinite(out[1]).all()


def test_a_zero_that_divides_is_a_pole_with_zero_gradient():
    x = torch.tensor([[0.0, 2.0], [-2.0, 2.0]], dtype=torch.float64, requires_grad=True)
    y = power_product(x, [-1, 3])
    assert y[0] == math.inf and y[1] == -4.0
    (grad,) = torch.autograd.grad(y[1], x)
    (grad0,) = torch.autograd.grad(power_product(x, [-1, 3])[0], x)
    assert torch.isfinite(grad).all() and torch.equal(grad0[0], torch.zeros(2, dtype=torch.float64))


def test_power_product_is_float64_exact_for_float32_inputs_and_does_not_overflow():
    x = torch.tensor([[1e30, 1e30, 1e-30]], dtype=torch.float32)
    y = power_product(x, [1, 1, 1])
    assert y.dtype == torch.float64
    assert float(y) == pytest.approx(1e30, rel=1e-6)


def test_no_group_means_the_net_is_a_constant():
    inputs, output = {"L": "m", "g": "m/s**2"}, ("T", "s")
    model = symnn.Dimensionless(Constant(), inputs, output).double()
    x = torch.tensor([[1.0, 9.81], [4.0, 9.81]], dtype=torch.float64)
    expected = 2 * math.pi * torch.sqrt(x[:, :1] / x[:, 1:])
    torch.testing.assert_close(model(x), expected, rtol=1e-15, atol=0)


def test_gradcheck_and_gradgradcheck():
    model = _model(DRAG, ("F", "N"), torch.float64)
    x = _positive(5, 4, torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(model, (x,))
    assert torch.autograd.gradgradcheck(model, (x,))
    pendulum = _model(PENDULUM, ("T", "s"), torch.float64)
    xp = _positive(5, 4, torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(pendulum, (xp,))


def test_leading_batch_dimensions_and_dtype_follow_the_input():
    model = _model(TRIANGLE, ("A", "m**2"), torch.float32)
    x = _positive(12, 3, torch.float32).reshape(2, 2, 3, 3)
    out = model(x)
    assert out.shape == (2, 2, 3, 2) and out.dtype == torch.float32
    flat = model(x.reshape(-1, 3)).reshape(2, 2, 3, 2)
    torch.testing.assert_close(out, flat)


def test_functional_form_agrees_with_the_layer():
    model = _model(PENDULUM, ("T", "s"), torch.float64)
    x = _positive(6, 4, torch.float64)
    assert torch.equal(dimensionless(model.net, x, model.analysis), model(x))


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"nn\.Module"):
        symnn.Dimensionless(lambda p: p, PENDULUM, ("T", "s"))
    model = _model(PENDULUM, ("T", "s"), torch.float64)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        model(torch.ones(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="no product of powers"):
        symnn.Dimensionless(symnn.MLP(1, 1), {"L": "m"}, ("T", "s"))
    assert "scale=sqrt(L)/sqrt(g)" in repr(model) and "dropped=('m',)" in repr(model)


def test_a_net_of_the_wrong_width_is_named_at_construction():
    # The net sees the Π groups, not the columns: a net built for the columns is refused early.
    with pytest.raises(ValueError, match=r"sees the 1 dimensionless group.*in_features=1"):
        symnn.Dimensionless(
            symnn.MLP(4, 1), {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}, ("T", "s")
        )
