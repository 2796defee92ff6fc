"""symnn.units.pi_groups and the unit parser: Buckingham Π with exact exponents."""

from fractions import Fraction as F

import pytest

from symnn.units import BASE_DIMENSIONS, pi_groups
from symnn.units._parse import format_dimension, parse_unit

PENDULUM = {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}
DRAG = {"rho": "kg/m**3", "v": "m/s", "L": "m", "mu": "Pa*s"}


def test_pendulum_groups_scale_and_record():
    pi = pi_groups(PENDULUM, ("T", "s"))
    assert pi.dimensions == ("length", "mass", "time")
    assert pi.groups == ((F(0), F(0), F(0), F(1)),)
    assert pi.scale == (F(1, 2), F(0), F(-1, 2), F(0))
    assert pi.dropped == ("m",)
    assert str(pi) == (
        "Π analysis: T [s] from L [m], m [kg], g [m/s**2], theta0 [rad]\n"
        "  dimensions: length, mass, time (rank 3): 4 inputs make 1 dimensionless group, 2 with the output\n"
        "  Π1 = theta0\n"
        "  T*sqrt(g)/sqrt(L) = Φ(Π1)\n"
        "  m drops out: no other quantity carries mass"
    )


def test_triangle_area_from_edges():
    pi = pi_groups({"a": "m", "b": "m", "c": "m"}, ("A", "m**2"))
    assert pi.groups == ((F(1), F(-1), F(0)), (F(1), F(0), F(-1)))
    assert pi.scale == (F(2), F(0), F(0))
    assert pi.dropped == ()
    assert str(pi).splitlines()[2:] == ["  Π1 = a/b", "  Π2 = a/c", "  A/a**2 = Φ(Π1, Π2)"]


def test_drag_has_two_groups_with_the_reynolds_number():
    pi = pi_groups(DRAG, ("F", "N"))
    # One group of the inputs (Reynolds) and the output's own (the drag coefficient).
    assert pi.groups == ((F(1), F(1), F(1), F(-1)),)
    assert pi.scale == (F(1), F(2), F(2), F(0))
    assert str(pi).splitlines()[1:] == [
        "  dimensions: length, mass, time (rank 3): 4 inputs make 1 dimensionless group, 2 with the output",
        "  Π1 = L*rho*v/mu",
        "  F/(L**2*rho*v**2) = Φ(Π1)",
    ]


def test_no_dimensionless_group_leaves_a_constant():
    pi = pi_groups({"L": "m", "g": "m/s**2"}, ("T", "s"))
    assert pi.groups == ()
    assert pi.scale == (F(1, 2), F(-1, 2))
    assert str(pi).splitlines()[-1] == "  T*sqrt(g)/sqrt(L) = C, a constant (no dimensionless group)"


def test_order_of_the_inputs_chooses_the_repeating_ones():
    # The earliest independent inputs repeat: with mu first, the scale uses mu.
    pi = pi_groups({"mu": "Pa*s", "v": "m/s", "L": "m", "rho": "kg/m**3"}, ("F", "N"))
    assert str(pi.scale_expr) == "L*mu*v"
    # The sign rule: a positive exponent on the first input a group involves.
    assert str(pi.group_exprs[0]) == "mu/(L*rho*v)"


def test_dimensionless_output_and_inputs():
    pi = pi_groups({"x": "1", "phi": "deg"}, ("y", "dimensionless"))
    assert pi.dimensions == ()
    assert pi.groups == ((F(1), F(0)), (F(0), F(1)))
    assert pi.scale == (F(0), F(0))


def test_fractional_unit_exponents_stay_exact():
    pi = pi_groups({"x": "m**(1/3)", "t": "s"}, ("y", "sqrt(m)/s"))
    assert pi.scale == (F(3, 2), F(-1))


def test_a_dropped_input_without_a_unique_dimension_gets_the_general_reason():
    # p carries kg*m, q carries m/kg: both dimensions of p are q's too, y needs only q.
    pi = pi_groups({"p": "kg*m", "q": "m/kg"}, ("y", "m/kg"))
    assert pi.dropped == ("p",)
    assert str(pi).splitlines()[-1] == (
        "  p drops out: its dimension (length·mass) combines with the others into no "
        "dimensionless group, and the output does not need it"
    )


@pytest.mark.parametrize(
    "inputs, output, match",
    [
        ({"L": "m"}, ("T", "s"), "no product of powers of the inputs"),
        ({"L": "furlong_per_fortnight"}, ("T", "s"), "does not know"),
        ({"L": "m+s"}, ("T", "s"), "not a product of powers"),
        ({"L": "m**"}, ("T", "s"), "cannot be parsed"),
        ({"L": "m.__class__"}, ("T", "s"), "not a unit expression"),
        ({"L": "m"}, ("L", "m"), "also an input"),
        ({"my col": "m"}, ("T", "s"), "identifier"),
        ({}, ("T", "s"), "at least one column"),
    ],
)
def test_bad_declarations_raise_value_errors(inputs, output, match):
    with pytest.raises(ValueError, match=match):
        pi_groups(inputs, output)


@pytest.mark.parametrize(
    "inputs, output",
    [("L", ("T", "s")), ({"L": 1.0}, ("T", "s")), ({"L": "m"}, "T"), ({"L": "m"}, ("T", "s", "x"))],
)
def test_wrong_types_raise_type_errors(inputs, output):
    with pytest.raises(TypeError):
        pi_groups(inputs, output)


def test_parse_unit_knows_prefixes_derived_units_and_angles():
    assert parse_unit("km/hour") == {"length": F(1), "time": F(-1)}
    assert parse_unit("N") == {"length": F(1), "mass": F(1), "time": F(-2)}
    assert parse_unit("kg*m^2") == {"length": F(2), "mass": F(1)}
    assert parse_unit("meter / second ** 2") == {"length": F(1), "time": F(-2)}  # pint's text
    assert parse_unit("mol/L") == {"length": F(-3), "amount_of_substance": F(1)}
    assert parse_unit("rad") == parse_unit("deg") == parse_unit("1") == parse_unit("") == {}
    assert list(parse_unit("K*A*cd*mol*s*kg*m")) == list(BASE_DIMENSIONS)
    assert format_dimension(parse_unit("m/s**2")) == "length·time^-2"
