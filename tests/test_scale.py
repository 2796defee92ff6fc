"""ScaleNormalize, scale_normalize and input_scale: homogeneity, the zero scale, NaN, errors."""

import math

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import symnn
from symnn.functional import input_scale, scale_normalize

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12}


def half_l1(x):
    """A custom scale: negative on purpose, so the layer must take its absolute value."""
    return -0.5 * x.abs().sum(-1)


SCALES = ["sum", "norm", "max", half_l1]
SCALE_IDS = ["sum", "norm", "max", "callable"]


def offset_mlp(d_in, d_out=1, **kwargs):
    """An MLP whose outputs sit near 1, as a trained area or energy model's do.

    A relative error only measures rounding where the output is not near 0; a freshly
    initialised MLP's output crosses 0, where any absolute rounding is a large relative one.
    """
    net = symnn.MLP(d_in, d_out, **kwargs)
    with torch.no_grad():
        net.layers[-1].bias += 1.0
    return net


def log_uniform_scales(n, low=1e-3, high=1e3, seed=0):
    """The two ends and ``n`` log-uniform scales in between, as float64 group elements."""
    u = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    inner = torch.exp(math.log(low) + (math.log(high) - math.log(low)) * u)
    return [torch.tensor(low, dtype=torch.float64), torch.tensor(high, dtype=torch.float64), *inner.unbind(0)]


@pytest.mark.parametrize("scale", SCALES, ids=SCALE_IDS)
@pytest.mark.parametrize("degree", [2, 1, 0, -1])
def test_scale_normalize_is_homogeneous_over_six_decades(scale, degree, dtype, tied_inputs):
    torch.manual_seed(0)
    model = symnn.ScaleNormalize(offset_mlp(3, hidden=(32, 32)), degree, scale=scale).to(dtype)
    x = tied_inputs(1000, 3, dtype, positive=True)  # includes all-zero rows: s = 0 on both sides
    sym = symnn.Scaling(degree)
    symnn.testing.assert_equivariant(model, sym, x, rtol=TOLERANCE[dtype], elements=log_uniform_scales(16))


def test_the_lectures_triangle_model_is_invariant_and_homogeneous(dtype, tied_inputs):
    torch.manual_seed(1)
    model = symnn.ScaleNormalize(symnn.PermutationSort(offset_mlp(3)), degree=2).to(dtype)
    x = tied_inputs(1000, 3, dtype, positive=True)
    sym = symnn.Permutation(3) * symnn.Scaling(degree=2, scale_range=(1e-3, 1e3))
    error = symnn.testing.assert_equivariant(model, sym, x, rtol=TOLERANCE[dtype], n_elements=64)
    # Regression: s = a + b + c rounded differently for a permuted row, so the lecture's model
    # was invariant only to rounding; the built-in scales now sum in an order-free way.
    assert symnn.testing.assert_equivariant(model, symnn.Permutation(3), x, rtol=0.0) == 0.0
    assert error > 0.0 or dtype == torch.float64  # float32 rounding is visible, so the check is live


@pytest.mark.parametrize("scale", SCALES, ids=SCALE_IDS)
@pytest.mark.parametrize("degree", [2, 1, 0.5, 0])
def test_zero_scale_gives_the_documented_value_and_finite_derivatives(scale, degree):
    torch.manual_seed(2)
    net = symnn.MLP(3, 2, hidden=(8, 8), activation="tanh").double()
    model = symnn.ScaleNormalize(net, degree, scale=scale)
    zero = torch.zeros(3, dtype=torch.float64)
    expected = net(zero) if degree == 0 else torch.zeros(2, dtype=torch.float64)
    assert torch.equal(model(zero), expected)
    jacobian = torch.func.jacrev(model)(zero)
    hessian = torch.func.hessian(lambda t: model(t).sum())(zero)
    assert torch.equal(jacobian, torch.zeros(2, 3, dtype=torch.float64))
    assert torch.equal(hessian, torch.zeros(3, 3, dtype=torch.float64))
    # The parameters' gradient is finite too (it is what training sees).
    model(zero).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize("scale", SCALES, ids=SCALE_IDS)
def test_negative_degree_has_a_pole_at_zero_scale_with_a_zero_gradient(scale):
    net = symnn.MLP(3, 1, hidden=(4,)).double()
    with torch.no_grad():
        net.layers[-1].bias.fill_(-0.25)
        net.layers[-1].weight.zero_()  # g = -0.25 everywhere
    model = symnn.ScaleNormalize(net, degree=-1, scale=scale)
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    y = model(x)
    assert y.item() == -math.inf
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.equal(grad, torch.zeros(3, dtype=torch.float64))


def test_negative_degree_pole_is_inf_not_nan_where_the_net_is_zero_at_zero():
    # Regression: the pole was inf * g(0), NaN when g(0) = 0.
    model = symnn.ScaleNormalize(torch.nn.Identity(), degree=-1)
    out = model(torch.zeros(2, 3))
    assert torch.equal(out, torch.full((2, 3), math.inf))


@pytest.mark.parametrize("scale", SCALES, ids=SCALE_IDS)
@pytest.mark.parametrize("degree", [2, 0, -1])
def test_nan_input_gives_nan_not_the_zero_scale_value(scale, degree, dtype):
    # Regression: "s > 0" is False for NaN, so a NaN row took the s = 0 branch and came out
    # as 0 (degree 2), g(0) (degree 0) or inf (degree -1): a silent number from NaN.
    model = symnn.ScaleNormalize(symnn.MLP(3, 1, hidden=(8,)), degree, scale=scale).to(dtype)
    x = torch.tensor([[math.nan, 1.0, 2.0], [0.5, 1.0, 2.0], [0.0, 0.0, 0.0]], dtype=dtype)
    out = model(x)
    assert torch.isnan(out[0]).all()
    assert not torch.isnan(out[1:]).any()


def test_a_custom_scale_is_taken_by_absolute_value():
    torch.manual_seed(3)
    net = symnn.MLP(3, 1, hidden=(8,)).double()
    x = torch.rand(20, 3, dtype=torch.float64) + 0.1
    negative = symnn.ScaleNormalize(net, 2, scale=half_l1)(x)
    positive = symnn.ScaleNormalize(net, 2, scale=lambda t: 0.5 * t.abs().sum(-1))(x)
    assert torch.equal(negative, positive)
    assert torch.equal(input_scale(x, half_l1), 0.5 * x.abs().sum(-1))


def test_a_custom_scale_that_is_zero_away_from_zero_uses_the_zero_scale_convention():
    net = symnn.MLP(3, 1, hidden=(8,)).double()
    first = lambda t: t[..., 0]  # noqa: E731 - zero wherever x_0 = 0
    x = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 2.0]], dtype=torch.float64)
    out = symnn.ScaleNormalize(net, 2, scale=first)(x)
    assert out[0].item() == 0.0 and torch.isfinite(out).all()


@pytest.mark.parametrize("scale", ["sum", "norm", "max"])
def test_built_in_scales_are_exactly_invariant_under_permutations_and_signs(scale, dtype):
    x = torch.randn(2000, 5, dtype=dtype) * torch.logspace(-3, 3, 5, dtype=dtype)
    s = input_scale(x, scale)
    for p in symnn.Permutation(5).sample(20, torch.Generator().manual_seed(0)):
        assert torch.equal(input_scale(x[:, p], scale), s)
    assert torch.equal(input_scale(-x, scale), s)


def test_input_scale_values_and_homogeneity(dtype):
    x = torch.tensor([[3.0, -4.0, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    assert input_scale(x, "sum").tolist() == [7.0, 0.0]
    assert input_scale(x, "norm").tolist() == [5.0, 0.0]
    assert input_scale(x, "max").tolist() == [4.0, 0.0]
    for scale in SCALES:
        y = torch.randn(4, 2, 5, dtype=dtype)
        assert input_scale(y, scale).shape == (4, 2)
        torch.testing.assert_close(input_scale(8.0 * y, scale), 8.0 * input_scale(y, scale))


@pytest.mark.parametrize("scale", SCALES, ids=SCALE_IDS)
def test_functional_forms_pass_gradcheck_and_gradgradcheck(scale):
    torch.manual_seed(4)
    net = symnn.MLP(3, 2, hidden=(6, 6), activation="tanh").double()
    x = (torch.rand(5, 3, dtype=torch.float64) + 0.1).requires_grad_()  # away from the |x| kinks
    assert gradcheck(lambda t: input_scale(t, scale), (x,))
    assert gradgradcheck(lambda t: input_scale(t, scale), (x,))
    assert gradcheck(lambda t: scale_normalize(net, t, 1.5, scale), (x,))
    assert gradgradcheck(lambda t: scale_normalize(net, t, 1.5, scale), (x,))


def test_scale_normalize_keeps_leading_dimensions_and_output_shape():
    net = symnn.MLP(3, 4, hidden=(8,))
    assert symnn.ScaleNormalize(net, 2)(torch.rand(2, 5, 3)).shape == (2, 5, 4)
    assert symnn.ScaleNormalize(net, 2)(torch.rand(3)).shape == (4,)
    assert scale_normalize(lambda u: u.sum(-1), torch.rand(6, 3), 1).shape == (6,)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: symnn.ScaleNormalize(symnn.MLP(3, 1), 2, scale="l2"), ValueError, "scale must be one of"),
        (lambda: symnn.ScaleNormalize(symnn.MLP(3, 1), math.nan), ValueError, "degree must be a finite"),
        (lambda: symnn.ScaleNormalize(symnn.MLP(3, 1), True), TypeError, "degree must be a number; got bool"),
        (lambda: symnn.ScaleNormalize(symnn.MLP(3, 1), "2"), TypeError, "degree must be a number; got str"),
        (lambda: symnn.ScaleNormalize(lambda x: x, 2), TypeError, "nn.Module"),
        (lambda: symnn.ScaleNormalize(symnn.MLP(3, 1), 2)([1.0, 2.0, 3.0]), TypeError, "torch.Tensor"),
        (lambda: symnn.ScaleNormalize(symnn.MLP(3, 1), 2)(torch.ones(4, 2)), ValueError, r"\(\.\.\., 3\)"),
        (lambda: symnn.ScaleNormalize(symnn.MLP(3, 1), 2)(torch.tensor(1.0)), ValueError, "0-dim"),
        (lambda: input_scale(torch.ones(4, 3), lambda t: t.sum()), ValueError, r"map \(\.\.\., d\) to"),
        (lambda: scale_normalize(lambda u: u.sum(), torch.ones(4, 3), 2), ValueError, "leading shape"),
    ],
)
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_repr_shows_the_settings():
    assert "degree=2, scale='sum'" in repr(symnn.ScaleNormalize(symnn.MLP(3, 1), 2))
    assert "degree=-0.5, scale='half_l1'" in repr(symnn.ScaleNormalize(symnn.MLP(3, 1), -0.5, scale=half_l1))


# Issue 10, items 2 and 3: the norm's squares and the quotient's gradient left the float range.


def test_input_scale_norm_does_not_underflow_at_3e_24_float32():
    x = torch.tensor([[3e-24, 4e-24]], requires_grad=True)
    s = input_scale(x, "norm")
    torch.testing.assert_close(s, torch.tensor([5e-24]), rtol=2 * 2**-23, atol=0)
    (grad,) = torch.autograd.grad(s.sum(), x)
    torch.testing.assert_close(grad, torch.tensor([[0.6, 0.8]]))
    # ScaleNormalize no longer takes it for the zero input.
    net = offset_mlp(2)
    layer = symnn.ScaleNormalize(net, degree=0, scale="norm")
    torch.testing.assert_close(layer(x.detach()), net(torch.tensor([[0.6, 0.8]])))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_input_scale_norm_does_not_overflow_at_1e44_times_x(dtype):
    big = 1e44 if dtype == torch.float64 else 1e34
    x = (torch.tensor([[3.0, 4.0]], dtype=torch.float64) * big).to(dtype).requires_grad_(True)
    s = input_scale(x, "norm")
    torch.testing.assert_close(s / big, torch.tensor([5.0], dtype=dtype))
    (grad,) = torch.autograd.grad(s.sum(), x)
    torch.testing.assert_close(grad, torch.tensor([[0.6, 0.8]], dtype=dtype))
    x64 = torch.tensor([[3e300, -4e300, 0.0]], dtype=torch.float64)
    assert float(input_scale(x64, "norm")) == 5e300


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_input_scale_norm_within_4_ulp_with_correct_gradients_over_the_whole_range(dtype):
    import _mp_reference

    for rows in _mp_reference.vectors(400, dtype, seed=1):
        values, grads = _mp_reference.norm_errors(rows, dtype)
        assert values.size > 90
        assert values.max() <= 4, f"worst error {values.max():.2f} ulp for rows of {rows.shape[-1]}"
        assert grads.max() <= 8 * torch.finfo(dtype).eps


@pytest.mark.parametrize("scale", ["sum", "norm", "max"])
@pytest.mark.parametrize("degree", [2, 1, 0.5, 0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_scale_normalize_gradient_is_finite_at_a_subnormal_scale(scale, degree, dtype):
    tiny = 1e-40 if dtype == torch.float32 else 1e-310
    torch.manual_seed(0)
    net = offset_mlp(3).to(dtype)
    layer = symnn.ScaleNormalize(net, degree=degree, scale=scale)
    x = (torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64) * tiny).to(dtype).requires_grad_(True)
    y = layer(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.isfinite(y).all() and torch.isfinite(grad).all()
    # The same as at a normal scale, scaled by tiny^k and tiny^(k - 1) (where those are
    # normal), to the few bits a subnormal intermediate such as s * g'(u) keeps.
    unit = (x.detach() / x.detach().abs().max()).requires_grad_(True)
    ratio = float(x.detach().abs().max())
    y1 = layer(unit)
    (grad1,) = torch.autograd.grad(y1.sum(), unit)
    smallest = torch.finfo(dtype).tiny
    if ratio**degree > smallest:
        torch.testing.assert_close(y.double(), y1.double() * ratio**degree, rtol=1e-5, atol=0)
    if degree <= 1:  # the gradient grows like tiny^(k - 1): compare it scaled down
        torch.testing.assert_close(grad.double() * ratio ** (1 - degree), grad1.double(), rtol=0.05, atol=0)
    elif ratio ** (degree - 1) > smallest:
        torch.testing.assert_close(grad.double(), grad1.double() * ratio ** (degree - 1), rtol=0.05, atol=0)


@pytest.mark.parametrize("scale", ["sum", "norm", "max"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_the_normalised_input_is_x_over_s_bit_for_bit_from_subnormal_to_huge_scales(scale, dtype):
    # The exact power-of-two factor changes how the quotient is computed, never its value:
    # the net sees exactly the correctly rounded x / s at every scale.
    info = torch.finfo(dtype)
    low, high = math.frexp(info.tiny)[1] - 20, math.frexp(info.max)[1] - 3
    generator = torch.Generator().manual_seed(0)
    seen = []
    net = lambda u: seen.append(u) or u[..., :1]  # noqa: E731
    for exponent in range(low, high, 9):
        x = (0.2 + 0.8 * torch.rand(64, 3, generator=generator, dtype=torch.float64)) * 2.0**exponent
        x = x.to(dtype)
        scale_normalize(net, x, degree=1, scale=scale)
        expected = x / input_scale(x, scale).unsqueeze(-1)
        assert torch.equal(seen[-1], expected), exponent
