"""functional.heron_area: Heron's formula, NaN-safe at degenerate triangles."""

import math

import _mp_reference
import pytest
import sympy
import torch

import symnn
from symnn.functional import heron_area
from symnn.testing import assert_equivariant


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_known_areas(dtype):
    edges = torch.tensor([[3.0, 4.0, 5.0], [2.0, 2.0, 2.0], [5.0, 5.0, 6.0]], dtype=dtype)
    expected = torch.tensor([6.0, math.sqrt(3), 12.0], dtype=dtype)
    area = heron_area(edges)
    assert area.dtype == dtype and area.shape == (3,)
    torch.testing.assert_close(area, expected)


def test_any_batch_shape():
    edges = 1 + torch.rand(2, 4, 3, dtype=torch.float64)
    assert heron_area(edges).shape == (2, 4)
    assert heron_area(edges[0, 0]).shape == ()


def test_symmetric_in_the_edges_and_of_degree_two():
    edges = 1 + torch.rand(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def model(e):
        return heron_area(e).unsqueeze(-1)

    assert_equivariant(model, symnn.Permutation(3) * symnn.Scaling(degree=2), edges)


def test_needle_triangle_is_accurate():
    # Kahan's ordering keeps the relative error small where the textbook formula loses it all.
    a, b, c = 1.0, 1.0, 1e-7
    exact = sympy.sqrt(
        sympy.Rational(1, 16)
        * (sympy.nsimplify(a) * 2 + sympy.Rational(1, 10**7))
        * sympy.Rational(1, 10**7) ** 2
        * (2 - sympy.Rational(1, 10**7))
    )
    area = heron_area(torch.tensor([a, b, c], dtype=torch.float64))
    assert abs(float(area) / float(exact) - 1) < 1e-14


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_degenerate_triangles_give_zero_with_finite_derivatives(dtype):
    edges = torch.tensor([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    edges.requires_grad_(True)
    area = heron_area(edges)
    assert torch.equal(area.detach(), torch.zeros(4, dtype=dtype))
    (grad,) = torch.autograd.grad(area.sum(), edges, create_graph=True)
    assert torch.equal(grad, torch.zeros_like(grad))  # the safe-root convention
    (second,) = torch.autograd.grad(grad.sum(), edges, allow_unused=True)
    assert second is None or torch.isfinite(second).all()


def test_invalid_and_negative_triangles_give_nan():
    edges = torch.tensor(
        [[1.0, 1.0, 3.0], [1.0, 0.0, 0.0], [-1.0, -1.0, -1.0], [-1.0, 2.0, 2.0], [math.nan, 1.0, 1.0]],
        dtype=torch.float64,
        requires_grad=True,
    )
    area = heron_area(edges)
    assert torch.isnan(area).all()
    # Invalid rows do not poison the gradient of a valid row of the same batch (only a
    # NaN input row keeps a NaN gradient, 0 * NaN).
    mixed = heron_area(torch.cat([edges, torch.tensor([[3.0, 4.0, 5.0]], dtype=torch.float64)]))
    (grad,) = torch.autograd.grad(mixed[-1], edges)
    assert torch.equal(grad[:4], torch.zeros(4, 3, dtype=torch.float64))


def test_gradcheck():
    edges = 1 + torch.rand(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    edges.requires_grad_(True)
    assert torch.autograd.gradcheck(heron_area, (edges,))
    assert torch.autograd.gradgradcheck(heron_area, (edges,))


def test_vmap():
    edges = 1 + torch.rand(6, 3, dtype=torch.float64)
    torch.testing.assert_close(torch.func.vmap(heron_area)(edges), heron_area(edges))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        heron_area(torch.ones(4, 2))
    with pytest.raises(TypeError, match="floating"):
        heron_area(torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        heron_area([3.0, 4.0, 5.0])


# Issue 10, item 1: the degree-4 product left the float range long before the area did.


def _area_and_grad(edges):
    edges = edges.clone().requires_grad_(True)
    area = heron_area(edges)
    (grad,) = torch.autograd.grad(area.sum(), edges)
    return area.detach(), grad


def test_heron_area_does_not_overflow_at_3e9_float32():
    area, grad = _area_and_grad(torch.tensor([[3e9, 4e9, 5e9]]))
    assert torch.equal(area, torch.tensor([6e18]))  # correctly rounded
    torch.testing.assert_close(grad, torch.tensor([[2e9, 1.5e9, 0.0]]), rtol=1e-6, atol=1e3)


def test_heron_area_does_not_underflow_at_3e_12_float32():
    area, grad = _area_and_grad(torch.tensor([[3e-12, 4e-12, 5e-12]]))
    torch.testing.assert_close(area, torch.tensor([6e-24]), rtol=2 * 2**-23, atol=0)
    torch.testing.assert_close(grad, torch.tensor([[2e-12, 1.5e-12, 0.0]]), rtol=1e-6, atol=1e-18)


def test_heron_area_of_float16_edges_of_16_is_finite():
    area, grad = _area_and_grad(torch.tensor([[16.0, 16.0, 16.0], [12.0, 16.0, 20.0]], dtype=torch.float16))
    assert area.dtype == torch.float16
    torch.testing.assert_close(area, torch.tensor([64 * math.sqrt(3), 96.0], dtype=torch.float16))
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("scale", [1e77, 1e150, 1e-81, 1e-150])
def test_heron_area_float64_beyond_1e77_and_below_1e_81(scale):
    edges = torch.tensor([[3.0, 4.0, 5.0]], dtype=torch.float64) * scale
    area, grad = _area_and_grad(edges)
    torch.testing.assert_close(area / scale**2, torch.tensor([6.0], dtype=torch.float64), rtol=1e-15, atol=0)
    torch.testing.assert_close(grad / scale, torch.tensor([[2.0, 1.5, 0.0]], dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_heron_area_within_4_ulp_with_correct_gradients_over_the_whole_range(dtype):
    # An independent reference (mpmath, 2400 bits) on triangles with edges anywhere in the
    # finite range: same-scale, needles of every shape, nearly flat ones, and Kahan's.
    values, grads = _mp_reference.heron_errors(_mp_reference.triangles(600, dtype, seed=1), dtype)
    assert values.size > 500
    assert values.max() <= 4, f"worst error {values.max():.2f} ulp"
    assert grads.size > 500
    # Measured worst over 18,000 rows: 17.6 eps (float32), 12.3 eps (float64).
    assert grads.max() <= 32 * torch.finfo(dtype).eps, f"worst gradient error {grads.max():.3g}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_kahans_needle_triangles_within_4_ulp(dtype):
    edges = _mp_reference.triangles(0, dtype)  # only Kahan's table
    assert len(edges) == len(_mp_reference.KAHAN_TRIANGLES)
    values, _ = _mp_reference.heron_errors(edges, dtype)
    assert values.size >= 7 and values.max() <= 4


def test_heron_area_vmap_and_hessian_run_through_the_exact_scaling():
    edges = torch.tensor([[3e30, 4e30, 5e30], [1.0, 1.0, 1e-300]], dtype=torch.float64)
    torch.testing.assert_close(torch.func.vmap(heron_area)(edges), heron_area(edges))
    assert torch.isfinite(torch.func.hessian(heron_area)(edges[0] / 1e30)).all()
