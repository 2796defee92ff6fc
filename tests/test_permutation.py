"""PermutationSort and sort_canonical: exact invariance with ties, derivatives at ties, errors."""

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import symnn
from symnn.functional import sort_canonical, sort_equivariant


@pytest.mark.parametrize("descending", [True, False])
def test_permutation_sort_is_exact_on_1000_tied_inputs(descending, dtype, num_threads, tied_inputs):
    torch.manual_seed(0)
    model = symnn.PermutationSort(symnn.MLP(3, 1), descending=descending).to(dtype)
    x = tied_inputs(1000, 3, dtype)
    assert symnn.testing.assert_equivariant(model, symnn.Permutation(3), x, rtol=0.0) == 0.0


def test_permutation_sort_is_exact_for_all_120_permutations_of_5(dtype, tied_inputs):
    torch.manual_seed(1)
    model = symnn.PermutationSort(symnn.MLP(5, 2, hidden=(32, 32))).to(dtype)
    x = tied_inputs(1000, 5, dtype, seed=1).reshape(10, 100, 5)
    assert symnn.testing.assert_equivariant(model, symnn.Permutation(5), x, rtol=0.0) == 0.0


class _SignOfZeroAware(torch.nn.Module):
    """A net that tells -0.0 from +0.0, as 1/x, atan2 and copysign do."""

    def forward(self, u):
        return torch.atan2(u, -torch.ones_like(u)).sum(-1, keepdim=True)


def test_sort_canonical_treats_signed_zeros_as_one_value(dtype):
    # Regression: -0.0 and +0.0 tie in a sort, so their order followed the input's and a net
    # seeing the sign of zero gave f(Px) != f(x) (atan2 gave +pi against -pi).
    x = torch.tensor([[0.0, -0.0, -1.0], [-0.0, 0.0, 2.0]], dtype=dtype)
    model = symnn.PermutationSort(_SignOfZeroAware())
    assert symnn.testing.assert_equivariant(model, symnn.Permutation(3), x, rtol=0.0) == 0.0
    values = sort_canonical(x)
    assert not (torch.signbit(values) & (values == 0)).any()


def test_sort_canonical_orders_values_and_keeps_shapes():
    x = torch.tensor([[0.25, 0.75, 0.5], [2.0, -1.0, 2.0]])
    assert sort_canonical(x).tolist() == [[0.75, 0.5, 0.25], [2.0, 2.0, -1.0]]
    assert sort_canonical(x, descending=False).tolist() == [[0.25, 0.5, 0.75], [-1.0, 2.0, 2.0]]
    assert sort_canonical(torch.randn(2, 3, 4, 5), dim=1).shape == (2, 3, 4, 5)
    assert torch.equal(sort_canonical(torch.tensor([3, 1, 2])), torch.tensor([3, 2, 1]))  # integers too


def test_permutation_sort_along_another_dim_is_invariant_there():
    torch.manual_seed(2)
    model = symnn.PermutationSort(torch.nn.Flatten(-2), dim=-2)
    x = torch.randn(6, 4, 1)
    for p in symnn.Permutation(4).sample(10, torch.Generator().manual_seed(0)):
        assert torch.equal(model(x[:, p, :]), model(x))


def test_sort_canonical_passes_gradcheck_and_gradgradcheck_away_from_ties():
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(6, 4, dtype=torch.float64)
    # A non-linear function of the sorted values, so the second derivative is not trivially 0.
    assert gradcheck(lambda t: (sort_canonical(t) * weights).sin(), (x,))
    assert gradgradcheck(lambda t: (sort_canonical(t) * weights).sin(), (x,))


def test_gradient_and_hessian_at_a_tie_are_finite_and_split_between_the_tied_entries():
    torch.manual_seed(3)
    net = symnn.MLP(3, 1, hidden=(8, 8), activation="tanh").double()
    model = symnn.PermutationSort(net)
    x = torch.tensor([0.7, 0.7, 0.2], dtype=torch.float64)  # sorted: the tie fills slots 0 and 1
    grad = torch.func.grad(lambda t: model(t).sum())(x)
    hess = torch.func.hessian(lambda t: model(t).sum())(x)
    assert torch.isfinite(grad).all() and torch.isfinite(hess).all()
    slot_grad = torch.func.grad(lambda u: net(u).sum())(sort_canonical(x))
    # Each sorted slot's derivative goes to one tied entry: together they get both slots'.
    torch.testing.assert_close(grad[:2].sum(), slot_grad[:2].sum(), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(grad[2], slot_grad[2], rtol=1e-14, atol=1e-14)
    for t in (torch.zeros(3, dtype=torch.float64), torch.full((3,), -1.5, dtype=torch.float64)):
        assert torch.isfinite(torch.func.hessian(lambda t: model(t).sum())(t)).all()


def test_permutation_sort_refuses_bad_arguments():
    with pytest.raises(TypeError, match=r"nn\.Module"):
        symnn.PermutationSort(torch.sort)
    with pytest.raises(TypeError, match="dim must be an int"):
        symnn.PermutationSort(symnn.MLP(3, 1), dim=1.0)
    model = symnn.PermutationSort(symnn.MLP(3, 1))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        model([3.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\); got \(5, 4\)"):
        model(torch.rand(5, 4))
    with pytest.raises(ValueError, match=r"dim 2 is out of range"):
        symnn.PermutationSort(symnn.MLP(3, 1), dim=2)(torch.rand(5, 3))
    with pytest.raises(ValueError, match="0-dim"):
        sort_canonical(torch.tensor(1.0))


def test_permutation_of_the_wrong_size_is_refused_by_the_checker():
    model = symnn.PermutationSort(symnn.MLP(4, 1))
    with pytest.raises(ValueError, match=r"Permutation\(3\) permutes a last dimension of size 3"):
        symnn.testing.equivariance_error(model, symnn.Permutation(3), torch.rand(5, 4))


def test_repr_shows_the_settings():
    text = repr(symnn.PermutationSort(symnn.MLP(3, 1), descending=False))
    assert "dim=-1, descending=False" in text and "(net): MLP(" in text


# --------------------------------------------------------------------------- equivariant


def test_permutation_sort_equivariant_is_exact_on_1000_tied_inputs(dtype, num_threads, tied_inputs):
    torch.manual_seed(2)
    model = symnn.PermutationSortEquivariant(symnn.MLP(4, 4, hidden=(32, 32))).to(dtype)
    x = tied_inputs(1000, 4, dtype, seed=2)
    sym = symnn.Permutation(4, equivariant=True)
    assert symnn.testing.assert_equivariant(model, sym, x, rtol=0.0) == 0.0
    assert symnn.testing.assert_equivariant(model, x, rtol=0.0) == 0.0  # its own .symmetry


def test_tied_inputs_get_equal_outputs_so_permuting_them_among_themselves_is_exact(dtype):
    # At a tie, swapping the tied slots leaves x unchanged, so an equivariant f must give
    # them equal outputs; plain sort/net/unsort would not (g sees them at different slots).
    torch.manual_seed(3)
    net = symnn.MLP(4, 4, hidden=(16,)).to(dtype)
    x = torch.tensor([[0.5, 2.0, 0.5, -0.0], [1.0, 1.0, 1.0, 3.0], [0.0, -0.0, 0.0, -0.0]], dtype=dtype)
    y = symnn.PermutationSortEquivariant(net)(x)
    assert y[0, 0] == y[0, 2]
    assert y[1, 0] == y[1, 1] == y[1, 2]
    assert (y[2] == y[2, 0]).all()
    # Without the tie mean the same net is not equivariant at these inputs: the mean is needed.
    values, order = torch.sort(x, dim=-1, descending=True, stable=True)
    plain = net(values).gather(-1, order.argsort(-1))
    assert plain[0, 0] != plain[0, 2]


def test_sort_equivariant_gradients_off_ties():
    torch.manual_seed(4)
    net = symnn.MLP(3, 3, hidden=(8,)).double()
    x = torch.tensor([[0.3, 1.2, -0.7], [2.0, 0.1, 0.5]], dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: sort_equivariant(net, t), (x,))
    assert gradgradcheck(lambda t: sort_equivariant(net, t), (x,))


def test_sort_equivariant_along_another_dim_and_nan():
    torch.manual_seed(5)
    net = symnn.MLP(4, 4, hidden=(8,)).double()
    x = torch.randn(3, 4, 5, dtype=torch.float64)

    def fn(t):  # (..., 4, 5) -> (..., 4, 5): the net across dim -2
        return net(t.transpose(-1, -2)).transpose(-1, -2)

    p = [2, 0, 3, 1]
    y = sort_equivariant(fn, x, dim=-2)
    assert torch.equal(sort_equivariant(fn, x[:, p, :], dim=-2), y[:, p, :])
    layer = symnn.PermutationSortEquivariant(symnn.MLP(3, 3), n=3)
    assert torch.isnan(layer(torch.tensor([[float("nan"), 1.0, 2.0]]))).any()


def test_sort_equivariant_names_a_net_without_one_output_per_slot():
    with pytest.raises(ValueError, match=r"one output per input slot, shape \(2, 3\); got \(2, 1\)"):
        symnn.PermutationSortEquivariant(symnn.MLP(3, 1))(torch.rand(2, 3))
    with pytest.raises(TypeError, match="dim must be an int; got float"):
        symnn.PermutationSortEquivariant(symnn.MLP(3, 3), dim=1.0)


def test_permutation_layers_state_their_symmetry():
    assert repr(symnn.PermutationSort(symnn.MLP(3, 1)).symmetry) == "Permutation(3)"
    assert repr(symnn.PermutationSort(torch.nn.Identity(), n=5).symmetry) == "Permutation(5)"
    assert symnn.PermutationSort(torch.nn.Identity()).symmetry is None  # size unknown
    assert symnn.PermutationSort(symnn.MLP(3, 1), dim=-2).symmetry is None  # not the last dim
    inner = symnn.ScaleNormalize(symnn.MLP(3, 3), degree=1)
    assert repr(symnn.PermutationSortEquivariant(inner, n=3).symmetry) == repr(
        symnn.Scaling(1) * symnn.Permutation(3, equivariant=True)
    )


def test_sort_canonical_dim_1_0_is_refused():
    # Issue 10, item 9: a float dim was passed on to torch.sort, which accepted it silently.
    with pytest.raises(TypeError, match=r"dim must be an int; got float 1\.0"):
        sort_canonical(torch.ones(2, 3), dim=1.0)
    with pytest.raises(TypeError, match="dim must be an int; got bool"):
        symnn.PermutationSort(symnn.MLP(3, 1), dim=True)
