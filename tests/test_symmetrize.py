"""Symmetrize, symmetrize and order_free_mean: exact group averages, errors."""

import itertools

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import symnn
from symnn.functional import order_free_mean, symmetrize


class SignFlips(symnn.Symmetry):
    """A user-defined finite group (Klein four): flip the signs of x_0 and x_1.

    The output transforms as y_0 -> s_0 y_0 and y_1 -> s_0 s_1 y_1; elements are plain tuples.
    """

    is_finite = True

    def elements(self):
        return [(1, 1), (-1, 1), (1, -1), (-1, -1)]

    def inverse(self, g):
        return g

    def act_input(self, g, x):
        return x * torch.tensor([g[0], g[1], 1], dtype=x.dtype, device=x.device)

    def act_output(self, g, y):
        return y * torch.tensor([g[0], g[0] * g[1]], dtype=y.dtype, device=y.device)


# (symmetry, output size of the wrapped net)
GROUPS = [
    pytest.param(symnn.Permutation(3), 1, id="Permutation(3)"),
    pytest.param(symnn.Permutation(3) * symnn.Parity(+1), 2, id="Permutation(3)*Parity(+1)"),
    pytest.param(symnn.Permutation(3) * symnn.Parity(-1), 2, id="Permutation(3)*Parity(-1)"),
    pytest.param(
        symnn.Permutation(3, equivariant=True) * symnn.Parity(-1), 3, id="Permutation(3,eq)*Parity(-1)"
    ),
    pytest.param(SignFlips(), 2, id="user-defined"),
]


@pytest.mark.parametrize("sym, d_out", GROUPS)
def test_symmetrize_is_exact_on_1000_tied_inputs(sym, d_out, dtype, num_threads, tied_inputs):
    torch.manual_seed(0)
    model = symnn.Symmetrize(symnn.MLP(3, d_out, hidden=(32, 32)), sym).to(dtype)
    x = tied_inputs(1000, 3, dtype)
    assert symnn.testing.assert_equivariant(model, sym, x, rtol=0.0) == 0.0


@pytest.mark.parametrize("shape", [(1, 3), (13, 3), (3,), (4, 25, 3)])
def test_symmetrize_is_exact_for_any_batch_shape(shape, dtype):
    torch.manual_seed(1)
    sym = symnn.Permutation(3, equivariant=True) * symnn.Parity(-1)
    model = symnn.Symmetrize(symnn.MLP(3, 3, hidden=(32, 32)), sym).to(dtype)
    x = torch.randn(shape, dtype=dtype)
    assert symnn.testing.assert_equivariant(model, sym, x, rtol=0.0) == 0.0


def test_symmetrize_of_a_symmetric_net_is_the_net_to_rounding():
    torch.manual_seed(2)
    invariant = symnn.PermutationSort(symnn.MLP(3, 1, hidden=(16,))).double()
    x = torch.randn(50, 3, dtype=torch.float64)
    averaged = symnn.Symmetrize(invariant, symnn.Permutation(3))(x)
    torch.testing.assert_close(averaged, invariant(x), rtol=1e-15, atol=1e-15)


def test_symmetrize_is_the_group_average():
    fn = lambda x: x[..., :1] * 10 + x[..., 1:2]  # noqa: E731 - not symmetric
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    # Each entry is first 2 times out of 6, so the mean is 11 * (1 + 2 + 3) / 3 = 22.
    assert symmetrize(fn, x, symnn.Permutation(3)).tolist() == [[22.0]]
    odd = symmetrize(torch.exp, torch.tensor([[0.5]], dtype=torch.float64), symnn.Parity(-1))
    torch.testing.assert_close(
        odd, torch.sinh(torch.tensor([[0.5]], dtype=torch.float64)), rtol=1e-15, atol=0
    )


def test_symmetrize_takes_elements_and_inverses_given():
    sym = symnn.Permutation(3, equivariant=True)
    elements = sym.elements()
    inverses = [sym.inverse(g) for g in elements]
    net = symnn.MLP(3, 3, hidden=(8,)).double()
    x = torch.randn(10, 3, dtype=torch.float64)
    assert torch.equal(symmetrize(net, x, sym, elements, inverses), symmetrize(net, x, sym))


@pytest.mark.parametrize("m", range(1, 14))
def test_order_free_mean_ignores_order_and_commutes_with_negation(m, dtype):
    gen = torch.Generator().manual_seed(m)
    magnitudes = 10.0 ** (torch.arange(m, dtype=torch.float64) % 7).reshape(m, 1, 1)  # 1 to 1e6
    terms = list(
        (torch.randn(m, 200, 2, generator=gen, dtype=torch.float64) * magnitudes).to(dtype).unbind(0)
    )
    terms[0][:5] = 0.0  # ties with signed zeros
    if m > 1:
        terms[1][:5] = -0.0
    reference = order_free_mean(terms)
    orders = (
        itertools.permutations(range(m)) if m <= 5 else (torch.randperm(m, generator=gen) for _ in range(30))
    )
    for order in orders:
        assert torch.equal(order_free_mean([terms[int(i)] for i in order]), reference)
    assert torch.equal(order_free_mean([-t for t in terms]), -reference)
    exact = torch.stack(terms).double().mean(0)
    bound = m * torch.finfo(dtype).eps * torch.stack(terms).double().abs().amax(0)
    assert ((reference.double() - exact).abs() <= bound).all()


def test_order_free_mean_passes_gradcheck_and_gradgradcheck():
    terms = torch.randn(5, 4, 2, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: order_free_mean(list(t.unbind(0))).sin(), (terms,))
    assert gradgradcheck(lambda t: order_free_mean(list(t.unbind(0))).sin(), (terms,))
    # At ties the mean's gradient is still 1/m for every term.
    tied = torch.ones(4, 3, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(order_free_mean(list(tied.unbind(0))).sum(), tied)
    assert torch.equal(grad, torch.full((4, 3), 0.25, dtype=torch.float64))


def test_symmetrize_passes_gradcheck_and_gradgradcheck():
    torch.manual_seed(3)
    net = symnn.MLP(3, 3, hidden=(6,), activation="tanh").double()
    sym = symnn.Permutation(3, equivariant=True) * symnn.Parity(-1)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: symmetrize(net, t, sym), (x,))
    assert gradgradcheck(lambda t: symmetrize(net, t, sym), (x,))


def test_symmetrize_refuses_an_infinite_group():
    with pytest.raises(
        symnn.InfiniteGroupError,
        match=r"needs every element of the group, but Scaling\(degree=2.*is infinite",
    ):
        symnn.Symmetrize(symnn.MLP(3, 1), symnn.Scaling(degree=2))
    with pytest.raises(ValueError, match="infinite"):
        symmetrize(symnn.MLP(3, 1), torch.ones(2, 3), symnn.Permutation(3) * symnn.Rotation("1o", "0e"))


def test_symmetrize_refuses_bad_arguments():
    with pytest.raises(TypeError, match=r"needs a symnn\.Symmetry"):
        symnn.Symmetrize(symnn.MLP(3, 1), "permutation")
    with pytest.raises(TypeError, match=r"nn\.Module"):
        symnn.Symmetrize(lambda x: x, symnn.Permutation(3))
    model = symnn.Symmetrize(symnn.MLP(3, 1), symnn.Permutation(3))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(
        ValueError, match=r"Permutation\(3\) permutes a last dimension of size 3; got x of shape \(5, 4\)"
    ):
        model(torch.ones(5, 4))
    with pytest.raises(ValueError, match="at least one term"):
        order_free_mean([])


def test_repr_shows_the_settings():
    text = repr(symnn.Symmetrize(symnn.MLP(3, 2), symnn.Permutation(3) * symnn.Parity(-1)))
    assert "sym=Permutation(3) * Parity(sign=-1), order=12" in text


def test_layers_state_the_symmetry_they_guarantee_including_a_stack():
    net = symnn.MLP(3, 1)
    assert repr(symnn.Odd(net).symmetry) == "Parity(sign=-1)"
    assert repr(symnn.Even(net).symmetry) == "Parity(sign=+1)"
    assert repr(symnn.ScaleNormalize(net, degree=2).symmetry) == repr(symnn.Scaling(2))
    assert repr(symnn.Symmetrize(net, symnn.Permutation(3)).symmetry) == "Permutation(3)"
    stack = symnn.Odd(symnn.ScaleNormalize(symnn.PermutationSort(net), degree=3))
    assert repr(stack.symmetry) == repr(symnn.Permutation(3) * symnn.Scaling(3) * symnn.Parity(-1))
    x = torch.randn(200, 3, dtype=torch.float64)
    assert symnn.testing.assert_equivariant(stack.double(), x, n_elements=6) <= 1e-10  # odd part cancels
    # A layer does not claim what its construction breaks: a sort outside an odd part is not odd.
    assert repr(symnn.PermutationSort(symnn.Odd(net)).symmetry) == "Permutation(3)"
    # A custom scale need not be permutation invariant, so the inner sort is not claimed.
    custom = symnn.ScaleNormalize(symnn.PermutationSort(net), degree=1, scale=lambda t: t[..., 0])
    assert repr(custom.symmetry) == repr(symnn.Scaling(1))
    assert repr(symnn.Symmetrize(symnn.ScaleNormalize(net, degree=1), symnn.Parity(1)).symmetry) == repr(
        symnn.Scaling(1) * symnn.Parity(1)
    )


# --------------------------------------------------------------------------- memory (issue 10, item 10)


class _Counting(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


def _step(model, x):
    model.zero_grad(set_to_none=True)
    out = model(x)
    out.square().mean().backward()
    return [out.detach(), *(p.grad.clone() for p in model.parameters())]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_issue10_item10_checkpointed_symmetrize_has_the_plain_output_and_gradient(dtype):
    torch.manual_seed(0)
    net = _Counting(symnn.MLP(3, 2, hidden=(16, 16)).to(dtype))
    x = torch.randn(30, 3, generator=torch.Generator().manual_seed(1), dtype=dtype)
    sym = symnn.Permutation(3) * symnn.Parity(-1)
    plain = _step(symnn.Symmetrize(net, sym, checkpoint=False), x)
    assert net.calls == 12
    net.calls = 0
    checkpointed = _step(symnn.Symmetrize(net, sym, checkpoint=True), x)
    assert net.calls == 24  # every call run again during backward
    assert torch.equal(checkpointed[0], plain[0])
    assert plain[1].abs().max() > 0  # (the last bias cancels in the odd average)
    for got, expected in zip(checkpointed[1:], plain[1:]):
        torch.testing.assert_close(got, expected, rtol=1e-12 if dtype == torch.float64 else 1e-5, atol=0)


def test_issue10_item10_symmetrize_checkpoints_automatically_past_the_threshold(monkeypatch):
    import symnn._orbit as orbit

    torch.manual_seed(0)
    net = _Counting(symnn.MLP(3, 1, hidden=(16,)).double())
    model = symnn.Symmetrize(net, symnn.Permutation(3))
    x = torch.randn(10, 3, dtype=torch.float64)
    plain = _step(model, x)
    assert net.calls == 6
    monkeypatch.setattr(orbit, "CHECKPOINT_BYTES", 0)
    net.calls = 0
    automatic = _step(model, x)
    assert net.calls == 6 + 5  # the first (measured) call plain, the other five run again
    for got, expected in zip(automatic, plain):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    net.calls = 0
    with torch.no_grad():
        model(x)
    assert net.calls == 6  # nothing to save without autograd


def test_issue10_item10_checkpointed_symmetrize_passes_gradcheck():
    torch.manual_seed(0)
    net = symnn.MLP(3, 1, hidden=(4,), activation="tanh").double()
    x = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    fn = lambda t: symmetrize(net, t, symnn.Permutation(3), checkpoint=True)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_issue10_item9_symmetrize_reports_a_shape_changing_action_before_the_net_sees_it():
    class Truncate(SignFlips):
        def act_input(self, g, x):
            return x[..., :2] if g == (-1, -1) else x  # a broken action: drops a column

    torch.manual_seed(0)
    net = _Counting(symnn.MLP(3, 2))
    model = symnn.Symmetrize(net, Truncate())
    with pytest.raises(ValueError, match=r"Truncate.*act_input turned x of shape \(4, 3\) into \(4, 2\)"):
        model(torch.rand(4, 3))
    assert net.calls == 0  # symnn named it; the wrapped net never saw a batch


def test_issue10_item9_order_free_mean_names_the_mismatched_shapes():
    with pytest.raises(ValueError, match=r"terms\[0\] has shape \(2, 3\), but terms\[2\] has shape \(3, 2\)"):
        order_free_mean([torch.zeros(2, 3), torch.ones(2, 3), torch.zeros(3, 2)])
    with pytest.raises(TypeError, match=r"terms\[1\] must be a torch.Tensor; got list"):
        order_free_mean([torch.zeros(2), [1.0, 2.0]])


def test_issue10_item9_symmetrize_names_a_function_that_is_not_callable():
    with pytest.raises(TypeError, match="fn must be a callable"):
        symmetrize("net", torch.rand(2, 3), symnn.Permutation(3))
    with pytest.raises(TypeError, match="checkpoint must be None"):
        symnn.Symmetrize(symnn.MLP(3, 1), symnn.Permutation(3), checkpoint="auto")
