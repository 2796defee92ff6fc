"""The Laplace problem: the exact solution, the boundary extension, and a quick run."""

import pytest
import torch
from _zoo_quick import assert_quick_findings_hold, run_quick

from symnn import pinn
from symnn_zoo import laplace


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return run_quick("laplace", tmp_path_factory.mktemp("laplace"))


def test_the_exact_solution_is_harmonic():
    x = torch.rand(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert float(pinn.laplacian(laplace.exact_solution(x), x).detach().abs().max()) < 1e-12


def test_the_transfinite_extension_equals_the_boundary_data_on_every_edge():
    calls = []

    def data(p):
        on_boundary = (p == 0) | (p == 1)
        calls.append(bool(on_boundary.any(-1).all()))
        return laplace.exact_solution(p)

    g = laplace.transfinite(data)
    t = torch.linspace(0, 1, 41, dtype=torch.float64)
    zero, one = torch.zeros_like(t), torch.ones_like(t)
    for edge in ((t, zero), (t, one), (zero, t), (one, t)):
        p = torch.stack(edge, dim=-1)
        torch.testing.assert_close(g(p), laplace.exact_solution(p), rtol=0, atol=1e-15)
    assert all(calls), "the boundary data was read off the boundary"


@pytest.mark.slow
def test_quick_findings_hold(quick):
    assert_quick_findings_hold(quick)
