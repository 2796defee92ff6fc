"""SympyModule: a sympy expression as an nn.Module with learnable constants."""

import io

import pytest
import sympy
import torch
from torch.func import functional_call

import symnn
from symnn.priors import SympyModule, heron

a, b, c, C, x, k, w = sympy.symbols("a b c C x k w")
HERON_AREA = sympy.sqrt(C * (a + b + c) * (a + b - c) * (a - b + c) * (-a + b + c))


def triangles(n, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (1 + torch.rand(n, 3, generator=g, dtype=torch.float64)).to(dtype)


def sympy_at(expr, symbols, rows, constants):
    return torch.tensor(
        [float(expr.subs({**dict(zip(symbols, r)), **constants}).evalf(30)) for r in rows.tolist()],
        dtype=torch.float64,
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)], ids=str)
def test_output_is_one_column_in_the_input_dtype(dtype, batch):
    module = SympyModule(HERON_AREA, [a, b, c])
    out = module(triangles(6, dtype)[0].expand(*batch, 3))
    assert out.shape == (*batch, 1)
    assert out.dtype == dtype


def test_values_and_input_gradient_agree_with_sympy():
    expr = C * sympy.exp(-a * b) * sympy.sin(c) + sympy.sqrt(a**2 + b**2) / (1 + c**2) + w * a**3
    module = SympyModule(expr, [a, b, c], initial={C: 0.7, "w": -1.3})
    consts = {C: sympy.Float(0.7, 30), w: sympy.Float(-1.3, 30)}
    rows = triangles(6).requires_grad_(True)
    out = module(rows).squeeze(-1)
    torch.testing.assert_close(
        out.detach(), sympy_at(expr, [a, b, c], rows.detach(), consts), rtol=1e-12, atol=0
    )
    (grad,) = torch.autograd.grad(out.sum(), rows)
    for i, s in enumerate((a, b, c)):
        expected = sympy_at(sympy.diff(expr, s), [a, b, c], rows.detach(), consts)
        torch.testing.assert_close(grad[:, i], expected, rtol=1e-11, atol=1e-12)


def test_gradcheck_in_inputs_and_constants():
    module = SympyModule(HERON_AREA * sympy.exp(-k * a), [a, b, c], initial={C: 0.07, k: 0.3})
    params = dict(module.named_parameters())

    def f(rows, c_value, k_value):
        return functional_call(module, {"constants.C": c_value, "constants.k": k_value}, (rows,))

    inputs = (triangles(4).requires_grad_(True), params["constants.C"].detach().clone().requires_grad_(True))
    inputs += (params["constants.k"].detach().clone().requires_grad_(True),)
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_degenerate_triangle_has_zero_area_and_finite_gradients(dtype):
    module = SympyModule(HERON_AREA, [a, b, c], initial=1 / 16).to(dtype)
    edges = torch.tensor([[1.0, 2.0, 3.0], [2.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=dtype, requires_grad=True)
    area = module(edges)
    assert torch.equal(area.detach(), torch.zeros(3, 1, dtype=dtype))
    grad_edges, grad_c = torch.autograd.grad(area.sum(), (edges, module.constants["C"]), create_graph=True)
    assert torch.isfinite(grad_edges).all() and torch.isfinite(grad_c).all()
    (second,) = torch.autograd.grad(grad_edges.sum(), edges)
    assert torch.isfinite(second).all()


def test_invalid_triangle_gives_nan():
    module = SympyModule(HERON_AREA, [a, b, c], initial=1 / 16)
    area = module(torch.tensor([[1.0, 1.0, 3.0], [3.0, 4.0, 5.0]], dtype=torch.float64))
    assert torch.isnan(area[0]).all()
    assert area[1].item() == 6.0


def test_nan_in_gives_nan_out():
    module = SympyModule(HERON_AREA, [a, b, c])
    assert torch.isnan(module(torch.tensor([[float("nan"), 1.0, 1.0]]))).all()


def test_constants_are_parameters_with_configurable_start():
    module = SympyModule(k * x + w * x**3, [x], initial={k: 2.0})
    assert list(module.constant_values()) == ["k", "w"]  # sorted by name
    assert module.constant_values() == {"k": 2.0, "w": 1.0}
    assert {n for n, _ in module.named_parameters()} == {"constants.k", "constants.w"}
    assert all(p.dtype == torch.float64 for p in module.parameters())
    assert SympyModule(k * x + w, [x], initial=0.5).constant_values() == {"k": 0.5, "w": 0.5}
    explicit = SympyModule(k * x + w, [x], constants=[w, k])
    assert [str(s) for s in explicit.constant_symbols] == ["w", "k"]


def test_fitted_expr_substitutes_the_constants():
    module = SympyModule(k * x, [x], initial=0.25)
    fitted = module.fitted_expr()
    assert fitted.free_symbols == {x} and float(fitted.coeff(x)) == 0.25
    assert "k=0.25" in repr(module)


def test_a_derivation_brings_its_own_inputs():
    module = SympyModule(heron(), initial=1 / 256)
    assert module.inputs == sympy.symbols("a b c")
    torch.testing.assert_close(module(torch.tensor([[3.0, 4.0, 5.0]])), torch.tensor([[36.0 / 16]]))


def test_a_constant_form_still_gives_one_value_per_row():
    module = SympyModule(k + 0 * x, [x], initial=3.0)
    out = module(torch.zeros(4, 1))
    assert out.shape == (4, 1) and torch.equal(out, torch.full((4, 1), 3.0))
    (grad,) = torch.autograd.grad(out.sum(), module.constants["k"])
    assert grad.item() == 4.0


def test_vmap_and_pickle():
    module = SympyModule(HERON_AREA, [a, b, c], initial=1 / 16)
    rows = triangles(5)
    torch.testing.assert_close(torch.func.vmap(module)(rows), module(rows))
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    torch.testing.assert_close(loaded(rows), module(rows))


def test_physics_residual_learns_only_the_correction():
    # The lecture's F = k* x + f(x): the known linear law is a frozen SympyModule,
    # an odd network learns the cubic remainder.
    torch.manual_seed(0)
    baseline = SympyModule(k * x, [x], initial={k: 2.0})
    correction = symnn.Odd(symnn.MLP(1, 1, hidden=(16, 16)))
    model = symnn.PhysicsResidual(baseline, correction, train_baseline=False)
    xs = torch.linspace(-1, 1, 32).unsqueeze(-1)
    force = 2.0 * xs + 0.5 * xs**3
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p is not baseline.constants["k"] for p in trainable)
    optimizer = torch.optim.Adam(trainable, lr=2e-2)
    first = None
    for _ in range(100):
        optimizer.zero_grad()
        loss = torch.mean((model(xs) - force) ** 2)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert baseline.constant_values() == {"k": 2.0}
    assert loss.item() < 1e-2 * first
    torch.testing.assert_close(correction(xs), 0.5 * xs**3, atol=1e-2, rtol=0)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("a + b", [a, b]), {}, TypeError, "sympy expression"),
        ((a + b, "a b"), {}, TypeError, "sympy Symbol"),
        ((a + b,), {}, TypeError, "inputs are required"),
        ((a + b + k, [a, b]), {"constants": [C]}, ValueError, r"\['k'\]"),
        ((a + b, [a, b]), {"constants": [a]}, ValueError, "both as inputs and as constants"),
        ((a + sympy.Symbol("a", positive=True), [a]), {}, ValueError, "share a name"),
        ((a + k, [a]), {"initial": {"q": 1.0}}, ValueError, "'q'"),
        ((a + k, [a]), {"initial": "big"}, TypeError, "initial"),
    ],
)
def test_bad_construction_is_named(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        SympyModule(*args, **kwargs)


def test_wrong_column_count_names_the_inputs():
    module = SympyModule(HERON_AREA, [a, b, c])
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\).*\(a, b, c\).*\(4, 2\)"):
        module(torch.ones(4, 2))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        module([[1.0, 2.0, 3.0]])
