"""symnn.diagnostics.gradient_alignment: known values on linear least squares, the sketch against exact."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.functional import mse_loss

import symnn
from symnn.diagnostics import GradientAlignment, gradient_alignment


def linear(weight: torch.Tensor, bias: bool = False) -> torch.nn.Linear:
    model = torch.nn.Linear(weight.shape[-1], 1, bias=bias).to(weight.dtype)
    with torch.no_grad():
        model.weight.copy_(weight.reshape(1, -1))
        if bias:
            model.bias.zero_()
    return model


def analytic_fraction(features: torch.Tensor, residual: torch.Tensor) -> float:
    """||P r|| / ||r|| with P the orthogonal projector onto the column span of ``features`` (by lstsq)."""
    coefficients = torch.linalg.lstsq(features, residual).solution
    return float((features @ coefficients).norm() / residual.norm())


def test_full_row_rank_gives_one(dtype):
    """Fewer outputs than parameters, random inputs: J = [X, 1] has full row rank, so every g is reachable."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 8, dtype=dtype, generator=generator)
    y = torch.randn(5, 1, dtype=dtype, generator=generator)
    model = linear(torch.randn(8, dtype=dtype, generator=generator), bias=True)
    report = gradient_alignment(model, mse_loss, x, y, method="exact")
    assert report.fraction == pytest.approx(1.0, abs=1e-5 if dtype == torch.float32 else 1e-12)
    assert report.rank == 5 and (report.outputs, report.parameters) == (5, 9)
    with torch.no_grad():
        r = model(x) - y
        assert report.loss == pytest.approx(float(mse_loss(model(x), y)))
        by_hand = torch.cat([x.mT @ r, r.sum().reshape(1, 1)]).norm() * 2 / 5  # |J^T g|, g = 2 r / m
    assert report.grad_norm == pytest.approx(float(by_hand), rel=1e-5)


def test_more_outputs_than_parameters_gives_the_projection(dtype):
    """Rank-deficient J (m = 12 > p = 3): the fraction is ||P r||/||r|| for r = F - y, P onto span of X's columns."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(12, 3, dtype=dtype, generator=generator)
    y = torch.randn(12, 1, dtype=dtype, generator=generator)
    model = linear(torch.randn(3, dtype=dtype, generator=generator))
    report = gradient_alignment(model, mse_loss, x, y, method="exact")
    expected = analytic_fraction(x.double(), (model(x) - y).detach().double())
    assert 0.05 < expected < 0.95  # a case that is neither trivial answer
    assert report.fraction == pytest.approx(expected, abs=1e-5 if dtype == torch.float32 else 1e-12)
    assert report.rank == 3


def test_duplicated_feature_has_rank_one_by_the_tolerance():
    """Two identical columns: J = [t, t] has rank 1 though p = 2; the fraction is |t·r| / (|t||r|)."""
    t = torch.tensor([[1.0], [2.0], [-1.0], [0.5]], dtype=torch.float64)
    x = torch.cat([t, t], dim=1)
    y = torch.tensor([[0.3], [-1.0], [2.0], [1.0]], dtype=torch.float64)
    model = linear(torch.tensor([0.7, -0.2], dtype=torch.float64))
    r = (model(x) - y).detach()
    report = gradient_alignment(model, mse_loss, x, y, method="exact")
    assert report.rank == 1
    assert report.fraction == pytest.approx(float((t * r).sum().abs() / (t.norm() * r.norm())), abs=1e-13)


def test_least_squares_optimum_is_the_unfavourable_place():
    """At the least-squares solution of an overdetermined fit, g is orthogonal to range J: loss > 0, fraction 0."""
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(20, 3, dtype=torch.float64, generator=generator)
    y = torch.randn(20, 1, dtype=torch.float64, generator=generator)
    model = linear(torch.linalg.lstsq(x, y).solution.reshape(-1))
    report = gradient_alignment(model, mse_loss, x, y, method="exact")
    assert report.loss > 0.1
    assert report.fraction < 1e-12 and report.grad_norm < 1e-13


def mlp_probe(seed: int = 3, m: int = 150):
    torch.manual_seed(seed)
    model = symnn.MLP(2, 1, hidden=(8, 8)).double()  # p = 105 < m: J cannot have full row rank
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(m, 2, dtype=torch.float64, generator=generator)
    y = torch.randn(m, 1, dtype=torch.float64, generator=generator)
    return model, x, y


def test_sketch_converges_to_exact_and_stays_below_it():
    """With a rank cut well above rounding (rtol=1e-7): singular directions J barely reaches are ill-determined
    in any method, and this test compares methods, not rounding."""
    model, x, y = mlp_probe()
    exact = gradient_alignment(model, mse_loss, x, y, method="exact", rtol=1e-7)
    assert 0.1 < exact.fraction < 0.99 and exact.rank <= exact.parameters < exact.outputs
    estimates = []
    for k in (1, 8, 32, exact.parameters + 5):  # beyond p, span(J Omega) = range(J) exactly
        sketch = gradient_alignment(
            model,
            mse_loss,
            x,
            y,
            method="sketch",
            sketch_size=k,
            rtol=1e-7,
            generator=torch.Generator().manual_seed(k),
        )
        assert sketch.method == "sketch" and sketch.loss == exact.loss and sketch.grad_norm == exact.grad_norm
        assert sketch.fraction <= exact.fraction + 1e-9
        estimates.append(sketch.fraction)
    assert estimates[0] < exact.fraction - 0.05  # one direction is not enough here
    assert estimates[-1] == pytest.approx(exact.fraction, abs=1e-9)  # k beyond the rank: exact


def test_sketch_includes_the_gradient_direction():
    """With one random direction, the estimate is at least the 1-D Krylov bound g^T JJ^T g / (|g| |JJ^T g|)."""
    model, x, y = mlp_probe(4)
    sketch = gradient_alignment(model, mse_loss, x, y, method="sketch", sketch_size=1)
    output = model(x)
    g = torch.autograd.grad(mse_loss(output, y), output, retain_graph=True)[0].reshape(-1)
    params = list(model.parameters())
    jtg = torch.autograd.grad(output, params, g.reshape(output.shape), retain_graph=True)
    _, jjtg = torch.func.jvp(
        lambda *ps: torch.func.functional_call(model, dict(zip(dict(model.named_parameters()), ps)), (x,)),
        tuple(p.detach() for p in params),
        jtg,
    )
    bound = float(g @ jjtg.reshape(-1) / (g.norm() * jjtg.norm()))
    assert sketch.fraction >= bound - 1e-12


def test_loop_equals_vectorized_and_auto_picks_exact_for_small_probes():
    model, x, y = mlp_probe(5, m=10)
    vectorized = gradient_alignment(model, mse_loss, x, y)
    looped = gradient_alignment(model, mse_loss, x, y, vectorize=False)
    assert vectorized.method == "exact"
    assert looped.fraction == pytest.approx(vectorized.fraction, abs=1e-12) and looped.rank == vectorized.rank


def test_zero_output_gradient_is_fully_aligned():
    x = torch.eye(2, dtype=torch.float64)
    model = linear(torch.tensor([1.0, 2.0], dtype=torch.float64))
    report = gradient_alignment(model, mse_loss, x, model(x).detach())
    assert report.fraction == 1.0 and report.loss == 0.0 and report.grad_norm == 0.0


def test_nan_gives_nan():
    x = torch.tensor([[float("nan"), 1.0]], dtype=torch.float64)
    report = gradient_alignment(linear(torch.ones(2, dtype=torch.float64)), mse_loss, x, torch.zeros(1, 1))
    assert math.isnan(report.fraction)


def test_repr_is_readable():
    report = GradientAlignment(0.5, 1.25, 0.1, 2.0, 3, 10, 20, "exact")
    assert repr(report) == (
        "GradientAlignment(fraction=0.5000, loss=1.25, grad_norm=0.1, method='exact', rank=3 of J 10x20)"
    )


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"model": lambda x: x}, TypeError, "model must be a torch.nn.Module"),
        ({"loss_fn": "mse"}, TypeError, "loss_fn must be callable"),
        ({"x": [[1.0, 2.0]]}, TypeError, "x must be a torch.Tensor"),
        ({"y": 1.0}, TypeError, "y must be a torch.Tensor"),
        ({"method": "svd"}, ValueError, "method must be one of"),
        ({"sketch_size": 0}, ValueError, "sketch_size must be"),
        ({"rtol": -1.0}, ValueError, "rtol must be non-negative"),
        ({"loss_fn": lambda f, y: (f - y) ** 2}, ValueError, "scalar tensor"),
        ({"loss_fn": lambda f, y: torch.tensor(1.0)}, ValueError, "does not depend"),
        (
            {"model": linear(torch.ones(2)).requires_grad_(False)},
            ValueError,
            "no parameters that require grad",
        ),
    ],
)
def test_bad_input(change, error, match):
    arguments = {
        "model": linear(torch.ones(2)),
        "loss_fn": mse_loss,
        "x": torch.ones(3, 2),
        "y": torch.zeros(3, 1),
    } | change
    options = {k: arguments.pop(k) for k in ("method", "sketch_size", "rtol") if k in arguments}
    with pytest.raises(error, match=match):
        gradient_alignment(**arguments, **options)


def test_through_a_differentiable_solve():
    """F = u(x) with u^3 + u = w0 x + w1 (symnn.solve.newton): J = [x, 1] / (3u^2 + 1), exact method."""

    class Solved(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([0.8, -0.3], dtype=torch.float64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return symnn.solve.newton(
                lambda u, w: u**3 + u - (w[0] * x + w[1]), torch.zeros_like(x), (self.w,)
            )

    x = torch.linspace(-2, 2, 9, dtype=torch.float64).unsqueeze(-1)
    y = torch.cos(3 * x)
    model = Solved()
    report = gradient_alignment(model, mse_loss, x, y)
    u = model(x).detach()
    features = torch.cat([x, torch.ones_like(x)], dim=1) / (3 * u**2 + 1)
    assert report.rank == 2
    assert report.fraction == pytest.approx(analytic_fraction(features, u - y), abs=1e-12)
