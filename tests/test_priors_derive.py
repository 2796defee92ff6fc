"""symnn.priors.derive: model forms from symmetries, degree and zero sets."""

import itertools

import pytest
import sympy

import symnn
from symnn.priors import Derivation, derive

a, b, c, x, y, z = sympy.symbols("a b c x y z")
HERON_P = (a + b + c) * (a + b - c) * (a - b + c) * (-a + b + c)
DEGENERATE = [{c: a + b}, {b: a + c}, {a: b + c}]


def is_zero(expr):
    return sympy.expand(expr) == 0


def test_triangle_constraints_leave_heron_with_one_constant():
    d = derive([a, b, c], 4, symmetries=[symnn.Permutation(3)], zero_sets=DEGENERATE)
    (C,) = d.constants
    assert is_zero(d.expr - C * HERON_P)
    assert [(s.free_before, s.free_after) for s in d.steps] == [(15, 10), (10, 6), (6, 3), (3, 1)]
    assert not d.is_trivial


@pytest.mark.parametrize(
    "zero_sets",
    [
        [sympy.Eq(c, a + b), sympy.Eq(b, a + c), sympy.Eq(a, b + c)],
        [a + b - c, a - b + c, -a + b + c],  # as expressions: "divisible by"
        [{c: a + b}],  # with the symmetry, one degenerate case implies the others
    ],
    ids=["Eq", "expressions", "one-case"],
)
def test_every_way_of_declaring_the_triangle_gives_the_same_form(zero_sets):
    d = derive([a, b, c], 4, symmetries=[("symmetric", [a, b, c])], zero_sets=zero_sets)
    assert is_zero(d.expr - d.constants[0] * HERON_P)


def test_odd_cubic_keeps_the_odd_terms():
    d = derive([x], 3, homogeneous=False, symmetries=[("odd", [x])])
    C1, C2 = d.constants
    assert d.expr == C1 * x + C2 * x**3
    assert [s.removed for s in d.steps] == [2]


def test_even_and_parity_object_agree():
    by_tuple = derive([x], 4, homogeneous=False, symmetries=[("even", [x])])
    by_object = derive([x], 4, homogeneous=False, symmetries=[symnn.Parity(+1)])
    assert by_tuple.expr == by_object.expr
    assert by_tuple.basis == (sympy.Integer(1), x**2, x**4)


def test_degree_six_with_several_zero_sets_and_both_symmetries():
    d = derive(
        [x, y, z],
        6,
        homogeneous=False,
        zero_sets=[{x: 0}, {y: z}],
        symmetries=[("symmetric", [y, z]), ("even", [x])],
    )
    # By hand: x² (y - z)² times any polynomial of degree <= 2 that is even in x and
    # symmetric in (y, z): 1, y + z, x², (y + z)², yz -- five constants.
    assert len(d.constants) == 5
    assert [s.free_before for s in d.steps] == [84, 56, 35, 13]
    for q in d.basis:
        assert is_zero(q.subs(x, 0))
        assert is_zero(q.subs(y, z))
        assert is_zero(q - q.subs({y: z, z: y}, simultaneous=True))
        assert is_zero(q - q.subs(x, -x))
    assert is_zero(sympy.div(d.expr, x**2 * (y - z) ** 2, x, y, z)[1])


def test_symmetric_sextic_vanishing_on_degenerate_triangles():
    d = derive([a, b, c], 6, symmetries=[symnn.Permutation(3)], zero_sets=DEGENERATE)
    # p = (a+b-c)(a-b+c)(-a+b+c) q with q symmetric of degree 3: e1³, e1 e2, e3.
    assert len(d.constants) == 3
    cubic = (a + b - c) * (a - b + c) * (-a + b + c)
    for q in d.basis:
        assert sympy.div(q, cubic, a, b, c)[1] == 0
        for perm in itertools.permutations([a, b, c]):
            assert is_zero(q - q.subs(dict(zip([a, b, c], perm)), simultaneous=True))
    # A homogeneous sextic is even by itself: the parity constraint removes nothing.
    even = derive([a, b, c], 6, symmetries=[symnn.Permutation(3) * symnn.Parity(+1)], zero_sets=DEGENERATE)
    assert even.steps[-1].removed == 0
    assert len(even.constants) == 3


def test_impossible_constraints_are_an_answer_not_an_error():
    d = derive([a, b, c], 6, symmetries=[symnn.Parity(-1)])  # an odd form of even degree
    assert d.is_trivial
    assert d.expr == 0
    assert d.constants == () and d.basis == ()
    assert d.steps[-1].free_after == 0
    assert "no non-zero form satisfies" in str(d.steps[-1])
    assert "no non-zero form satisfies" in str(d)


def test_constraints_after_a_trivial_step_remove_nothing():
    d = derive([a, b], 1, zero_sets=[{a: 0}, {b: 0}], symmetries=[("symmetric", [a, b])])
    assert [s.free_after for s in d.steps] == [1, 0, 0]
    assert d.is_trivial


def test_antisymmetry_gives_the_vandermonde_product():
    d = derive([a, b, c], 3, symmetries=[("antisymmetric", [a, b, c])])
    (C,) = d.constants
    assert is_zero(d.expr**2 - C**2 * ((a - b) * (a - c) * (b - c)) ** 2)


def test_substitution_symmetries():
    swap_sign = derive([x, y], 1, symmetries=[({x: y, y: x}, -1)])
    assert is_zero(swap_sign.basis[0] ** 2 - (x - y) ** 2)
    quarter_turn = derive([x, y], 2, symmetries=[{x: -y, y: x}])
    assert quarter_turn.basis == (x**2 + y**2,)


def test_result_is_the_sum_of_constants_times_basis_with_tidy_integers():
    d = derive([x, y, z], 4, homogeneous=False, symmetries=[symnn.Permutation(3)], zero_sets=[x + y + z])
    assert is_zero(d.expr - sum(C * q for C, q in zip(d.constants, d.basis)))
    ones = dict.fromkeys([x, y, z], 1)
    for q in d.basis:
        coefficients = sympy.Poly(q, x, y, z).coeffs()
        assert all(v.is_Integer for v in coefficients)
        assert sympy.igcd(*coefficients) == 1
        assert q.subs(ones) > 0 or (q.subs(ones) == 0 and coefficients[0] > 0)


def test_constant_names_follow_the_prefix():
    assert [str(C) for C in derive([x], 3, homogeneous=False, constant_prefix="k").constants] == [
        "k1",
        "k2",
        "k3",
        "k4",
    ]
    assert [str(C) for C in derive([x], 2, constant_prefix="k").constants] == ["k"]


def test_str_records_each_constraint():
    d = derive([a, b, c], 4, symmetries=[symnn.Permutation(3)], zero_sets=[{c: a + b}])
    text = str(d)
    assert "homogeneous polynomial of degree 4 in (a, b, c)" in text
    assert "vanishes where c = a + b: removed 5, 10 free" in text
    assert "symmetric under permutations of (a, b, c)" in text
    assert isinstance(d, Derivation) and "Derivation(expr=" in repr(d)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"symbols": "a b", "degree": 2}, TypeError, "sympy Symbol"),
        ({"symbols": [a, a], "degree": 2}, ValueError, "twice"),
        ({"symbols": [], "degree": 2}, ValueError, "at least one symbol"),
        ({"symbols": [a], "degree": -1}, ValueError, "non-negative int"),
        ({"symbols": [a], "degree": 2.0}, ValueError, "non-negative int"),
        ({"symbols": [a, b], "degree": 2, "zero_sets": [{c: a}]}, ValueError, r"\['c'\]"),
        ({"symbols": [a, b], "degree": 2, "zero_sets": [{a: c}]}, ValueError, r"\['c'\]"),
        ({"symbols": [a, b], "degree": 2, "zero_sets": [{a: sympy.sqrt(b)}]}, ValueError, "polynomial"),
        ({"symbols": [a, b], "degree": 2, "zero_sets": [{a: a + b}]}, ValueError, "both sides"),
        ({"symbols": [a, b], "degree": 2, "zero_sets": ["a = b"]}, TypeError, "zero set"),
        ({"symbols": [a, b], "degree": 2, "symmetries": [symnn.Permutation(3)]}, ValueError, "3 columns"),
        (
            {"symbols": [a, b], "degree": 2, "symmetries": [symnn.Permutation(2, True)]},
            ValueError,
            "equivariant",
        ),
        ({"symbols": [a, b], "degree": 2, "symmetries": [symnn.Scaling(2)]}, ValueError, "homogeneous"),
        (
            {"symbols": [a, b], "degree": 2, "symmetries": [symnn.Rotation("1o", "0e")]},
            TypeError,
            "substitution",
        ),
        ({"symbols": [a, b], "degree": 2, "symmetries": [("twisted", [a])]}, TypeError, "kind"),
        ({"symbols": [a, b], "degree": 2, "symmetries": [("odd", [c])]}, ValueError, r"\['c'\]"),
        ({"symbols": [a, b], "degree": 2, "symmetries": [({a: b}, 2)]}, ValueError, "sign"),
        ({"symbols": [a, b], "degree": 2, "symmetries": symnn.Permutation(2)}, TypeError, "list"),
        ({"symbols": [sympy.Symbol("C"), b], "degree": 2}, ValueError, "constant_prefix"),
        ({"symbols": [a], "degree": 2, "constant_prefix": "C.1"}, ValueError, "identifier"),
    ],
)
def test_bad_input_is_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        derive(**kwargs)


class _CyclicShift3(symnn.Symmetry):
    """Cyclic shifts of (a, b, c), a finite group of the user's own (no is_finite, no derive rule)."""

    def elements(self):
        return [0, 1, 2]

    def inverse(self, g):
        return (-g) % 3

    def act_input(self, g, x):
        return x.roll(-g, dims=-1)

    def act_output(self, g, y):
        return y


class _AntiSwap(symnn.Symmetry):
    """Swapping the first two inputs flips the sign of the output."""

    def elements(self):
        return [False, True]

    def inverse(self, g):
        return g

    def act_input(self, g, x):
        return x[..., [1, 0, 2]] if g else x

    def act_output(self, g, y):
        return -y if g else y


def test_derive_takes_a_user_defined_finite_symmetry():
    a, b, c = sympy.symbols("a b c")
    cyclic = derive([a, b, c], 3, symmetries=[_CyclicShift3()])
    # Cubic invariants of the cyclic group: a^3+b^3+c^3, a^2 b+b^2 c+c^2 a, a b^2+b c^2+c a^2, abc;
    # the full symmetric group has one fewer (the two middle ones merge).
    assert len(cyclic.constants) == 4
    assert len(derive([a, b, c], 3, symmetries=[symnn.Permutation(3)]).constants) == 3
    assert sympy.expand(cyclic.expr - cyclic.expr.subs({a: b, b: c, c: a}, simultaneous=True)) == 0
    assert cyclic.steps[0].constraint == "invariant under _CyclicShift3()"
    # A sign representation: the same form as the built-in antisymmetric spec.
    anti = derive([a, b, c], 3, symmetries=[_AntiSwap()])
    assert sympy.expand(anti.expr.subs({a: b, b: a}, simultaneous=True) + anti.expr) == 0
    builtin = derive([a, b, c], 3, symmetries=[("antisymmetric", [a, b])])
    assert anti.basis == builtin.basis


def test_derive_names_a_symmetry_it_cannot_turn_into_polynomial_constraints():
    a, b, c = sympy.symbols("a b c")
    with pytest.raises(TypeError, match=r"Rotation.*not a finite group"):
        derive([a, b, c], 2, symmetries=[symnn.Rotation("1o", "0e")])

    class Square(_CyclicShift3):
        def act_input(self, g, x):
            return x**2 if g else x

    with pytest.raises(ValueError, match="acts non-linearly"):
        derive([a, b, c], 2, symmetries=[Square()])


# --------------------------------------------------------------------------- units


L, m, g, theta0 = sympy.symbols("L m g theta0", positive=True)
PENDULUM_UNITS = {L: "m", m: "kg", g: "m/s**2"}


def test_small_angle_pendulum_is_derived_from_units_alone():
    d = derive([L, m, g], units=PENDULUM_UNITS, unit="s")
    (C,) = d.constants
    assert d.expr == C * sympy.sqrt(L / g)
    assert str(d) == (
        "Derivation: power law C*L**e_L*m**e_m*g**e_g in (L, m, g), unit s (time)\n"
        "  start: 4 unknowns, the constant and 3 exponents\n"
        "  length: e_L + e_g = 0: removed 1, 3 free\n"
        "  mass: e_m = 0: removed 1, 2 free\n"
        "  time: -2*e_g = 1: removed 1, 1 free\n"
        "  result: C*sqrt(L)/sqrt(g)\n"
        "  free constants: C"
    )


def test_units_given_by_name_and_the_fitted_constant_is_two_pi():
    import torch

    d = derive([L, g], units={"L": "m", "g": "m/s**2"}, unit="s")
    law = symnn.priors.SympyModule(d)
    x = torch.tensor([[0.5, 9.81], [2.0, 1.62], [30.0, 24.8]], dtype=torch.float64)
    period = 2 * torch.pi * torch.sqrt(x[:, :1] / x[:, 1:])
    fit = symnn.priors.fit_constants(law, x, period)
    assert abs(fit.constants["C"] - 2 * sympy.pi.evalf()) < 1e-12


def test_heron_from_units_keeps_the_quartic_monomials():
    d = derive(
        [a, b, c],
        4,
        homogeneous=False,
        units={a: "m", b: "m", c: "m"},
        unit="m**4",  # A in length², so A² in length⁴
        zero_sets=DEGENERATE,
        symmetries=[symnn.Permutation(3)],
    )
    assert is_zero(d.expr - d.constants[0] * HERON_P)
    assert str(d).splitlines()[:3] == [
        "Derivation: polynomial of degree at most 4 in (a, b, c)",
        "  start: 35 monomials, 35 free coefficients",
        "  has unit m**4 (length^4): removed 20, 15 free",
    ]


def test_a_unit_no_power_law_carries_gives_a_trivial_derivation():
    d = derive([L, m], units={L: "m", m: "kg"}, unit="s")
    assert d.is_trivial and d.expr == 0
    assert str(d).splitlines()[-2:] == [
        "  time: 0 = 1: removed 1, 0 free (no non-zero form satisfies these constraints)",
        "  result: 0 (no non-zero form satisfies these constraints)",
    ]


def test_a_dimensionless_group_means_no_power_law():
    with pytest.raises(ValueError, match=r"dimensionless group.*theta0"):
        derive([L, g, theta0], units={L: "m", g: "m/s**2", theta0: "rad"}, unit="s")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": PENDULUM_UNITS}, "together"),
        ({"unit": "s"}, "together"),
        ({}, "needs a degree"),
        ({"units": {L: "m", m: "kg"}, "unit": "s"}, "missing"),
        ({"units": {**PENDULUM_UNITS, "x": "m"}, "unit": "s"}, "not symbols"),
        ({"units": PENDULUM_UNITS, "unit": "s", "symmetries": [("even", [L])]}, "give a degree"),
        ({"units": PENDULUM_UNITS, "unit": "bananas"}, "does not know"),
    ],
)
def test_unit_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        derive([L, m, g], **kwargs)
