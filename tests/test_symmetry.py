"""The Symmetry objects: actions, elements, sampling, products, errors."""

import math

import pytest
import torch

import symnn


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


FINITE = [symnn.Parity(-1), symnn.Parity(1), symnn.Permutation(3), symnn.Permutation(4, equivariant=True)]
INFINITE = [symnn.Scaling(degree=2), symnn.Rotation("1o", "0e"), symnn.Rotation("2x1o + 2e", "1o")]


@pytest.mark.parametrize("sym", FINITE, ids=repr)
def test_finite_groups_list_distinct_elements_with_identity_first(sym):
    elements = sym.elements()
    assert len(elements) == sym.order
    x = torch.randn(5, getattr(sym, "n", 4), dtype=torch.float64)
    assert torch.equal(sym.act_input(elements[0], x), x)
    images = {tuple(sym.act_input(g, x).flatten().tolist()) for g in elements}
    assert len(images) == len(elements)


@pytest.mark.parametrize("sym", FINITE + INFINITE, ids=repr)
def test_inverse_undoes_the_input_action(sym, generator):
    dim = sym.irreps_in.dim if isinstance(sym, symnn.Rotation) else getattr(sym, "n", 4)
    x = torch.randn(7, dim, dtype=torch.float64)
    for g in sym.sample(5, generator):
        back = sym.act_input(sym.inverse(g), sym.act_input(g, x))
        torch.testing.assert_close(back, x, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("sym", INFINITE, ids=repr)
def test_infinite_groups_refuse_to_list_elements(sym):
    assert not sym.is_finite
    assert sym.order == math.inf
    with pytest.raises(symnn.InfiniteGroupError, match="infinite"):
        sym.elements()


@pytest.mark.parametrize("sym", FINITE + INFINITE, ids=repr)
def test_sampling_is_reproducible_with_a_seeded_generator(sym):
    a = sym.sample(6, torch.Generator().manual_seed(3))
    b = sym.sample(6, torch.Generator().manual_seed(3))
    assert len(a) == 6
    for ga, gb in zip(a, b):
        assert torch.equal(torch.as_tensor(ga), torch.as_tensor(gb))


@pytest.mark.parametrize("sym", FINITE + INFINITE, ids=repr)
def test_row_wise_elements_act_like_one_element_per_row(sym, generator):
    dim = sym.irreps_in.dim if isinstance(sym, symnn.Rotation) else getattr(sym, "n", 4)
    x = torch.randn(6, dim, dtype=torch.float64)
    rows = sym.sample_rows(6, generator)
    batched = sym.act_input(rows, x)
    for i in range(6):
        one = rows[i] if isinstance(rows, torch.Tensor) else tuple(r[i] for r in rows)
        torch.testing.assert_close(batched[i], sym.act_input(one, x[i : i + 1])[0], rtol=1e-14, atol=1e-14)


def test_permutation_acts_on_the_last_dimension():
    sym = symnn.Permutation(3)
    x = torch.tensor([[1.0, 2.0, 3.0]])
    assert sym.act_input(torch.tensor([2, 0, 1]), x).tolist() == [[3.0, 1.0, 2.0]]
    y = torch.tensor([[5.0]])
    assert torch.equal(sym.act_output(torch.tensor([2, 0, 1]), y), y)
    eq = symnn.Permutation(3, equivariant=True)
    assert eq.act_output(torch.tensor([2, 0, 1]), x).tolist() == [[3.0, 1.0, 2.0]]


def test_permutation_size_must_match_the_input():
    with pytest.raises(ValueError, match=r"size 3.*shape \(4, 2\)"):
        symnn.Permutation(3).act_input(torch.tensor([0, 1, 2]), torch.zeros(4, 2))


def test_permutation_element_of_the_wrong_size_is_refused():
    # Regression: indexing with a 2-entry element gave a (4, 2) tensor, silently.
    sym = symnn.Permutation(3)
    with pytest.raises(ValueError, match=r"index tensor of shape \(\.\.\., 3\); got shape \(2,\)"):
        sym.act_input(torch.tensor([0, 1]), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        sym.act_input(torch.zeros(4, 4, dtype=torch.long), torch.zeros(4, 3))


def test_scaling_scales_output_by_s_to_the_degree():
    sym = symnn.Scaling(degree=2)
    s = torch.tensor(3.0, dtype=torch.float64)
    assert sym.act_input(s, torch.tensor([[1.0, 2.0]])).tolist() == [[3.0, 6.0]]
    assert sym.act_output(s, torch.tensor([[1.0]])).tolist() == [[9.0]]


def test_scaling_samples_inside_its_range(generator):
    sym = symnn.Scaling(degree=1, scale_range=(0.6, 1.7))
    s = sym.sample_rows(10_000, generator)
    assert 0.6 <= float(s.min()) and float(s.max()) <= 1.7


def test_parity_odd_and_even_outputs():
    y = torch.tensor([[2.0]])
    minus = torch.tensor(-1.0, dtype=torch.float64)
    assert symnn.Parity(-1).act_output(minus, y).tolist() == [[-2.0]]
    assert symnn.Parity(1).act_output(minus, y).tolist() == [[2.0]]


def test_rotation_of_a_vector_is_the_matrix_itself(generator):
    sym = symnn.Rotation("1o", "1o")
    R = sym.sample(1, generator)[0]
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(sym.act_input(R, x), x @ R.T, rtol=0, atol=1e-15)


def test_rotation_matches_e3nn_wigner_matrices_to_their_accuracy(generator):
    from e3nn import o3

    irreps = o3.Irreps("1o + 2e + 3o")
    sym = symnn.Rotation(irreps, "0e")
    R = sym.sample(1, generator)[0]
    x = torch.randn(3, irreps.dim, dtype=torch.float64)
    expected = x @ irreps.D_from_matrix(R).T
    torch.testing.assert_close(sym.act_input(R, x), expected, rtol=0, atol=1e-5)


def test_rotation_action_is_a_representation_to_rounding(generator):
    sym = symnn.Rotation("2e + 3o + 4e", "0e")
    R1, R2 = sym.sample(2, generator)
    x = torch.randn(5, sym.irreps_in.dim, dtype=torch.float64)
    once = sym.act_input(R1 @ R2, x)
    twice = sym.act_input(R1, sym.act_input(R2, x))
    torch.testing.assert_close(once, twice, rtol=0, atol=1e-13)
    torch.testing.assert_close(once.norm(dim=-1), x.norm(dim=-1), rtol=1e-14, atol=0)


def test_rotation_rejects_inputs_of_the_wrong_dimension():
    with pytest.raises(ValueError, match="dimension 3"):
        symnn.Rotation("1o", "0e").act_input(torch.eye(3, dtype=torch.float64), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="irreps"):
        symnn.Rotation("not irreps", "0e")


def test_product_is_flat_finite_when_its_factors_are():
    sym = symnn.Permutation(3) * symnn.Parity(-1) * symnn.Parity(1)
    assert len(sym.factors) == 3
    assert sym.is_finite and sym.order == 24
    assert len(sym.elements()) == 24
    tri = symnn.Permutation(3) * symnn.Scaling(degree=2)
    assert not tri.is_finite
    assert repr(tri) == "Permutation(3) * Scaling(degree=2, scale_range=(0.5, 2.0))"


def test_product_acts_with_every_factor():
    sym = symnn.Permutation(3) * symnn.Scaling(degree=2)
    g = (torch.tensor([1, 2, 0]), torch.tensor(2.0, dtype=torch.float64))
    assert sym.act_input(g, torch.tensor([[1.0, 2.0, 3.0]])).tolist() == [[4.0, 6.0, 2.0]]
    assert sym.act_output(g, torch.tensor([[1.0]])).tolist() == [[4.0]]
    with pytest.raises(ValueError, match="tuple of 2"):
        sym.act_input(torch.tensor([1, 2, 0]), torch.zeros(1, 3))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: symnn.Parity(0), "sign"),
        (lambda: symnn.Permutation(0), "positive int"),
        (lambda: symnn.Scaling(degree=1, scale_range=(0.0, 1.0)), "scale_range"),
        (lambda: symnn.Scaling(degree=float("nan")), "degree"),
        (lambda: symnn.Permutation(3) * 2, "unsupported operand"),
    ],
)
def test_invalid_options_are_refused(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_actions_refuse_non_tensors():
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        symnn.Parity(-1).act_input(torch.tensor(-1.0), [1.0, 2.0])


def test_user_defined_symmetry_needs_only_its_actions():
    class Swap(symnn.Symmetry):
        is_finite = True

        def elements(self):
            return [False, True]

        def inverse(self, g):
            return g

        def act_input(self, g, x):
            return x.flip(-1) if g else x

        def act_output(self, g, y):
            return y

    net = symnn.Symmetrize(symnn.MLP(2, 1), Swap()).double()
    x = torch.randn(20, 2, dtype=torch.float64)
    assert symnn.testing.equivariance_error(net, Swap(), x) == 0.0
    # A finite group without a sampler draws uniformly from its elements.
    drawn = Swap().sample(200, torch.Generator().manual_seed(0))
    assert set(drawn) == {False, True}
    assert 60 < sum(drawn) < 140


def test_an_infinite_user_symmetry_without_a_sampler_says_so():
    class Shift(symnn.Symmetry):
        def act_input(self, g, x):
            return x + g

        def act_output(self, g, y):
            return y

    assert not Shift().is_finite
    with pytest.raises(NotImplementedError, match="neither sample"):
        Shift().sample(3)


def test_the_default_sample_is_rows_of_sample_rows():
    for sym in (
        symnn.Parity(-1),
        symnn.Scaling(2),
        symnn.Permutation(4),
        symnn.Permutation(3) * symnn.Scaling(1),
    ):
        rows = sym.sample_rows((5,), torch.Generator().manual_seed(3))
        drawn = sym.sample(5, torch.Generator().manual_seed(3))
        assert len(drawn) == 5
        first = tuple(r[0] for r in rows) if isinstance(rows, tuple) else rows[0]
        if isinstance(first, tuple):
            assert all(torch.equal(a, b) for a, b in zip(first, drawn[0]))
        else:
            assert torch.equal(first, drawn[0])


def test_listing_elements_makes_a_user_symmetry_finite():
    class Flip(symnn.Symmetry):  # no is_finite = True
        def elements(self):
            return [1.0, -1.0]

        def inverse(self, g):
            return g

        def act_input(self, g, x):
            return g * x

        def act_output(self, g, y):
            return g * y

    assert Flip().is_finite and Flip().order == 2
    assert (Flip() * symnn.Permutation(2)).is_finite
    model = symnn.Symmetrize(symnn.MLP(2, 1), Flip()).double()
    x = torch.randn(30, 2, dtype=torch.float64)
    assert symnn.testing.equivariance_error(model, Flip(), x) == 0.0
    x_aug, _ = symnn.augment(x, None, Flip(), copies="orbit")
    assert torch.equal(x_aug, torch.cat([x, -x]))
    assert symnn.symmetry_penalty(symnn.MLP(2, 1).double(), x, Flip(), elements="all") > 0


# Issue 10, item 9: messages that name the argument, and elements no longer accepted silently.


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: symnn.Scaling(degree=None), TypeError, "degree must be a number; got NoneType"),
        (
            lambda: symnn.Scaling(scale_range=1),
            TypeError,
            r"scale_range must be a pair of numbers \(low, high\)",
        ),
        (
            lambda: symnn.Scaling(scale_range=(1.0, "2")),
            TypeError,
            "each end of scale_range must be a number",
        ),
        (
            lambda: symnn.Scaling(scale_range=(0.0, 2.0)),
            ValueError,
            "each end of scale_range must be a finite positive",
        ),
    ],
)
def test_scaling_arguments_are_named_in_their_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_parity_element_of_2_is_refused_not_applied():
    x = torch.ones(2, 3)
    for act in (symnn.Parity(-1).act_input, symnn.Parity(-1).act_output, symnn.Parity(+1).act_output):
        with pytest.raises(ValueError, match=r"is a sign, \+1 or -1 .*got 2\.0"):
            act(torch.tensor(2.0), x)
    with pytest.raises(ValueError, match="is a sign"):
        symnn.Parity(-1).act_input(torch.tensor([1.0, 0.0]), x)  # one per row, one bad
    assert torch.equal(symnn.Parity(-1).act_input(-1, x), -x)


def test_a_scaling_element_of_minus_1_is_refused_not_applied():
    x = torch.ones(2, 3)
    sym = symnn.Scaling(degree=2)
    for bad in (-1.0, 0.0, math.inf, math.nan):
        for act in (sym.act_input, sym.act_output):
            with pytest.raises(ValueError, match="is a finite scale > 0"):
                act(torch.tensor(bad), x)
    assert torch.equal(sym.act_output(torch.tensor([2.0, 3.0]), x), torch.tensor([[4.0] * 3, [9.0] * 3]))


@pytest.mark.parametrize(
    "g, error, match",
    [
        (torch.tensor([0, 1, 5]), ValueError, r"each index 0\.\.2 once .*got \[0, 1, 5\]"),
        (torch.tensor([0, -1, 1]), ValueError, "each index 0..2 once"),
        (torch.tensor([0, 0, 2]), ValueError, "each index 0..2 once"),
        (torch.tensor([[0, 1, 2], [2, 2, 0]]), ValueError, "each index 0..2 once"),
        (torch.tensor([0.0, 1.0, 2.0]), TypeError, "integer index tensor; got dtype torch.float32"),
        (torch.tensor([True, False, True]), TypeError, "integer index tensor"),
    ],
)
def test_permutation_act_input_refuses_out_of_range_or_non_integer_indices(g, error, match):
    sym = symnn.Permutation(3, equivariant=True)
    x = torch.ones(2, 3)
    with pytest.raises(error, match=match):
        sym.act_input(g, x)
    with pytest.raises(error, match=match):
        sym.act_output(g, x)


def test_element_checks_skip_the_meta_device():
    x = torch.empty(4, 3, device="meta")
    assert symnn.Parity(-1).act_input(torch.tensor(-1.0, device="meta"), x).device.type == "meta"
    assert symnn.Scaling(2).act_output(torch.tensor(2.0, device="meta"), x).device.type == "meta"
    assert symnn.Permutation(3).act_input(torch.tensor([2, 0, 1], device="meta"), x).shape == (4, 3)
