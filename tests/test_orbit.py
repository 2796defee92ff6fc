"""The orbit module: the identity found wherever it is listed, the elements each caller
uses, the transformed copies, and the regressions it fixed (issue 10: items 5, 7)."""

import pytest
import torch

import symnn


class Swap2(symnn.Symmetry):
    """Swapping two slots, with the identity listed LAST (not the contract's first)."""

    def elements(self):
        return [True, False]

    def inverse(self, g):
        return g

    def act_input(self, g, x):
        return x.flip(-1) if g else x

    def act_output(self, g, y):
        return y


class NoIdentity(Swap2):
    def elements(self):
        return [True, True]


def _biased_model():
    torch.manual_seed(0)
    return symnn.MLP(2, 1, hidden=(8,)).double()


def test_penalty_all_does_not_depend_on_where_the_identity_is_listed():
    # Regression: with the identity listed last, elements="all" dropped the first element
    # (the swap) as if it were the identity, checked only the identity, and returned 0.
    x = torch.randn(50, 2, dtype=torch.float64)
    model = _biased_model()
    last = symnn.symmetry_penalty(model, x, Swap2(), elements="all")
    swap_only = symnn.symmetry_penalty(model, x, Swap2(), elements=[True])
    assert last > 0
    assert torch.equal(last, swap_only)
    assert torch.equal(symnn.SymmetryPenalty(Swap2(), elements="all")(model, x), swap_only)


def test_augment_orbit_puts_the_original_first_wherever_the_identity_is_listed():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x_aug, _ = symnn.augment(x, None, Swap2(), copies="orbit")
    assert torch.equal(x_aug, torch.cat([x, x.flip(-1)]))
    x_new, _ = symnn.augment(x, None, Swap2(), copies="orbit", include_original=False)
    assert torch.equal(x_new, x.flip(-1))


def test_a_list_of_elements_without_the_identity_is_named():
    with pytest.raises(ValueError, match=r"NoIdentity\(\)\.elements\(\) lists no identity"):
        symnn.symmetry_penalty(
            _biased_model(), torch.randn(5, 2, dtype=torch.float64), NoIdentity(), elements="all"
        )


def test_int_data_under_scaling_is_not_truncated():
    # Regression: augment(int_x, None, Scaling(2), copies=3) returned rows that were x or all
    # zeros, RandomAction(Scaling(2))(int_x) was all zeros, and an int target was scaled by a
    # truncated factor.  Now a TypeError names the dtype.
    int_x = torch.tensor([[3, 4, 5], [1, 2, 2]])
    float_x = int_x.double()
    with pytest.raises(TypeError, match=r"Scaling\(degree=2.*x must have a floating dtype; got torch\.int64"):
        symnn.augment(int_x, None, symnn.Scaling(2), copies=3)
    with pytest.raises(TypeError, match=r"got torch\.int64"):
        symnn.RandomAction(symnn.Scaling(2))(int_x)
    with pytest.raises(TypeError, match=r"y must have a floating dtype; got torch\.int32"):
        symnn.augment(float_x, torch.tensor([6, 1], dtype=torch.int32), symnn.Scaling(2), copies=1)
    with pytest.raises(TypeError, match=r"Rotation.*got torch\.int64"):
        symnn.RandomAction(symnn.Rotation("1o", "1o"))(torch.tensor([[1, 0, 0]]))
    # Moving and negating integers is exact, so those still work.
    x_perm, _ = symnn.augment(int_x, None, symnn.Permutation(3))
    assert x_perm.dtype == torch.int64 and x_perm.shape == (12, 3)
    assert torch.equal(
        symnn.RandomAction(symnn.Parity(-1), torch.Generator().manual_seed(0))(int_x).abs(), int_x
    )


def test_augment_and_penalty_no_longer_share_private_names():
    import symnn._penalty as penalty

    source = open(penalty.__file__).read()
    assert "symnn._augment" not in source


def test_identity_first_reads_no_values_for_the_built_in_symmetries():
    # Built-in listings put the identity first: nothing is probed, so a meta tensor
    # (which has no values) goes through, and torch.compile sees no value read.
    from symnn._orbit import identity_first

    for sym in (symnn.Permutation(3), symnn.Permutation(3) * symnn.Parity(-1)):
        listed = sym.elements()
        assert identity_first(sym, listed, torch.empty(4, 3, device="meta")) == listed


def test_identity_first_still_probes_a_subclass_that_relists_its_elements():
    from symnn._orbit import identity_first

    class Reversed(symnn.Permutation):
        def elements(self):
            return super().elements()[::-1]

    sym = Reversed(3)
    first = identity_first(sym, sym.elements(), torch.rand(4, 3))[0]
    assert torch.equal(first, torch.arange(3))
