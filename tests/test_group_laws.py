"""symnn.check_group_laws: each law catches the mistake it is about, and true groups pass."""

from __future__ import annotations

import pytest
import torch

import symnn

GEN = torch.Generator().manual_seed(0)


def data(n_in: int = 3, n_out: int = 1, dtype=torch.float64):
    g = torch.Generator().manual_seed(1)
    return torch.randn(7, n_in, generator=g, dtype=dtype), torch.randn(7, n_out, generator=g, dtype=dtype)


def turn(g: int, v: torch.Tensor) -> torch.Tensor:
    """The plane vector ``v`` turned by g quarter turns."""
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][g % 4]
    return torch.stack([c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]], -1)


class Turns(symnn.Symmetry):
    """C4 on the plane, the output a vector that turns with the input: a true group action,
    unless a test swaps in a wrong list of elements, inverse or output action."""

    is_finite = True

    def __init__(self, elements=(0, 1, 2, 3), inverse=lambda g: (-g) % 4, output=turn):
        self._elements, self._inverse, self._output = list(elements), inverse, output

    def elements(self):
        return list(self._elements)

    def sample(self, n, generator=None):
        return [self._elements[int(k)] for k in torch.randint(len(self._elements), (n,), generator=generator)]

    def inverse(self, g):
        return self._inverse(g)

    def act_input(self, g, x):
        return turn(g, x)

    def act_output(self, g, y):
        return self._output(g, y)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "sym, n_in, n_out",
    [
        (symnn.Parity(-1), 3, 1),
        (symnn.Parity(+1), 2, 2),
        (symnn.Permutation(3), 3, 1),
        (symnn.Permutation(4, equivariant=True), 4, 4),
        (symnn.Permutation(3) * symnn.Parity(-1), 3, 1),
        (Turns(), 2, 2),
    ],
    ids=repr,
)
def test_built_in_and_true_groups_pass(sym, n_in, n_out, dtype):
    x, y = data(n_in, n_out, dtype)
    assert symnn.check_group_laws(sym, x, y) <= 1e-10


def test_infinite_groups_check_inverse_and_with_compose_composition():
    x, y = data(3, 1)
    scaling = symnn.Scaling(degree=2)
    assert symnn.check_group_laws(scaling, x, y, generator=GEN) < 1e-12
    assert symnn.check_group_laws(scaling, x, y, compose=lambda g, h: g * h, generator=GEN) < 1e-12
    with pytest.raises(AssertionError, match="composition law fails on the inputs"):
        symnn.check_group_laws(scaling, x, y, compose=lambda g, h: g + h, generator=GEN)


def test_rotation_with_matrix_product_as_composition():
    x, y = data(3, 1)
    rotation = symnn.Rotation("1o", "0e")
    assert symnn.check_group_laws(rotation, x, y, compose=lambda g, h: g @ h, generator=GEN) < 1e-10


def test_an_output_action_that_does_not_match_the_input_fails():
    x, y = data(2, 2)
    # A sign forgotten on the quarter turn: ρ(3)ρ(1)y = -y, so the inverse law fails.
    with pytest.raises(AssertionError, match="inverse law fails on the outputs for g = 1"):
        symnn.check_group_laws(Turns(output=lambda g, y: -turn(g, y) if g == 1 else turn(g, y)), x, y)
    # A sign on the half turn only keeps g·g⁻¹ = e but breaks composition: 1∘1 = 2.
    with pytest.raises(AssertionError, match="composition law fails on the outputs"):
        symnn.check_group_laws(Turns(output=lambda g, y: -turn(g, y) if g == 2 else turn(g, y)), x, y)


def test_a_wrong_inverse_fails_the_inverse_law():
    x, y = data(2, 2)
    with pytest.raises(AssertionError, match="inverse law fails on the inputs for g = 1"):
        symnn.check_group_laws(Turns(inverse=lambda g: g), x, y)


def test_a_list_that_is_not_closed_fails_composition():
    x, y = data(2, 2)
    with pytest.raises(AssertionError, match="elements\\(\\) is not closed"):
        symnn.check_group_laws(Turns(elements=(0, 1)), x, y)


def test_an_identity_that_is_not_first_fails_the_identity_law():
    x, y = data(2, 2)
    with pytest.raises(AssertionError, match="identity law fails on the inputs"):
        symnn.check_group_laws(Turns(elements=(1, 0, 2, 3)), x, y)


def test_bad_arguments():
    x, y = data()
    with pytest.raises(TypeError, match=r"symnn\.Symmetry"):
        symnn.check_group_laws("parity", x, y)
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        symnn.check_group_laws(symnn.Parity(), [1.0], y)
    with pytest.raises(ValueError, match="no elements"):
        symnn.check_group_laws(symnn.Parity(), x, y, elements=[])
