r"""Buckingham Π analysis with exact rational exponents.

A quantity :math:`y` computed from inputs :math:`x_1, \dots, x_n` cannot depend on the
units they are written in.  With :math:`D` the matrix of dimension exponents (one row per
base dimension, one column per input), every dimensionless product
:math:`\prod_i x_i^{e_i}` has :math:`D e = 0`, and so

.. math:: y = \prod_i x_i^{a_i} \; \Phi(\Pi_1, \dots, \Pi_k), \qquad D a = d_y,

with :math:`k = n - \operatorname{rank} D` groups.  The exponents are found over the
rationals (sympy), so :math:`\sqrt{L/g}` is exactly :math:`L^{1/2} g^{-1/2}`.

The basis is the classical choice, made deterministic: the *repeating* inputs are the
earliest inputs whose dimensions are independent; every other input gets one group of
its own, in which it appears and no other non-repeating input does.  Each group's
exponents are scaled to coprime integers, with a positive exponent on the first input it
involves (so the drag problem gives the Reynolds number :math:`\rho v L / \mu`, not its
inverse).  The output's scale uses only the repeating inputs.  List the inputs you want
as repeating first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from symnn.units._parse import BASE_DIMENSIONS, Dimension, format_dimension, parse_unit

__all__ = ["PiGroups", "pi_groups", "check_units"]

Exponents = tuple[Fraction, ...]


def check_units(inputs: Any, output: Any) -> tuple[dict[str, str], tuple[str, str]]:
    """``inputs`` as an ordered ``{column: unit}`` dict and ``output`` as a ``(name, unit)`` pair."""
    if not isinstance(inputs, Mapping):
        raise TypeError(
            "inputs must be an ordered mapping {column: unit}, e.g. {'L': 'm', 'g': 'm/s**2'}; "
            f"got {type(inputs).__name__}"
        )
    if not inputs:
        raise ValueError("inputs must name at least one column; got an empty mapping")
    for name, unit in inputs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"each column name must be an identifier such as 'L' or 'theta0'; got {name!r}")
        if not isinstance(unit, str):
            raise TypeError(f"the unit of column {name!r} must be a string such as 'm/s**2'; got {unit!r}")
    if (
        isinstance(output, (str, bytes))
        or not isinstance(output, Sequence)
        or len(output) != 2
        or not all(isinstance(v, str) for v in output)
    ):
        raise TypeError(f"output must be a (name, unit) pair of strings, e.g. ('T', 's'); got {output!r}")
    name, unit = output
    if not name.isidentifier():
        raise ValueError(f"the output name must be an identifier such as 'T'; got {name!r}")
    if name in inputs:
        raise ValueError(f"the output {name!r} is also an input column; name it differently")
    return dict(inputs), (name, unit)


def _integer_row(row: Sequence[Fraction]) -> Exponents:
    """The row scaled to coprime integers, its first non-zero entry positive."""
    common = math.lcm(*(q.denominator for q in row))
    ints = [int(q * common) for q in row]
    divisor = math.gcd(*ints)
    ints = [v // divisor for v in ints]
    first = next(v for v in ints if v)
    return tuple(Fraction(-v if first < 0 else v) for v in ints)


def _fraction(q: Any) -> Fraction:
    q = sympy.Rational(q)
    return Fraction(int(q.p), int(q.q))


@dataclass(frozen=True)
class PiGroups:
    r"""The result of :func:`pi_groups`: the dimensionless groups and the output's scale.

    Attributes
    ----------
    inputs : tuple of str
        The input columns, in order.
    units : dict
        ``{column: unit string}`` as given.
    output : (str, str)
        The output's name and unit.
    dimensions : tuple of str
        The SI base dimensions involved (rows of :attr:`matrix`), in SI order.
    matrix : tuple of tuple of Fraction
        :math:`D`: ``matrix[d][i]`` is the exponent of dimension ``d`` in input ``i``.
    output_dimension : tuple of Fraction
        :math:`d_y`, the output's exponents of :attr:`dimensions`.
    groups : tuple of tuple of Fraction
        One row of exponents per group, :math:`\Pi_j = \prod_i x_i^{e_{ji}}`.
    scale : tuple of Fraction
        The exponents :math:`a` of the output's scale :math:`\prod_i x_i^{a_i}`.
    dropped : tuple of str
        The inputs that appear in no group and not in the scale: the output cannot
        depend on them.

    Examples
    --------
    >>> from symnn.units import pi_groups
    >>> pi = pi_groups({"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}, ("T", "s"))
    >>> print(pi)
    Π analysis: T [s] from L [m], m [kg], g [m/s**2], theta0 [rad]
      dimensions: length, mass, time (rank 3): 4 inputs make 1 dimensionless group, 2 with the output
      Π1 = theta0
      T*sqrt(g)/sqrt(L) = Φ(Π1)
      m drops out: no other quantity carries mass
    >>> pi.scale_expr
    sqrt(L)/sqrt(g)
    """

    inputs: tuple[str, ...]
    units: dict[str, str]
    output: tuple[str, str]
    dimensions: tuple[str, ...]
    matrix: tuple[Exponents, ...]
    output_dimension: Exponents
    groups: tuple[Exponents, ...]
    scale: Exponents
    dropped: tuple[str, ...]

    @property
    def symbols(self) -> tuple[sympy.Symbol, ...]:
        """The inputs as positive sympy symbols."""
        return tuple(sympy.Symbol(n, positive=True) for n in self.inputs)

    def _monomial(self, exponents: Exponents) -> sympy.Expr:
        return sympy.Mul(
            *(s ** sympy.Rational(e.numerator, e.denominator) for s, e in zip(self.symbols, exponents))
        )

    @property
    def group_exprs(self) -> tuple[sympy.Expr, ...]:
        """The groups :math:`\\Pi_j` as sympy expressions in :attr:`symbols`."""
        return tuple(self._monomial(g) for g in self.groups)

    @property
    def scale_expr(self) -> sympy.Expr:
        """The output's scale :math:`\\prod_i x_i^{a_i}` as a sympy expression."""
        return self._monomial(self.scale)

    def input_dimension(self, column: str) -> Dimension:
        """The dimension of one input column, ``{base dimension: exponent}``."""
        i = self.inputs.index(column)
        return {d: row[i] for d, row in zip(self.dimensions, self.matrix) if row[i]}

    def _drop_reason(self, column: str) -> str:
        i = self.inputs.index(column)
        for d, row in zip(self.dimensions, self.matrix):
            if row[i] and not any(v for j, v in enumerate(row) if j != i):
                return f"no other quantity carries {d}"
        return (
            f"its dimension ({format_dimension(self.input_dimension(column))}) combines with the "
            "others into no dimensionless group, and the output does not need it"
        )

    @property
    def record(self) -> str:
        """The analysis as readable text (what ``str()`` gives)."""
        name, unit = self.output
        given = ", ".join(f"{c} [{self.units[c]}]" for c in self.inputs)
        k = len(self.groups)
        rank = len(self.inputs) - k
        dims = ", ".join(self.dimensions) if self.dimensions else "none"
        plural = "group" if k == 1 else "groups"
        lines = [
            f"Π analysis: {name} [{unit}] from {given}",
            f"  dimensions: {dims} (rank {rank}): {len(self.inputs)} inputs make {k} dimensionless "
            f"{plural}, {k + 1} with the output",
        ]
        lines += [f"  Π{j + 1} = {expr}" for j, expr in enumerate(self.group_exprs)]
        ratio = sympy.Symbol(name, positive=True) / self.scale_expr
        if k:
            lines.append(f"  {ratio} = Φ({', '.join(f'Π{j + 1}' for j in range(k))})")
        else:
            lines.append(f"  {ratio} = C, a constant (no dimensionless group)")
        lines += [f"  {c} drops out: {self._drop_reason(c)}" for c in self.dropped]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.record


def pi_groups(inputs: Mapping[str, str], output: tuple[str, str]) -> PiGroups:
    r"""Buckingham Π analysis: the dimensionless groups of the inputs and the output's scale.

    The output is :math:`y = \prod_i x_i^{a_i}\,\Phi(\Pi_1, \dots, \Pi_k)` for some
    function :math:`\Phi`, with exact rational exponents (see the module notes for the
    canonical basis).  Angles and other dimensionless inputs are groups of their own.

    Parameters
    ----------
    inputs : mapping
        Ordered ``{column: unit}``, e.g. ``{"L": "m", "g": "m/s**2", "theta0": "rad"}``;
        units as :mod:`sympy.physics.units` writes them.  The earliest dimensionally
        independent inputs are the repeating ones.
    output : (str, str)
        The output's name and unit, e.g. ``("T", "s")``.

    Returns
    -------
    PiGroups

    Raises
    ------
    ValueError
        A unit that cannot be parsed, column names that are not identifiers or repeat the
        output, or an output unit that no product of powers of the inputs carries.
    TypeError
        ``inputs`` not a mapping of strings, ``output`` not a pair of strings.

    Examples
    --------
    Drag on a body: two groups in all, the Reynolds number and the drag coefficient.

    >>> from symnn.units import pi_groups
    >>> pi = pi_groups({"rho": "kg/m**3", "v": "m/s", "L": "m", "mu": "Pa*s"}, ("F", "N"))
    >>> pi.group_exprs, pi.scale_expr
    ((L*rho*v/mu,), L**2*rho*v**2)
    """
    units, (out_name, out_unit) = check_units(inputs, output)
    columns = tuple(units)
    dims_in = [parse_unit(u, f"the unit of column {c!r}") for c, u in units.items()]
    dim_out = parse_unit(out_unit, f"the unit of the output {out_name!r}")
    involved = tuple(d for d in BASE_DIMENSIONS if any(d in di for di in [*dims_in, dim_out]))
    matrix = sympy.Matrix(len(involved), len(columns), lambda r, i: dims_in[i].get(involved[r], 0))
    target = sympy.Matrix([dim_out.get(d, 0) for d in involved])
    n = len(columns)

    # Null space in the canonical basis: RREF with the columns reversed puts the pivots
    # (one per group) on the latest inputs, so the earliest independent ones repeat.
    null = matrix.nullspace() if involved else [sympy.eye(n).col(i) for i in range(n)]
    groups: list[Exponents] = []
    pivots: list[int] = []
    if null:
        stacked = sympy.Matrix.hstack(*null).T[:, ::-1]
        reduced, reversed_pivots = stacked.rref()
        for r, p in enumerate(reversed_pivots):
            row = [_fraction(v) for v in reduced.row(r)[::-1]]
            pivots.append(n - 1 - p)
            groups.append(_integer_row(row))
        order = sorted(range(len(groups)), key=lambda j: pivots[j])
        groups = [groups[j] for j in order]
        pivots = sorted(pivots)

    repeating = [i for i in range(n) if i not in pivots]
    scale_values: dict[int, Fraction] = {}
    if involved:
        solution = None
        if repeating:
            # The repeating inputs are dimensionally independent: one solution or none.
            try:
                solution, _ = matrix[:, repeating].gauss_jordan_solve(target)
            except ValueError:
                pass
        if solution is None:
            spans = sorted({format_dimension(d) for d in dims_in if d})
            raise ValueError(
                f"no product of powers of the inputs {list(columns)} carries the unit of the output "
                f"{out_name!r} ({out_unit}: {format_dimension(dim_out)}); the inputs' dimensions "
                f"are only {', '.join(spans) or 'dimensionless'}"
            )
        scale_values = dict(zip(repeating, (_fraction(v) for v in solution)))
    scale = tuple(scale_values.get(i, Fraction(0)) for i in range(n))
    dropped = tuple(c for i, c in enumerate(columns) if scale[i] == 0 and all(g[i] == 0 for g in groups))
    return PiGroups(
        inputs=columns,
        units=units,
        output=(out_name, out_unit),
        dimensions=involved,
        matrix=tuple(tuple(_fraction(matrix[r, i]) for i in range(n)) for r in range(len(involved))),
        output_dimension=tuple(_fraction(v) for v in target),
        groups=tuple(groups),
        scale=scale,
        dropped=dropped,
    )
