"""safe_power: real powers with finite derivatives at the edge of their domain."""

import math

import pytest
import torch

from symnn.priors._safe_power import safe_power


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [0.5, 1 / 3, 1.5, 2.5, -0.5])
def test_positive_inputs_match_pow(dtype, p):
    x = torch.tensor([0.1, 1.0, 4.0, 9.5], dtype=dtype)
    out = safe_power(x, p)
    assert out.dtype == dtype
    torch.testing.assert_close(out, x**p)


@pytest.mark.parametrize("p", [0.5, 1 / 3, 1.5, -0.5])
def test_edge_values_and_derivatives(p):
    x = torch.tensor([0.0, -1.0, math.nan], dtype=torch.float64, requires_grad=True)
    out = safe_power(x, p)
    assert out[0].item() == (0.0 if p > 0 else math.inf)
    assert torch.isnan(out[1:]).all()
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    assert torch.equal(grad.detach(), torch.zeros(3, dtype=torch.float64))
    (second,) = torch.autograd.grad(grad.sum(), x, allow_unused=True)
    assert second is None or torch.isfinite(second).all()


def test_sqrt_is_correctly_rounded():
    x = torch.rand(1000, dtype=torch.float64) * 100
    assert torch.equal(safe_power(x, 0.5), torch.sqrt(x))


def test_integer_exponents_are_plain_powers_for_every_sign():
    x = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    out = safe_power(x, 3.0)
    assert torch.equal(out.detach(), torch.tensor([-8.0, 0.0, 27.0], dtype=torch.float64))
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(grad, torch.tensor([12.0, 0.0, 27.0], dtype=torch.float64))


def test_gradcheck_inside_the_domain():
    x = (0.5 + torch.rand(5, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: safe_power(v, 1 / 3), (x,))
    assert torch.autograd.gradgradcheck(lambda v: safe_power(v, 1.5), (x,))
