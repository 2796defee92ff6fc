"""symnn.solve.newton: converged solutions, implicit gradients against finite differences, clear failures."""

from __future__ import annotations

import math

import pytest
import torch

import symnn
from symnn.solve import NewtonError, _lu_factor, newton

N = 15  # interior nodes of the test bar
H = 1.0 / (N + 1)


def bar_residual(law):
    """Linear finite elements for -(law(u'))' = f on (0, 1), u(0) = u(1) = 0; f = a sin(pi x) + b."""
    x = torch.arange(1, N + 1, dtype=torch.float64) * H

    def residual(u: torch.Tensor, load: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
        strain = torch.diff(torch.nn.functional.pad(u, (1, 1)), dim=-1) / H
        stress = law(strain)
        nodes = x.to(u.dtype)
        force = load[..., :1] * torch.sin(math.pi * nodes) + load[..., 1:2]
        return stress[..., :-1] - stress[..., 1:] - H * force

    return residual


def cubic(strain: torch.Tensor) -> torch.Tensor:
    return 2.0 * strain + 5.0 * strain**3


def odd_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = symnn.Odd(symnn.MLP(1, 1, hidden=(8, 8))).double()

    class Law(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, strain: torch.Tensor) -> torch.Tensor:  # monotone: 1.5 e + e^3 + small net
            return 1.5 * strain + strain**3 + 0.2 * self.net(strain.unsqueeze(-1)).squeeze(-1)

    return Law()


def test_scalar_root_and_its_implicit_derivative(dtype):
    theta = torch.tensor([1.0, 4.0], dtype=dtype, requires_grad=True)
    u = newton(lambda u, t: u**3 + t * u - 2, torch.zeros(2, 1, dtype=dtype), (theta.unsqueeze(-1),))
    assert u.dtype == dtype
    assert torch.allclose(
        u**3 + theta.detach().unsqueeze(-1) * u - 2, torch.zeros(2, 1, dtype=dtype), atol=1e-5
    )
    (grad,) = torch.autograd.grad(u.sum(), theta)
    u_ = u.detach().squeeze(-1)
    expected = -u_ / (3 * u_**2 + theta.detach())  # implicit function theorem by hand
    assert torch.allclose(grad, expected, rtol=1e-4 if dtype == torch.float32 else 1e-12)


def test_bar_solution_satisfies_the_discrete_equation_and_banded_equals_dense():
    residual = bar_residual(cubic)
    load = torch.tensor([[3.0, 0.5], [-6.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    u0 = torch.zeros(3, N, dtype=torch.float64)
    banded = newton(residual, u0, (load,), bandwidth=1)
    dense = newton(residual, u0, (load,))
    assert residual(banded, load).abs().max() < 1e-12
    assert torch.allclose(banded, dense, atol=1e-14)
    assert torch.equal(banded[2], torch.zeros(N, dtype=torch.float64))  # no load, no displacement
    one = newton(residual, u0[1:2], (load[1:2],), bandwidth=1)  # each system solved on its own
    assert torch.allclose(one, banded[1:2], atol=1e-14)


def test_line_search_converges_from_far_away():
    residual = bar_residual(cubic)
    load = torch.tensor([[40.0, 0.0]], dtype=torch.float64)  # strongly nonlinear: e^3 dominates
    far = torch.full((1, N), 5.0, dtype=torch.float64)
    u = newton(residual, far, (load,), bandwidth=1)
    # the default tolerance: rounding level relative to the starting residual
    assert (
        residual(u, load).abs().max()
        <= 100 * torch.finfo(torch.float64).eps * residual(far, load).abs().max()
    )
    near = newton(residual, torch.zeros_like(far), (load,), bandwidth=1)
    assert torch.allclose(u, near, atol=1e-12)


def central_difference(fn, tensor: torch.Tensor, direction: torch.Tensor, step: float = 1e-5) -> float:
    with torch.no_grad():
        original = tensor.detach().clone()
        tensor.copy_(original + step * direction)
        plus = fn()
        tensor.copy_(original - step * direction)
        minus = fn()
        tensor.copy_(original)
    return float((plus - minus) / (2 * step))


def test_implicit_gradient_matches_finite_differences_to_1e_6():
    """The issue's check: gradients w.r.t. the law's network parameters and the load, float64."""
    law = odd_net()
    residual = bar_residual(law)
    load = torch.tensor([[4.0, -1.0], [-2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, N, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    u0 = torch.zeros(2, N, dtype=torch.float64)
    params = (load, *law.parameters())

    def objective() -> torch.Tensor:
        return (newton(residual, u0, params, bandwidth=1) * weights).sum()

    grads = torch.autograd.grad(objective(), params)
    generator = torch.Generator().manual_seed(2)
    for tensor, grad in zip(params, grads):
        direction = torch.randn(tensor.shape, dtype=torch.float64, generator=generator)
        exact = float((grad * direction).sum())
        estimate = central_difference(objective, tensor, direction)
        assert abs(exact - estimate) <= 1e-6 * max(1.0, abs(exact)), (tensor.shape, exact, estimate)


def test_gradcheck_through_the_solver():
    residual = bar_residual(cubic)
    load = torch.tensor([[3.0, 0.5]], dtype=torch.float64, requires_grad=True)
    u0 = torch.zeros(1, N, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda q: newton(residual, u0, (q,), bandwidth=1), (load,))


def test_no_grad_needed_returns_a_plain_solution():
    load = torch.tensor([[3.0, 0.5]], dtype=torch.float64)
    u = newton(bar_residual(cubic), torch.zeros(1, N, dtype=torch.float64), (load,), bandwidth=1)
    assert u.grad_fn is None and not u.requires_grad


def test_failure_names_the_system_and_its_residual_not_a_nan():
    softening = bar_residual(lambda e: e - e**3)  # stress peaks at 2/(3 sqrt 3): large loads have no solution
    load = torch.tensor([[0.1, 0.0], [50.0, 0.0], [0.2, 0.0]], dtype=torch.float64, requires_grad=True)
    with pytest.raises(NewtonError, match=r"system \(1,\): max\|R\| = ") as info:
        newton(softening, torch.zeros(3, N, dtype=torch.float64), (load,), bandwidth=1, max_iter=20)
    assert info.value.index == [(1,)]
    assert math.isfinite(info.value.residual[0]) and info.value.residual[0] > info.value.tol[0]
    assert info.value.iterations == 20


def test_nan_residual_is_a_failure():
    load = torch.tensor([[float("nan"), 0.0]], dtype=torch.float64)
    with pytest.raises(NewtonError, match="nan"):
        newton(bar_residual(cubic), torch.zeros(1, N, dtype=torch.float64), (load,), max_iter=3)


def test_singular_jacobian_is_a_named_failure_not_a_lapack_error():
    # u^2 = p from u0 = 0: the Jacobian 2u is singular there, so system 0 has no Newton step.
    square = lambda u, p: u**2 - p  # noqa: E731
    u0 = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    p = torch.tensor([[1.0], [4.5]], dtype=torch.float64)
    with pytest.raises(NewtonError, match=r"system \(0,\)") as info:
        newton(square, u0, (p,))
    assert info.value.index == [(0,)]


def test_a_nan_system_fails_by_name_and_leaves_the_rest_of_the_batch_solving():
    # LAPACK never sees the NaN Jacobian: that system alone stops and is named.
    load = torch.tensor([[3.0, 0.5], [float("nan"), 0.0], [1.0, 0.0]], dtype=torch.float64)
    with pytest.raises(NewtonError) as info:
        newton(bar_residual(cubic), torch.zeros(3, N, dtype=torch.float64), (load,), bandwidth=1)
    assert info.value.index == [(1,)]
    good = newton(bar_residual(cubic), torch.zeros(2, N, dtype=torch.float64), (load[[0, 2]],), bandwidth=1)
    assert torch.isfinite(good).all()


def test_mkl_batched_lu_bug_on_two_threads_factors_one_system_per_call():
    # Regression: torch 2.13's CPU batched LU (MKL, 2 threads) returned wrong factors for
    # some systems of a batch of 479 x 479 Jacobians, some with unset pivots that lu_solve
    # refused ("Parameter 6 was incorrect on entry to DLASWP"): the elasticity data
    # fixture failed on 2 threads.  Refactoring only the unset ones was not enough.
    generator = torch.Generator().manual_seed(0)
    n = 479
    a = torch.randn(4, n, n, generator=generator, dtype=torch.float64) + 4 * n**0.5 * torch.eye(n)
    b = torch.randn(4, n, generator=generator, dtype=torch.float64)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lu, pivots, info = _lu_factor(a)
        u = newton(
            lambda u, b: (a @ u.unsqueeze(-1)).squeeze(-1) - b, torch.zeros(4, n, dtype=torch.float64), (b,)
        )
    finally:
        torch.set_num_threads(threads)
    assert (pivots >= 1).all() and (info == 0).all()
    # The reference one system at a time: a batched torch.linalg.solve hits the same bug.
    expected = torch.stack([torch.linalg.solve(a_i, b_i) for a_i, b_i in zip(a, b, strict=True)])
    torch.testing.assert_close(torch.linalg.lu_solve(lu, pivots, b.unsqueeze(-1)).squeeze(-1), expected)
    torch.testing.assert_close(u, expected)


def test_gradient_at_a_singular_solution_is_refused_by_name():
    # u^2 = 0 converges to u = 0, where the Jacobian 2u is singular: no implicit gradient.
    p = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"singular for systems \[\(0,\)\]"):
        newton(lambda u, p: u**2 - p, torch.zeros(1, 1, dtype=torch.float64), (p,))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"residual": 3}, TypeError, "residual must be callable"),
        ({"u0": [0.0]}, TypeError, "u0 must be a torch.Tensor"),
        ({"u0": torch.tensor(0.0)}, ValueError, r"shape \(\.\.\., n\)"),
        ({"params": torch.ones(1)}, TypeError, "params must be a sequence"),
        ({"bandwidth": -1}, ValueError, "bandwidth must be"),
        ({"max_iter": 0}, ValueError, "max_iter must be"),
        ({"tol": 0.0}, ValueError, "tol must be positive"),
        ({"xtol": -1.0}, ValueError, "xtol must be non-negative"),
        ({"residual": lambda u: u.sum(-1)}, ValueError, "must have u's shape"),
    ],
)
def test_bad_input(kwargs, error, match):
    arguments = {"residual": lambda u: u - 1, "u0": torch.zeros(2), "params": ()} | kwargs
    with pytest.raises(error, match=match):
        newton(arguments.pop("residual"), arguments.pop("u0"), arguments.pop("params"), **arguments)
