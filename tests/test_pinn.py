"""symnn.pinn: differential operators, residual loss, hard boundary conditions."""

import pytest
import torch

import symnn
from symnn import pinn

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=0, atol=1e-10)}


def points(n, d, dtype, seed=0, low=-1.0, high=1.0):
    x = low + (high - low) * torch.rand(
        n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    return x.to(dtype).requires_grad_()


def tanh_mlp(d_in, dtype, hidden=(16, 16), seed=0):
    torch.manual_seed(seed)
    return symnn.MLP(d_in, 1, hidden=hidden, activation="tanh").to(dtype)


# --------------------------------------------------------------------------- exact values


@pytest.mark.parametrize("dtype", DTYPES)
def test_laplacian_of_harmonic_functions_is_zero(dtype):
    x = points(50, 2, dtype)
    u1 = torch.exp(x[:, 0]) * torch.sin(x[:, 1])
    u2 = (x[:, 0] ** 2 - x[:, 1] ** 2).unsqueeze(-1)
    lap1, lap2 = pinn.laplacian(u1, x), pinn.laplacian(u2, x)
    assert lap1.shape == (50,) and lap2.shape == (50, 1)
    assert lap1.dtype == dtype
    torch.testing.assert_close(lap1, torch.zeros_like(lap1), **TOL[dtype])
    torch.testing.assert_close(lap2, torch.zeros_like(lap2), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient_and_laplacian_of_a_random_quadratic(dtype):
    g = torch.Generator().manual_seed(1)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64).to(dtype)
    b = torch.randn(4, generator=g, dtype=torch.float64).to(dtype)
    x = points(30, 4, dtype)
    u = ((x @ A) * x).sum(-1) + x @ b + 0.5
    torch.testing.assert_close(pinn.grad(u, x), x @ (A + A.T) + b, **TOL[dtype])
    lap = pinn.laplacian(u, x)
    torch.testing.assert_close(lap, torch.full_like(lap, 2 * torch.trace(A).item()), **TOL[dtype])
    # dims: the gradient and Laplacian over chosen coordinates only.
    torch.testing.assert_close(pinn.grad(u, x, dims=[3, 1]), (x @ (A + A.T) + b)[:, [3, 1]], **TOL[dtype])
    partial = pinn.laplacian(u, x, dims=[0, 2])
    torch.testing.assert_close(
        partial, torch.full_like(partial, 2 * (A[0, 0] + A[2, 2]).item()), **TOL[dtype]
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_by_multi_index(dtype):
    x = points(20, 2, dtype)
    ex, sy, cy = torch.exp(x[:, 0]), torch.sin(x[:, 1]), torch.cos(x[:, 1])
    u = (ex * sy).unsqueeze(-1)
    cases = {
        (0, 0): ex * sy,
        (1, 0): ex * sy,
        (1, 1): ex * cy,
        (2, 1): ex * cy,
        (0, 3): -ex * cy,
        (2, 2): -ex * sy,
    }
    for alpha, exact in cases.items():
        d = pinn.derivative(u, x, alpha)
        assert d.shape == (20, 1)
        torch.testing.assert_close(d, exact.unsqueeze(-1), **TOL[dtype])
    torch.testing.assert_close(pinn.derivative(u, x, (3,), dims=[1]), -(ex * cy).unsqueeze(-1), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_divergence_of_a_vector_field(dtype):
    x = points(20, 3, dtype)
    v = torch.stack([x[:, 0] ** 2, x[:, 0] * x[:, 1], torch.sin(x[:, 2])], dim=-1)
    div = pinn.divergence(v, x)
    assert div.shape == (20,)
    torch.testing.assert_close(div, 3 * x[:, 0] + torch.cos(x[:, 2]), **TOL[dtype])
    torch.testing.assert_close(pinn.divergence(v[:, :2], x, dims=[0, 1]), 3 * x[:, 0], **TOL[dtype])
    # The divergence of the gradient is the Laplacian.
    u = (x**3).sum(-1)
    torch.testing.assert_close(pinn.divergence(pinn.grad(u, x), x), pinn.laplacian(u, x), **TOL[dtype])


def test_batched_operators_agree_with_one_row_at_a_time():
    net = tanh_mlp(2, torch.float64)
    x = points(5, 2, torch.float64)
    batched = pinn.laplacian(net(x), x)
    for i in range(5):
        xi = x[i : i + 1].detach().clone().requires_grad_()
        torch.testing.assert_close(pinn.laplacian(net(xi), xi), batched[i : i + 1], rtol=1e-13, atol=1e-15)


def test_second_derivatives_constant_in_x_are_zero_not_an_error():
    # Regression: the gradient of a linear model no longer depends on x.
    linear = torch.nn.Linear(3, 1).double()
    x = points(4, 3, torch.float64)
    assert torch.equal(pinn.laplacian(linear(x), x), torch.zeros(4, 1, dtype=torch.float64))
    relu = symnn.MLP(3, 1, hidden=(8,), activation="relu").double()
    assert torch.equal(pinn.laplacian(relu(x), x), torch.zeros(4, 1, dtype=torch.float64))
    assert torch.equal(pinn.derivative(linear(x), x, (1, 1, 0)), torch.zeros(4, 1, dtype=torch.float64))


# --------------------------------------------------------------------------- training through them


def _flat_params_call(net, x, operator):
    names = [name for name, _ in net.named_parameters()]

    def f(*values):
        u = torch.func.functional_call(net, dict(zip(names, values)), (x,))
        return operator(u, x)

    values = tuple(p.detach().clone().requires_grad_() for p in net.parameters())
    return f, values


@pytest.mark.parametrize(
    "operator",
    [
        pinn.laplacian,
        pinn.grad,
        lambda u, x: pinn.derivative(u, x, (1, 2)),
        lambda u, x: pinn.divergence(pinn.grad(u, x), x),
    ],
    ids=["laplacian", "grad", "derivative", "divergence"],
)
def test_gradcheck_with_respect_to_model_parameters(operator):
    net = tanh_mlp(2, torch.float64, hidden=(3,))
    x = points(3, 2, torch.float64)
    f, values = _flat_params_call(net, x, operator)
    assert torch.autograd.gradcheck(f, values)


def test_gradcheck_of_the_laplacian_with_respect_to_inputs():
    net = tanh_mlp(2, torch.float64, hidden=(3,))

    def f(x):
        return pinn.laplacian(net(x), x)

    assert torch.autograd.gradcheck(f, (points(2, 2, torch.float64),))


def test_without_create_graph_the_result_is_detached_and_the_graph_survives():
    net = tanh_mlp(2, torch.float64)
    x = points(4, 2, torch.float64)
    u = net(x)
    lap = pinn.laplacian(u, x, create_graph=False)
    assert not lap.requires_grad
    torch.testing.assert_close(lap, pinn.laplacian(u, x).detach())
    u.sum().backward()  # the model's own graph is still there
    assert net.layers[0].weight.grad is not None


# --------------------------------------------------------------------------- bad input


def test_inputs_that_do_not_require_grad_are_a_clear_error():
    x = torch.rand(4, 2)
    u = x.sum(-1)
    for operator in (pinn.laplacian, pinn.grad, lambda u, x: pinn.derivative(u, x, (1, 0))):
        with pytest.raises(ValueError, match=r"x does not require grad.*requires_grad_"):
            operator(u, x)


def test_outputs_that_do_not_depend_on_x_are_a_clear_error():
    x = points(4, 2, torch.float64)
    other = points(4, 2, torch.float64, seed=1)
    with pytest.raises(ValueError, match="u does not depend on x"):
        pinn.laplacian(other.sum(-1), x)
    with pytest.raises(ValueError, match="u does not depend on x"):
        pinn.grad(torch.zeros(4, dtype=torch.float64), x)
    with pytest.raises(ValueError, match="v does not depend on x"):
        pinn.divergence(other * 2, x)


def test_shape_mismatches_are_named():
    x = points(4, 2, torch.float64)
    with pytest.raises(
        ValueError, match=r"u must be a scalar field.*\(4,\) or \(4, 1\); got \(4, 2\).*divergence"
    ):
        pinn.laplacian(x * x, x)
    with pytest.raises(ValueError, match=r"u must be a scalar field"):
        pinn.grad(x.sum(-1)[:3], x)
    with pytest.raises(ValueError, match=r"v must have one component per chosen coordinate, shape \(4, 2\)"):
        pinn.divergence(x.sum(-1), x)
    with pytest.raises(ValueError, match="dims"):
        pinn.grad(x.sum(-1), x, dims=[2])
    with pytest.raises(ValueError, match="multi_index must hold 2"):
        pinn.derivative(x.sum(-1), x, (1,))
    with pytest.raises(ValueError, match="multi_index"):
        pinn.derivative(x.sum(-1), x, (1, -1))


# --------------------------------------------------------------------------- losses and boundaries


def test_residual_loss_reductions():
    r = torch.tensor([1.0, -2.0, 3.0])
    assert pinn.residual_loss(r).item() == pytest.approx(14 / 3)
    assert pinn.residual_loss(r, "sum").item() == 14.0
    assert torch.equal(pinn.residual_loss(r, "none"), torch.tensor([1.0, 4.0, 9.0]))
    with pytest.raises(ValueError, match="reduction"):
        pinn.residual_loss(r, "max")


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_distance_vanishes_on_the_faces_and_is_positive_inside(dtype):
    inside = points(100, 3, dtype, low=0.0, high=1.0).detach()
    assert bool((pinn.box_distance(inside) > 0).all())
    faces = inside.clone()
    faces[:, 0] = torch.randint(0, 2, (100,), generator=torch.Generator().manual_seed(0)).to(dtype)
    assert torch.equal(pinn.box_distance(faces), torch.zeros(100, dtype=dtype))
    # A custom box on chosen coordinates: (x, t) with the box in x only.
    xt = torch.tensor([[-1.0, 5.0], [2.0, 5.0], [0.5, 7.0]], dtype=dtype)
    d = pinn.box_distance(xt, low=[-1.0], high=[2.0], dims=[0])
    torch.testing.assert_close(d, torch.tensor([0.0, 0.0, 1.5 * 1.5], dtype=dtype))
    with pytest.raises(ValueError, match="low < high"):
        pinn.box_distance(xt, low=1.0, high=0.0)
    with pytest.raises(ValueError, match="low must be a number or 2 numbers"):
        pinn.box_distance(xt, low=[0.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_hard_boundary_equals_the_boundary_data_exactly_on_the_boundary(dtype):
    def g(x):
        return x[:, 0] ** 2 - x[:, 1] ** 2

    u = pinn.HardBoundary(tanh_mlp(2, dtype), boundary_value=g, distance=pinn.box_distance)
    t = torch.rand(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(dtype)
    zero, one = torch.zeros_like(t), torch.ones_like(t)
    boundary = torch.cat([torch.stack(pair, -1) for pair in [(zero, t), (one, t), (t, zero), (t, one)]])
    out = u(boundary)
    assert out.shape == (200, 1) and out.dtype == dtype
    assert torch.equal(out, g(boundary).unsqueeze(-1))
    inside = points(20, 2, dtype, low=0.1, high=0.9).detach()
    assert not torch.allclose(u(inside), g(inside).unsqueeze(-1))


def test_hard_boundary_trains_through_the_laplacian():
    net = tanh_mlp(2, torch.float64, hidden=(8,))
    u = pinn.HardBoundary(net, boundary_value=0.0, distance=pinn.box_distance).double()
    assert u.boundary_constant.dtype == torch.float64
    x = points(16, 2, torch.float64, low=0.0, high=1.0)
    loss = pinn.residual_loss(pinn.laplacian(u(x), x) + 1.0)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_hard_boundary_refuses_fields_that_do_not_fit_the_output():
    u = pinn.HardBoundary(tanh_mlp(2, torch.float32), boundary_value=lambda x: x, distance=pinn.box_distance)
    with pytest.raises(ValueError, match=r"boundary_value\(x\) has shape \(4, 2\).*\(4, 1\)"):
        u(torch.rand(4, 2))
    with pytest.raises(TypeError, match="distance"):
        pinn.HardBoundary(tanh_mlp(2, torch.float32), boundary_value=0.0, distance=1.0)


def test_hard_boundary_runs_on_the_meta_device():
    # Issue 10, item 9: box_distance's check low < high read values through bool(), which the
    # meta device (shape inference, deferred init) does not have.
    u = pinn.HardBoundary(symnn.MLP(2, 1), boundary_value=1.0, distance=pinn.box_distance).to("meta")
    out = u(torch.empty(4, 2, device="meta"))
    assert out.device.type == "meta" and out.shape == (4, 1)
    with pytest.raises(ValueError, match="need low < high"):
        pinn.box_distance(torch.rand(4, 2), low=1.0, high=0.0)
