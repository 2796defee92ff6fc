"""The zoo's priors: heron(), heron_module(), spring()."""

import pytest
import sympy
import torch

import symnn
from symnn import priors
from symnn.testing import assert_equivariant


def test_heron_is_derived_to_the_lecture_form():
    d = priors.heron()
    a, b, c = d.symbols
    (C,) = d.constants
    assert sympy.expand(d.expr - C * (a + b + c) * (a + b - c) * (a - b + c) * (-a + b + c)) == 0
    assert [s.removed for s in d.steps] == [5, 4, 3, 2]
    assert "symmetric under permutations of (a, b, c)" in str(d)


def test_heron_takes_the_users_symbols():
    p, q, r = sympy.symbols("p q r", positive=True)
    assert priors.heron([p, q, r]).symbols == (p, q, r)
    with pytest.raises(ValueError, match="three edges"):
        priors.heron(sympy.symbols("p q"))


def test_heron_module_with_a_sixteenth_is_herons_formula():
    edges = 1 + torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    module = priors.heron_module(initial=1 / 16)
    assert module.constant_values() == {"C": 1 / 16}
    torch.testing.assert_close(
        module(edges).squeeze(-1), symnn.functional.heron_area(edges), rtol=1e-13, atol=0
    )


def test_heron_module_is_symmetric_and_of_degree_two():
    edges = 1 + torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert_equivariant(priors.heron_module(), symnn.Permutation(3) * symnn.Scaling(degree=2), edges)


def test_spring_is_the_odd_part_of_a_polynomial():
    d = priors.spring()
    (x,) = d.symbols
    C1, C2 = d.constants
    assert d.expr == C1 * x + C2 * x**3
    assert len(priors.spring(5).constants) == 3
    y = sympy.Symbol("y")
    assert priors.spring(symbol=y).symbols == (y,)
