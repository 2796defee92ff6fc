"""Unit strings to exact dimension exponents, with ``sympy.physics.units``.

Why sympy and not pint: sympy is already a dependency of symnn (``symnn.priors``), its
SI system knows every unit, prefix and derived unit a physicist writes (``"m/s**2"``,
``"kg*m**2"``, ``"N"``, ``"km/hour"``, ``"mol/L"``), and it answers with *exact*
rational exponents (``sqrt(m)`` is length^(1/2)), which the Π analysis needs to stay
exact.  pint is where many physicists hold their quantities, but it would be a new
dependency for what is, here, one parse of a string; a pint unit's text
(``str(q.units)``, e.g. ``"meter / second ** 2"``) is understood as it is.

Angles (``rad``, ``deg``) and ratios (``percent``) are dimensionless, as in SI.  The
numeric factor of a unit (``km`` against ``m``, ``deg`` against ``rad``) does not enter
a dimension; it is a constant that a learned model absorbs.
"""

from __future__ import annotations

import re
from fractions import Fraction
from tokenize import TokenError
from typing import Any

import sympy
import sympy.physics.units as _units
from sympy.parsing.sympy_parser import parse_expr, standard_transformations
from sympy.physics.units.systems.si import SI, dimsys_SI

__all__ = ["BASE_DIMENSIONS", "Dimension", "parse_unit", "format_dimension"]

#: The SI base dimensions, in the order every analysis lists them.
BASE_DIMENSIONS = (
    "length",
    "mass",
    "time",
    "current",
    "temperature",
    "amount_of_substance",
    "luminous_intensity",
)

#: A dimension: base dimension name -> non-zero exact exponent.
Dimension = dict[str, Fraction]

_ALLOWED = re.compile(r"^[A-Za-z0-9_\s*/()^.+\-]*$")
_DIMENSIONLESS = {"", "1", "dimensionless"}


def _unit_namespace(name: str) -> Any:
    value = getattr(_units, name, None)
    return value if isinstance(value, _units.Quantity) else None


def parse_unit(unit: Any, what: str = "a unit") -> Dimension:
    """The dimension of a unit string as exact exponents of the SI base dimensions.

    Parameters
    ----------
    unit : str
        A product of powers of units known to ``sympy.physics.units`` (``"m/s**2"``,
        ``"kg*m^2"``, ``"N"``, ``"rad"``, ``"sqrt(m)"``); ``""``, ``"1"`` or ``"dimensionless"`` for a
        pure number.
    what : str
        How errors name the unit (e.g. ``"the unit of column 'L'"``).

    Returns
    -------
    dict
        ``{base dimension: Fraction}`` with the non-zero exponents only (empty for a
        dimensionless unit), ordered as :data:`BASE_DIMENSIONS`.

    Examples
    --------
    >>> from symnn.units._parse import parse_unit
    >>> parse_unit("m/s**2")
    {'length': Fraction(1, 1), 'time': Fraction(-2, 1)}
    >>> parse_unit("rad")
    {}
    """
    if not isinstance(unit, str):
        raise TypeError(f"{what} must be a unit string such as 'm/s**2'; got {type(unit).__name__}")
    text = unit.strip()
    if text.lower() in _DIMENSIONLESS:
        return {}
    if not _ALLOWED.match(text) or "__" in text:
        raise ValueError(
            f"{what} {unit!r} is not a unit expression: use unit names, numbers, *, /, ** (or ^) "
            "and parentheses, e.g. 'kg*m/s**2'"
        )
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)) - {"sqrt"}
    unknown = sorted(n for n in names if _unit_namespace(n) is None)
    if unknown:
        raise ValueError(
            f"{what} {unit!r} names {unknown}, which sympy.physics.units does not know as units "
            "(write e.g. m, kg, s, N, Pa, J, rad, deg, km, hour)"
        )
    local: dict[str, Any] = {n: _unit_namespace(n) for n in names}
    try:
        expr = parse_expr(
            text.replace("^", "**"),
            local_dict=local,
            global_dict={
                "sqrt": sympy.sqrt,
                "Integer": sympy.Integer,
                "Float": sympy.Float,
                "Rational": sympy.Rational,
            },
            transformations=standard_transformations,
        )
    except (SyntaxError, TypeError, ValueError, TokenError) as err:
        raise ValueError(f"{what} {unit!r} cannot be parsed: {err}") from None
    if (
        not isinstance(expr, sympy.Expr)
        or expr.free_symbols
        or any(isinstance(e, sympy.Add) for e in sympy.preorder_traversal(expr))
    ):
        # sympy would give "m + s" the dimension of its first term: refuse sums outright.
        raise ValueError(f"{what} {unit!r} is not a product of powers of units")
    try:
        dependencies = dimsys_SI.get_dimensional_dependencies(SI.get_dimensional_expr(expr))
    except (TypeError, ValueError) as err:
        # e.g. "m + s": a sum of quantities of different dimension.
        raise ValueError(f"{what} {unit!r} has no single dimension: {err}") from None
    exponents = {str(d.name): sympy.Rational(e) for d, e in dependencies.items()}
    stray = sorted(set(exponents) - set(BASE_DIMENSIONS))
    if stray:
        raise ValueError(f"{what} {unit!r} has the dimension(s) {stray}, outside the SI base dimensions")
    return {
        d: Fraction(int(exponents[d].p), int(exponents[d].q))
        for d in BASE_DIMENSIONS
        if exponents.get(d, 0) != 0
    }


def format_dimension(dimension: Dimension) -> str:
    """``{"length": 1, "time": -2}`` as ``"length·time^-2"``; ``"dimensionless"`` when empty.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from symnn.units._parse import format_dimension
    >>> format_dimension({"length": Fraction(1), "time": Fraction(-1, 2)})
    'length·time^-1/2'
    """
    if not dimension:
        return "dimensionless"
    return "·".join(d if e == 1 else f"{d}^{e}" for d, e in dimension.items())
