"""torch.compile(fullgraph=True) of every public layer and of a physics-informed loss.

Each case is traced by dynamo with ``fullgraph=True`` (a graph break raises) and its graph
breaks are also counted by ``torch._dynamo.explain`` (must be 0).  Values and parameter
gradients are compared with eager bit for bit under the ``aot_eager`` backend (dynamo and
AOT autograd's traced forward and backward, run by eager kernels, so nothing may change a
bit); inductor's fused code for ``so3_exp`` is checked in ``tests/test_so3.py``.  The
layers share one test so that dynamo's warm-up is paid once.
"""

from __future__ import annotations

import pytest
import torch

import symnn
from symnn import pinn
from symnn._so3 import _rodrigues_fusible

pytestmark = pytest.mark.slow


def _mlp(n_in: int = 3, n_out: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    return symnn.MLP(n_in, n_out, hidden=(16, 16), activation="tanh")


class _FusibleSO3Exp(torch.nn.Module):
    """SO3Exp's compiled formula run eagerly: the reference for the compiled SO3Exp."""

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return _rodrigues_fusible(v)


def _layers() -> dict[str, tuple[torch.nn.Module, torch.Tensor]]:
    """Every public layer, on inputs that reach its edge cases (ties, zeros, a zero vector)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 3, generator=g, dtype=torch.float64)
    x[0] = 0.0
    x[1, 1] = x[1, 0]  # a tie for the sort
    positive = x.abs() + 0.1
    return {
        "Odd": (symnn.Odd(_mlp()), x),
        "Even": (symnn.Even(_mlp()), x),
        "PermutationSort": (symnn.PermutationSort(_mlp()), x),
        "ScaleNormalize(sum)": (symnn.ScaleNormalize(_mlp(), degree=2), positive),
        "ScaleNormalize(norm)": (symnn.ScaleNormalize(_mlp(), degree=1, scale="norm"), x),
        "Symmetrize": (symnn.Symmetrize(_mlp(), symnn.Permutation(3)), x),
        "SO3Exp": (torch.nn.Sequential(_mlp(3, 3), symnn.SO3Exp()), x),
        "PhysicsResidual": (symnn.PhysicsResidual(torch.nn.Linear(3, 1), _mlp()), x),
        "MLP": (_mlp(), x),
        "ScaleNormalize(PermutationSort)": (
            symnn.ScaleNormalize(symnn.PermutationSort(_mlp()), degree=2),
            positive,
        ),
    }


def _graph_breaks(fn, *args) -> int:
    torch._dynamo.reset()
    return torch._dynamo.explain(fn)(*args).graph_break_count


def _values_and_gradients(model: torch.nn.Module, fn, x: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    out = fn(x)
    out.square().sum().backward()
    return [out.detach()] + [p.grad.clone() for p in model.parameters()]


def test_every_public_layer_compiles_fullgraph_with_eager_values_and_gradients():
    for name, (model, x64) in _layers().items():
        for dtype in (torch.float32, torch.float64):
            model = model.to(dtype)
            x = x64.to(dtype)
            assert _graph_breaks(model, x) == 0, name
            torch._dynamo.reset()
            compiled = torch.compile(model, fullgraph=True, backend="aot_eager", dynamic=False)
            got = _values_and_gradients(model, compiled, x)
            reference = model
            if name == "SO3Exp":  # under compile so3_exp takes its fusible form (test_so3 checks both agree)
                reference = torch.nn.Sequential(model[0], _FusibleSO3Exp())
            expected = _values_and_gradients(model, reference, x)
            for g, e in zip(got, expected):
                assert torch.equal(g, e), (name, dtype, (g - e).abs().max())
        if name == "Odd":  # the exact guarantee survives compilation
            out = compiled(x)
            assert torch.equal(compiled(-x), -out)


def test_graph_break_count_detects_a_break():
    # The check above can fail: a data-dependent Python branch is a break.
    def branchy(x):
        return x * 2 if bool(x.sum() > 0) else x

    assert _graph_breaks(branchy, torch.ones(3)) >= 1


def test_pinn_loss_compiles_fullgraph_with_eager_values_and_gradients():
    # torch.autograd.grad inside a compiled function needs dynamo's trace_autograd_ops
    # (off by default in torch 2.13: then every pinn operator is a graph break).
    net = _mlp(2, 1).double()
    x = torch.rand(32, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def loss(x):
        u = net(x)
        residual = pinn.laplacian(u, x) - pinn.derivative(u, x, (1, 0))
        flux = pinn.divergence(x * u, x) + pinn.grad(u, x, dims=[1]).squeeze(-1)
        return pinn.residual_loss(residual) + flux.square().mean()

    with torch._dynamo.config.patch(trace_autograd_ops=True):
        leaf = x.clone().requires_grad_()
        assert _graph_breaks(loss, leaf) == 0
        torch._dynamo.reset()
        compiled = torch.compile(loss, fullgraph=True, backend="aot_eager", dynamic=False)
        results = []
        for fn in (compiled, loss):
            leaf = x.clone().requires_grad_()
            value = fn(leaf)
            results.append([value.detach(), *torch.autograd.grad(value, list(net.parameters()))])
    for g, e in zip(*results):
        assert torch.equal(g, e), (g - e).abs().max()


def _penalty_cases(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    """symmetry_penalty and RandomAction as a training step would call them, each with the
    tensors it takes; the seeded draws are made outside the compiled function."""
    sym = symnn.Permutation(3) * symnn.Scaling(2)
    generator = torch.Generator().manual_seed(3)
    drawn = [sym.sample_rows((len(x),), generator) for _ in range(2)]
    action = symnn.RandomAction(sym, generator=generator)
    g = action.draw(x, y)
    term = symnn.SymmetryPenalty(symnn.Permutation(3), weight=0.5, elements="all")

    def all_elements(x, y):
        return symnn.symmetry_penalty(model, x, symnn.Permutation(3), elements="all") + term(model, x, y)

    def seeded_draws(x, y, drawn):
        return symnn.symmetry_penalty(model, x, sym, y, elements=drawn)

    def online(x, y, g):
        gx, gy = action(x, y, elements=g)
        return (model(gx) - gy).square().mean()

    return {
        "penalty(elements='all') + SymmetryPenalty": (all_elements, (x, y)),
        "penalty(elements=seeded draws)": (seeded_draws, (x, y, drawn)),
        "RandomAction(elements=action.draw(x, y))": (online, (x, y, g)),
    }


def test_penalty_and_random_action_compile_fullgraph_with_eager_values_and_gradients():
    model = _mlp()
    g = torch.Generator().manual_seed(4)
    for dtype in (torch.float32, torch.float64):
        model = model.to(dtype)
        x = (torch.rand(16, 3, generator=g, dtype=torch.float64) + 0.1).to(dtype)
        y = x.prod(-1, keepdim=True)
        for name, (fn, args) in _penalty_cases(model, x, y).items():
            assert _graph_breaks(fn, *args) == 0, name
            torch._dynamo.reset()
            compiled = torch.compile(fn, fullgraph=True, backend="aot_eager", dynamic=False)
            results = []
            for f in (compiled, fn):
                value = f(*args)
                results.append([value.detach(), *torch.autograd.grad(value, list(model.parameters()))])
            assert results[1][0] > 0, name  # a zero penalty would prove nothing
            for got, expected in zip(*results):
                assert torch.equal(got, expected), (name, dtype, (got - expected).abs().max())


def test_random_draws_without_a_generator_compile_fullgraph_and_match_eager_under_one_seed():
    model = _mlp().double()
    x = torch.rand(16, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64) + 0.1
    sym = symnn.Permutation(3) * symnn.Scaling(2)
    action = symnn.RandomAction(sym)

    def step(x):
        gx = action(x)
        return symnn.symmetry_penalty(model, gx, sym, n_elements=2)

    assert _graph_breaks(step, x) == 0
    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager", dynamic=False)
    results = []
    for f in (compiled, step):
        torch.manual_seed(6)
        value = f(x)
        results.append([value.detach(), *torch.autograd.grad(value, list(model.parameters()))])
    for got, expected in zip(*results):
        assert torch.equal(got, expected), (got - expected).abs().max()


def test_a_generator_inside_the_compiled_region_is_a_graph_break():
    # Why the seeded draws are passed in: the graph-break count above can fail.
    model = _mlp().double()
    x = torch.rand(8, 3, dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)

    def drawn_inside(x):
        return symnn.symmetry_penalty(model, x, symnn.Scaling(2), generator=generator)

    assert _graph_breaks(drawn_inside, x) >= 1


def test_checkpointed_penalty_compiles_fullgraph_with_eager_values_and_gradients():
    model = _mlp().double()
    x = torch.rand(16, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64)

    def penalty(x):
        return symnn.symmetry_penalty(model, x, symnn.Permutation(3), elements="all", checkpoint=True)

    assert _graph_breaks(penalty, x) == 0
    torch._dynamo.reset()
    compiled = torch.compile(penalty, fullgraph=True, backend="aot_eager", dynamic=False)
    results = []
    for f in (compiled, penalty):
        value = f(x)
        results.append([value.detach(), *torch.autograd.grad(value, list(model.parameters()))])
    for got, expected in zip(*results):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
