"""Dimensions as constraints of :func:`~symnn.priors.derive`: a form with a given unit.

Two uses of the same knowledge, the units of the symbols and of the form:

- a polynomial ansatz keeps only the monomials that carry the form's unit (the triangle:
  :math:`A^2` in length⁴ from edges in length keeps the quartic monomials);
- with no degree, the ansatz is a power law :math:`C \\prod_i x_i^{e_i}` whose exponents
  the units fix, one linear equation per base dimension (the small-angle pendulum:
  :math:`T = C \\sqrt{L/g}`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy

from symnn.units._parse import BASE_DIMENSIONS, Dimension, format_dimension, parse_unit

__all__ = ["symbol_dimensions", "monomial_dimension", "describe_unit", "power_law_steps"]


def symbol_dimensions(units: Any, symbols: tuple[sympy.Symbol, ...]) -> list[Dimension]:
    """The dimension of each symbol, from ``{symbol or name: unit}`` covering all of them."""
    if not isinstance(units, Mapping):
        raise TypeError(f"units must be a mapping {{symbol: unit string}}; got {type(units).__name__}")
    by_name = {str(k): v for k, v in units.items()}
    names = [str(s) for s in symbols]
    missing = [n for n in names if n not in by_name]
    extra = sorted(set(by_name) - set(names))
    if missing or extra:
        raise ValueError(
            f"units must give one unit per symbol {names}; "
            + (f"missing {missing}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"not symbols: {extra}" if extra else "")
        )
    return [parse_unit(by_name[n], f"the unit of {n}") for n in names]


def monomial_dimension(exponents: Sequence[int | Fraction], dims: Sequence[Dimension]) -> Dimension:
    """The dimension of :math:`\\prod_i x_i^{e_i}`: exponents add."""
    total = {
        d: sum((Fraction(e) * di.get(d, 0) for e, di in zip(exponents, dims)), Fraction(0))
        for d in BASE_DIMENSIONS
    }
    return {d: v for d, v in total.items() if v}


def describe_unit(unit: str) -> str:
    """``"m**4 (length^4)"``: the unit as given and its dimension."""
    return f"{unit} ({format_dimension(parse_unit(unit, 'the unit of the form'))})"


def power_law_steps(
    symbols: tuple[sympy.Symbol, ...], dims: list[Dimension], target: Dimension
) -> tuple[list[tuple[str, int, int]], sympy.Expr | None]:
    """The power law :math:`\\prod_i x_i^{e_i}` with the target dimension, one step per base dimension.

    Returns the steps as ``(description, free_before, free_after)`` over the unknowns
    (the constant and the ``n`` exponents), and the monomial, or None when no power law
    carries the unit.  Raises ``ValueError`` when the units leave an exponent free (a
    dimensionless group), since the form is then not a power law.
    """
    n = len(symbols)
    exponent_symbols = [sympy.Symbol(f"e_{s}") for s in symbols]
    rows: list[list[sympy.Rational]] = []
    rhs: list[sympy.Rational] = []
    steps = []
    consistent = True
    involved = [d for d in BASE_DIMENSIONS if d in target or any(d in di for di in dims)]
    for d in involved:
        row = [sympy.Rational(str(di.get(d, 0))) for di in dims]
        value = sympy.Rational(str(target.get(d, 0)))
        before = (n + 1 - sympy.Matrix(rows).rank()) if rows and consistent else (n + 1 if consistent else 0)
        rows.append(row)
        rhs.append(value)
        a = sympy.Matrix(rows)
        consistent = consistent and a.rank() == a.row_join(sympy.Matrix(rhs)).rank()
        after = n + 1 - a.rank() if consistent else 0
        lhs = sympy.Add(*(c * e for c, e in zip(row, exponent_symbols)))
        steps.append((f"{d}: {lhs} = {value}", before, after))
    if not consistent:
        return steps, None
    a = sympy.Matrix(rows) if rows else sympy.zeros(0, n)
    if a.rank() < n:
        null = a.nullspace() if rows else [sympy.eye(n).col(i) for i in range(n)]
        groups = [sympy.Mul(*(s**v for s, v in zip(symbols, vec))) for vec in null]
        raise ValueError(
            f"the units fix the form only up to a function of the dimensionless group(s) "
            f"{', '.join(map(str, groups))}: it is not a power law.  Leave out what it may not "
            "depend on (for a small amplitude, the angle), or use symnn.units.pi_groups and "
            "symnn.Dimensionless for the general form"
        )
    solution, _ = a.gauss_jordan_solve(sympy.Matrix(rhs))
    return steps, sympy.Mul(*(s**v for s, v in zip(symbols, solution)))
