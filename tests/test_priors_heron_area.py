"""functional.heron_area: Heron's formula, NaN-safe at degenerate triangles."""

import math

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
