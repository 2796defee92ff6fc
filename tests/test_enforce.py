"""symnn.enforce: the layer chosen for each symmetry, exactness on ties and zeros, the
triangle's level 3 bit for bit, gradients, and the errors for what cannot be enforced."""

import pytest
import torch
from torch.autograd import gradcheck

import symnn


class TimeReversal(symnn.Symmetry):
    """Reverse the input's order, negate the output: finite by listing elements() alone."""

    def elements(self):
        return [False, True]

    def inverse(self, g):
        return g

    def act_input(self, g, x):
        return x.flip(-1) if g else x

    def act_output(self, g, y):
        return -y if g else y


class CyclicShift(symnn.Symmetry):
    """Cyclic shifts of 4 slots, invariant output, identity listed last."""

    def elements(self):
        return [1, 2, 3, 0]

    def inverse(self, g):
        return (-g) % 4

    def act_input(self, g, x):
        return x.roll(-g, dims=-1)

    def act_output(self, g, y):
        return y


class Shift(symnn.Symmetry):
    """An infinite group of the user's own (translations), with no layer in enforce."""

    def sample(self, n, generator=None):
        return list(torch.randn(n, generator=generator, dtype=torch.float64))

    def act_input(self, g, x):
        return x + g

    def act_output(self, g, y):
        return y


def _mlp(d_in, d_out, seed=0):
    torch.manual_seed(seed)
    return symnn.MLP(d_in, d_out, hidden=(16, 16))


# (symmetry, input size, output size, expected layer names from the outside in)
EXACT = {
    "odd": (symnn.Parity(-1), 3, 2, ["Odd"]),
    "even": (symnn.Parity(+1), 3, 2, ["Even"]),
    "permutation": (symnn.Permutation(3), 3, 1, ["PermutationSort"]),
    "permutation_equivariant": (symnn.Permutation(4, equivariant=True), 4, 4, ["PermutationSortEquivariant"]),
    "permutation_and_parity": (symnn.Permutation(3) * symnn.Parity(-1), 3, 1, ["Odd", "PermutationSort"]),
    "time_reversal": (TimeReversal(), 4, 2, ["Symmetrize"]),
    "cyclic": (CyclicShift(), 4, 1, ["Symmetrize"]),
    "cyclic_and_parity": (CyclicShift() * symnn.Parity(+1), 4, 1, ["Symmetrize"]),
}

SCALED = {
    "scaling": (symnn.Scaling(2), 3, 1, ["ScaleNormalize"]),
    "triangle": (symnn.Permutation(3) * symnn.Scaling(2), 3, 1, ["ScaleNormalize", "PermutationSort"]),
    "odd_homogeneous": (symnn.Parity(-1) * symnn.Scaling(3), 2, 1, ["ScaleNormalize", "Odd"]),
    "equivariant_scaled": (
        symnn.Permutation(4, equivariant=True) * symnn.Scaling(1),
        4,
        4,
        ["ScaleNormalize", "PermutationSortEquivariant"],
    ),
    "time_reversal_scaled": (TimeReversal() * symnn.Scaling(-1), 4, 2, ["Symmetrize", "ScaleNormalize"]),
    "cyclic_scaled": (CyclicShift() * symnn.Scaling(0.5), 4, 1, ["Symmetrize", "ScaleNormalize"]),
}


def _layers(model):
    names = []
    while type(model).__name__ != "MLP":
        names.append(type(model).__name__)
        model = model.net
    return names


@pytest.mark.parametrize("case", sorted(EXACT))
def test_enforce_is_exact_on_1000_inputs_with_ties_and_zeros(case, dtype, tied_inputs):
    sym, d_in, d_out, layers = EXACT[case]
    model = symnn.enforce(_mlp(d_in, d_out), sym).to(dtype)
    assert _layers(model) == layers
    x = tied_inputs(1000, d_in, dtype, seed=3)
    assert symnn.testing.assert_equivariant(model, sym, x, rtol=0.0) == 0.0
    # The model states what it guarantees, and the checker reads it.
    assert symnn.testing.assert_equivariant(model, x, rtol=0.0) == 0.0


@pytest.mark.parametrize("case", sorted(SCALED))
def test_enforce_with_a_scaling_holds_to_rounding_on_1000_inputs(case, dtype, tied_inputs):
    sym, d_in, d_out, layers = SCALED[case]
    model = symnn.enforce(_mlp(d_in, d_out), sym).to(dtype)
    assert _layers(model) == layers
    # Negative degrees have a pole at x = 0 (the documented inf), so zero rows only for k >= 0.
    positive = any(isinstance(f, symnn.Scaling) and f.degree < 0 for f in getattr(sym, "factors", (sym,)))
    x = tied_inputs(1000, d_in, dtype, seed=4)
    if positive:
        x = x[(x != 0).any(-1)]
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    # An odd part (g(u) - g(-u)) / 2, or an average over a group that negates the output,
    # cancels: in float32 its small outputs carry the rounding of g's, so they are judged
    # against the size of a typical output, about 1e-2 (the median |f|).
    cancels = case in ("odd_homogeneous", "time_reversal_scaled")
    floor = 1e-2 if cancels and dtype == torch.float32 else 0.0
    error = symnn.testing.assert_equivariant(model, sym, x, rtol=rtol, n_elements=8, floor=floor)
    assert error <= rtol
    assert symnn.testing.equivariance_error(model, x, n_elements=8, floor=floor) <= rtol  # its own .symmetry
    # The exact factors stay exact under the scaling.
    for factor in getattr(sym, "factors", (sym,)):
        if not isinstance(factor, symnn.Scaling):
            assert symnn.testing.assert_equivariant(model, factor, x, rtol=0.0) == 0.0


@pytest.mark.parametrize("case", sorted(EXACT) + sorted(SCALED))
def test_enforce_result_states_the_requested_symmetry(case):
    sym, d_in, d_out, _ = {**EXACT, **SCALED}[case]
    model = symnn.enforce(_mlp(d_in, d_out), sym)
    stated = getattr(model.symmetry, "factors", (model.symmetry,))
    asked = getattr(sym, "factors", (sym,))
    assert sorted(map(repr, stated)) == sorted(map(repr, asked))


@pytest.mark.parametrize("case", sorted(EXACT) + sorted(SCALED))
def test_enforce_gradcheck(case):
    sym, d_in, d_out, _ = {**EXACT, **SCALED}[case]
    model = symnn.enforce(_mlp(d_in, d_out), sym).double()
    x = (
        torch.rand(4, d_in, generator=torch.Generator().manual_seed(5), dtype=torch.float64) + 0.5
    ).requires_grad_()
    assert gradcheck(model, (x,))


def test_triangle_level_3_is_exactly_the_hand_built_stack(num_threads):
    hand = symnn.ScaleNormalize(symnn.PermutationSort(_mlp(3, 1, seed=7)), degree=2)
    built = symnn.enforce(_mlp(3, 1, seed=7), symnn.Permutation(3) * symnn.Scaling(2))
    assert repr(built) == repr(hand)
    assert [n for n, _ in built.named_parameters()] == [n for n, _ in hand.named_parameters()]
    x = torch.rand(2000, 3, generator=torch.Generator().manual_seed(0)) * 10
    assert torch.equal(built(x), hand(x))
    built(x).sum().backward()
    hand(x).sum().backward()
    for a, b in zip(built.parameters(), hand.parameters()):
        assert torch.equal(a.grad, b.grad)


def test_enforce_repr_shows_the_stack():
    text = repr(symnn.enforce(_mlp(3, 1), symnn.Permutation(3) * symnn.Parity(-1) * symnn.Scaling(2)))
    assert (
        text.index("ScaleNormalize") < text.index("Odd") < text.index("PermutationSort") < text.index("MLP")
    )
    assert "degree=2" in text
    text = repr(symnn.enforce(_mlp(4, 1), CyclicShift() * symnn.Permutation(4)))
    assert text.startswith("Symmetrize(\n  sym=Permutation(4) * CyclicShift(), order=96")


def test_a_permutation_with_a_user_group_joins_the_average(tied_inputs):
    # A sort inside the average would not survive it (roll(sort(x)) is not sort(roll(x))).
    sym = CyclicShift() * symnn.Permutation(4)
    model = symnn.enforce(_mlp(4, 1), sym).double()
    assert _layers(model) == ["Symmetrize"]
    x = tied_inputs(200, 4, torch.float64)
    every_eighth = model.symmetry.elements()[::8]  # 12 of the 96 elements: each check costs 96 calls
    assert symnn.testing.assert_equivariant(model, x, rtol=0.0, elements=every_eighth) == 0.0


def test_enforce_refuses_what_is_not_a_symmetry():
    with pytest.raises(TypeError, match=r"enforce needs a symnn\.Symmetry; got str"):
        symnn.enforce(_mlp(3, 1), "permutation")
    with pytest.raises(TypeError, match=r"net must be a torch\.nn\.Module"):
        symnn.enforce(lambda x: x, symnn.Parity(-1))


def test_enforce_names_an_infinite_group_without_a_layer_and_the_options():
    with pytest.raises(
        ValueError, match=r"enforce cannot build in Shift\(\).*finite.*augment.*symmetry_penalty"
    ):
        symnn.enforce(_mlp(3, 1), Shift())
    with pytest.raises(ValueError, match=r"Shift\(\)"):
        symnn.enforce(_mlp(3, 1), symnn.Permutation(3) * Shift())


def test_enforce_names_a_net_whose_sizes_do_not_fit():
    with pytest.raises(
        ValueError, match=r"MLP maps \(\.\.\., 3\) to \(\.\.\., 1\).*Permutation\(3, equivariant=True\)"
    ):
        symnn.enforce(_mlp(3, 1), symnn.Permutation(3, equivariant=True))
    with pytest.raises(ValueError, match=r"MLP maps \(\.\.\., 2\) to \(\.\.\., 1\).*Permutation\(3\)"):
        symnn.enforce(_mlp(2, 1), symnn.Permutation(3))


def test_a_net_without_stated_sizes_is_checked_at_the_first_call():
    net = torch.nn.Sequential(torch.nn.Linear(3, 2))  # no in_features on the Sequential
    model = symnn.enforce(net, symnn.Permutation(3, equivariant=True))
    with pytest.raises(ValueError, match=r"one output per input slot, shape \(5, 3\); got \(5, 2\)"):
        model(torch.rand(5, 3))
    model = symnn.enforce(
        torch.nn.Sequential(torch.nn.Linear(4, 3)), TimeReversal() * symnn.Permutation(4, equivariant=True)
    )
    with pytest.raises(ValueError, match=r"cannot act on net's output of shape \(5, 3\)"):
        model(torch.rand(5, 4))


def test_enforce_builds_dimensionless_for_unit_scaling():
    units = {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}
    sym = symnn.UnitScaling(units, ("T", "s"))
    torch.manual_seed(0)
    model = symnn.enforce(symnn.MLP(1, 1), sym).double()
    assert isinstance(model, symnn.Dimensionless)
    x = 0.5 + torch.rand(1000, 4, dtype=torch.float64)
    assert symnn.testing.equivariance_error(model, x) <= 1e-12
    model32 = symnn.enforce(symnn.MLP(1, 1), sym)
    assert symnn.testing.equivariance_error(model32, x.float()) <= 1e-5


@pytest.mark.parametrize("improper", [False, True])
def test_enforce_builds_a_frame_average_for_a_rotation(improper):
    sym = symnn.Rotation("2x0e + 3x1o", "ij", improper=improper)
    torch.manual_seed(0)
    model = symnn.enforce(symnn.MLP(11, 9, hidden=(32,)), sym).double()
    assert isinstance(model, symnn.FrameAverage) and model.symmetry is sym
    x = torch.randn(1000, 11, dtype=torch.float64)
    assert symnn.testing.equivariance_error(model, x) <= 1e-12
