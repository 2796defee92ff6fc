"""Derive a polynomial model form from declared constraints: the lecture's level-4 reasoning.

The general polynomial :math:`p = \\sum_i k_i m_i` over a set of monomials :math:`m_i`
has unknown coefficients :math:`k`.  Every constraint the user knows (a symmetry, a
set where :math:`p` vanishes) is linear in :math:`k`, so it cuts the space of allowed
coefficient vectors down to a null space; what is left, written in a canonical basis,
is the model form with one free constant per dimension.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy
from sympy.polys.matrices import DomainMatrix
from sympy.polys.polyerrors import BasePolynomialError
from sympy.polys.rings import PolyElement, PolyRing

from symnn._symmetry import (
    PolynomialConstraint,
    Symmetry,
    parity_constraint,
    permutation_constraint,
)
from symnn.priors._units import describe_unit, monomial_dimension, power_law_steps, symbol_dimensions
from symnn.units._parse import parse_unit

__all__ = ["derive", "Derivation", "Step", "as_symbol_tuple"]

QQ = sympy.QQ
Exponents = tuple[int, ...]

_PERMUTATION_KINDS = {"symmetric": +1, "permutation": +1, "antisymmetric": -1}
_PARITY_KINDS = {"odd": -1, "even": +1}
_TRIVIAL = "no non-zero form satisfies these constraints"


def as_symbol_tuple(symbols: Any, name: str) -> tuple[sympy.Symbol, ...]:
    """``symbols`` (one sympy Symbol or a sequence of distinct ones) as a tuple."""
    if isinstance(symbols, sympy.Symbol):
        return (symbols,)
    if isinstance(symbols, (str, bytes)) or not isinstance(symbols, Sequence):
        raise TypeError(f"{name} must be a sympy Symbol or a sequence of them; got {type(symbols).__name__}")
    out = tuple(symbols)
    for s in out:
        if not isinstance(s, sympy.Symbol):
            raise TypeError(
                f"{name} must hold sympy Symbols (make them with sympy.symbols('a b c')); "
                f"got {s!r} of type {type(s).__name__}"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"{name} lists a symbol twice: {[str(s) for s in out]}")
    return out


@dataclass(frozen=True)
class Step:
    """One constraint of a derivation and what it did to the number of free coefficients.

    Examples
    --------
    >>> from symnn import priors
    >>> step = priors.spring().steps[0]
    >>> print(step)
    odd under x -> -x: removed 2, 2 free
    >>> step.removed
    2
    """

    constraint: str
    free_before: int
    free_after: int

    @property
    def removed(self) -> int:
        """How many free coefficients this constraint removed."""
        return self.free_before - self.free_after

    def __str__(self) -> str:
        text = f"{self.constraint}: removed {self.removed}, {self.free_after} free"
        if self.free_after == 0 and self.free_before > 0:
            text += f" ({_TRIVIAL})"
        return text


class Derivation:
    r"""The result of :func:`derive`: a model form, its free constants and how it came about.

    Attributes
    ----------
    expr : sympy.Expr
        The reduced form :math:`\sum_j C_j q_j`, factored where sympy can (a common
        factor of all :math:`q_j` is pulled out); ``0`` when nothing non-zero is left.
    constants : tuple of sympy.Symbol
        The free constants :math:`C_j` (``C`` for one, ``C1, C2, ...`` for several).
    basis : tuple of sympy.Expr
        The expanded polynomials :math:`q_j`, so that ``expr == sum(C_j * q_j)``.  Each
        has coprime integer coefficients and is positive where all symbols are 1 (or,
        if it vanishes there, has a positive first coefficient).
    symbols : tuple of sympy.Symbol
        The variables, in the order given to :func:`derive`.
    ansatz : str
        The general form the derivation started from (a polynomial, or a power law).
    start : str
        What was unknown at the start (monomial coefficients, or a power law's
        constant and exponents).
    steps : tuple of Step
        Each constraint in the order applied, with the free coefficients it removed.

    Examples
    --------
    >>> from symnn import priors
    >>> derivation = priors.spring()
    >>> print(derivation)
    Derivation: polynomial of degree at most 3 in (x)
      start: 4 monomials, 4 free coefficients
      odd under x -> -x: removed 2, 2 free
      result: C1*x + C2*x**3
      free constants: C1, C2
    >>> derivation.constants, derivation.basis
    ((C1, C2), (x, x**3))
    """

    def __init__(
        self,
        symbols: tuple[sympy.Symbol, ...],
        ansatz: str,
        n_monomials: int,
        steps: tuple[Step, ...],
        constants: tuple[sympy.Symbol, ...],
        basis: tuple[sympy.Expr, ...],
        expr: sympy.Expr,
        start: str | None = None,
    ) -> None:
        self.symbols = symbols
        self.start = start or f"{n_monomials} monomials, {n_monomials} free coefficients"
        self.ansatz = ansatz
        self.n_monomials = n_monomials
        self.steps = steps
        self.constants = constants
        self.basis = basis
        self.expr = expr

    @property
    def is_trivial(self) -> bool:
        """True when no non-zero form satisfies the constraints (``expr == 0``)."""
        return not self.constants

    def __str__(self) -> str:
        lines = [
            f"Derivation: {self.ansatz}",
            f"  start: {self.start}",
        ]
        lines += [f"  {step}" for step in self.steps]
        if self.is_trivial:
            lines.append(f"  result: 0 ({_TRIVIAL})")
        else:
            lines.append(f"  result: {self.expr}")
            lines.append(f"  free constants: {', '.join(map(str, self.constants))}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Derivation(expr={self.expr}, constants={self.constants})"


# -- constraints as linear conditions on the coefficients -----------------------------------


@dataclass(frozen=True)
class _Condition:
    """Linear equations on the coefficients: every coefficient of the image polynomial is 0.

    With ``divisor``: the image is the remainder of p on division by it (p divisible).
    With ``excluded``: the image is p's part on those monomials (their coefficients vanish).
    Otherwise the image is ``p(mapping) - sign * p`` (``sign`` None: just ``p(mapping)``).
    """

    mapping: Mapping[sympy.Symbol, sympy.Expr] | None = None
    sign: int | None = None
    divisor: sympy.Expr | None = None
    #: Monomials whose coefficient must vanish (a form of the wrong unit).
    excluded: frozenset[Exponents] | None = None


@dataclass(frozen=True)
class _Constraint:
    description: str
    conditions: tuple[_Condition, ...]


def _names(symbols: Sequence[sympy.Symbol]) -> str:
    return "(" + ", ".join(map(str, symbols)) + ")"


def _subset(syms: Any, symbols: tuple[sympy.Symbol, ...], what: str) -> tuple[sympy.Symbol, ...]:
    out = as_symbol_tuple(syms, what)
    unknown = [str(s) for s in out if s not in symbols]
    if unknown:
        raise ValueError(f"{what} names {unknown}, which are not among the symbols {_names(symbols)}")
    return out


def _check_mapping(mapping: Mapping, symbols: tuple[sympy.Symbol, ...], what: str) -> dict:
    if not mapping:
        raise ValueError(f"{what} must map at least one symbol; got an empty mapping")
    out = {}
    for key, value in mapping.items():
        (key,) = _subset(key, symbols, what)
        try:
            value = sympy.sympify(value, strict=True)
        except sympy.SympifyError:
            raise TypeError(f"{what} maps {key} to {value!r}, which is not a sympy expression") from None
        unknown = sorted(map(str, value.free_symbols - set(symbols)))
        if unknown:
            raise ValueError(
                f"{what} maps {key} to {value}, which uses {unknown}, not among the symbols {_names(symbols)}"
            )
        out[key] = value
    return out


def _as_constraint(constraint: PolynomialConstraint, symbols: tuple[sympy.Symbol, ...]) -> _Constraint:
    description, substitutions = constraint
    conditions = []
    for mapping, sign in substitutions:
        if sign not in (-1, 1):
            raise ValueError(f"a substitution symmetry's sign must be +1 or -1; got {sign!r}")
        conditions.append(_Condition(_check_mapping(mapping, symbols, "a symmetry"), sign))
    return _Constraint(description, tuple(conditions))


def _substitution_constraint(mapping: dict, sign: int) -> _Constraint:
    if sign not in (-1, 1):
        raise ValueError(f"a substitution symmetry's sign must be +1 or -1; got {sign!r}")
    moves = ", ".join(f"{k} -> {v}" for k, v in mapping.items())
    verb = "invariant under" if sign > 0 else "changes sign under"
    return _Constraint(f"{verb} {moves}", (_Condition(mapping, sign),))


def _symmetry_constraints(spec: Any, symbols: tuple[sympy.Symbol, ...]) -> list[_Constraint]:
    if isinstance(spec, Symmetry):
        # The symmetry says what it demands of a polynomial (built-in ones their
        # generators; any finite group with a linear action, every element).
        return [_as_constraint(c, symbols) for c in spec.polynomial_constraints(symbols)]
    if isinstance(spec, Mapping):
        return [_substitution_constraint(_check_mapping(spec, symbols, "a symmetry"), +1)]
    if isinstance(spec, tuple) and len(spec) == 2:
        kind, what = spec
        if isinstance(kind, Mapping):
            return [_substitution_constraint(_check_mapping(kind, symbols, "a symmetry"), what)]
        if isinstance(kind, str) and kind.lower() in _PERMUTATION_KINDS:
            syms = _subset(what, symbols, f"the {kind!r} symmetry")
            return [_as_constraint(permutation_constraint(syms, _PERMUTATION_KINDS[kind.lower()]), symbols)]
        if isinstance(kind, str) and kind.lower() in _PARITY_KINDS:
            syms = _subset(what, symbols, f"the {kind!r} symmetry")
            return [_as_constraint(parity_constraint(syms, _PARITY_KINDS[kind.lower()]), symbols)]
    raise TypeError(
        "a symmetry must be a symnn.Symmetry (Permutation(n), Parity(sign), a product, a finite "
        "group of your own), "
        f"(kind, symbols) with kind in {sorted({**_PERMUTATION_KINDS, **_PARITY_KINDS})}, "
        f"or a substitution ({{x: expr}}, sign); got {spec!r}"
    )


def _zero_set_constraint(spec: Any, symbols: tuple[sympy.Symbol, ...]) -> _Constraint:
    if isinstance(spec, sympy.Eq):
        lhs, rhs = spec.lhs, spec.rhs
        if isinstance(lhs, sympy.Symbol) and lhs in symbols and lhs not in rhs.free_symbols:
            spec = {lhs: rhs}
        else:
            spec = lhs - rhs
    if isinstance(spec, Mapping):
        mapping = _check_mapping(spec, symbols, "a zero set")
        both = [str(k) for k in mapping if any(k in v.free_symbols for v in mapping.values())]
        if both:
            raise ValueError(
                f"a zero set {{symbol: expr}} must express its symbols through the others; "
                f"{both} appear on both sides (write the set as an expression that vanishes on it)"
            )
        where = ", ".join(f"{k} = {v}" for k, v in mapping.items())
        return _Constraint(f"vanishes where {where}", (_Condition(mapping, None),))
    if isinstance(spec, sympy.Expr):
        unknown = sorted(map(str, spec.free_symbols - set(symbols)))
        if unknown:
            raise ValueError(
                f"the zero set {spec} = 0 uses {unknown}, not among the symbols {_names(symbols)}"
            )
        if not spec.free_symbols:
            raise ValueError(f"a zero set expression must involve the symbols; got the constant {spec}")
        return _Constraint(f"vanishes where {spec} = 0 (divisible by it)", (_Condition(divisor=spec),))
    raise TypeError(
        "a zero set must be a substitution {symbol: expr}, a sympy Eq(symbol, expr), or an "
        f"expression f meaning 'vanishes where f = 0'; got {spec!r}"
    )


def _power_law(symbols: tuple[sympy.Symbol, ...], dims: list, unit: str, prefix: str) -> Derivation:
    target = parse_unit(unit, "the unit of the form")
    raw_steps, monomial = power_law_steps(symbols, dims, target)
    steps = tuple(Step(text, before, after) for text, before, after in raw_steps)
    powers = "*".join(f"{s}**e_{s}" for s in symbols)
    ansatz = f"power law {prefix}*{powers} in {_names(symbols)}, unit {describe_unit(unit)}"
    start = f"{len(symbols) + 1} unknowns, the constant and {len(symbols)} exponents"
    if monomial is None:
        return Derivation(symbols, ansatz, len(symbols), steps, (), (), sympy.Integer(0), start)
    constant = sympy.Symbol(prefix)
    return Derivation(
        symbols, ansatz, len(symbols), steps, (constant,), (monomial,), constant * monomial, start
    )


# -- linear algebra over the rationals -------------------------------------------------------


def _exponents(n: int, degree: int) -> Iterator[Exponents]:
    """Exponent tuples of total degree ``degree`` in ``n`` variables, in descending lex order."""
    if n == 1:
        yield (degree,)
        return
    for first in range(degree, -1, -1):
        for rest in _exponents(n - 1, degree - first):
            yield (first, *rest)


def _to_ring(ring: PolyRing, expr: sympy.Expr, what: str) -> PolyElement:
    try:
        return ring.from_expr(expr)
    except (ValueError, BasePolynomialError):
        raise ValueError(
            f"{what} {expr} must be a polynomial in {_names(ring.symbols)} with rational coefficients"
        ) from None


def _images(condition: _Condition, monomials: list[Exponents], ring: PolyRing) -> list[PolyElement]:
    """The image polynomial of each monomial; the condition is: sum_i k_i image_i == 0."""
    polys = [ring({e: QQ(1)}) for e in monomials]
    if condition.excluded is not None:
        return [p if e in condition.excluded else ring.zero for e, p in zip(monomials, polys)]
    if condition.divisor is not None:
        divisor = _to_ring(ring, condition.divisor, "the zero set")
        # One polynomial is a Groebner basis of its ideal: the remainder is its unique
        # normal form, linear in p, and zero exactly when the divisor divides p.
        return [p.rem([divisor]) for p in polys]
    assert condition.mapping is not None
    targets = [_to_ring(ring, condition.mapping.get(s, s), "a substitution") for s in ring.symbols]
    powers: dict[tuple[int, int], PolyElement] = {}

    def power(i: int, k: int) -> PolyElement:
        if (i, k) not in powers:
            powers[(i, k)] = targets[i] ** k
        return powers[(i, k)]

    images = []
    for e, p in zip(monomials, polys):
        image = ring.one
        for i, k in enumerate(e):
            if k:
                image = image * power(i, k)
        images.append(image if condition.sign is None else image - condition.sign * p)
    return images


def _equations(constraint: _Constraint, monomials: list[Exponents], ring: PolyRing) -> DomainMatrix:
    rows: dict[tuple[int, Exponents], dict[int, Any]] = {}
    for c, condition in enumerate(constraint.conditions):
        for col, image in enumerate(_images(condition, monomials, ring)):
            for mono, coeff in image.items():
                if coeff:
                    rows.setdefault((c, mono), {})[col] = coeff
    matrix = {r: row for r, row in enumerate(rows.values())}
    return DomainMatrix(matrix, (len(rows), len(monomials)), QQ)


def _null_space(matrix: DomainMatrix) -> DomainMatrix:
    """A basis of {v : M v = 0}, as the columns of the result (n x dim)."""
    n = matrix.shape[1]
    reduced, pivots = matrix.rref()
    entries = reduced.to_list()
    free = [j for j in range(n) if j not in set(pivots)]
    columns = {}
    for k, f in enumerate(free):
        columns[f] = {k: QQ(1)}
        for i, p in enumerate(pivots):
            if entries[i][f]:
                columns.setdefault(p, {})[k] = -entries[i][f]
    return DomainMatrix(columns, (n, len(free)), QQ)


def _canonical_rows(basis: DomainMatrix) -> list[list[int]]:
    """The spanned space in reduced echelon form, each row scaled to coprime integers with a sign rule."""
    if basis.shape[1] == 0:
        return []
    reduced, pivots = basis.transpose().rref()
    rows = []
    for row in reduced.to_list()[: len(pivots)]:
        common = math.lcm(*(int(q.denominator) for q in row))
        ints = [int(q.numerator) * (common // int(q.denominator)) for q in row]
        divisor = math.gcd(*ints)
        ints = [v // divisor for v in ints]
        # Positive where every symbol is 1 (the equilateral triangle, x = 1, ...).
        at_ones = sum(ints)
        first = next(v for v in ints if v)
        if at_ones < 0 or (at_ones == 0 and first < 0):
            ints = [-v for v in ints]
        rows.append(ints)
    return rows


def _assemble(
    rows: list[list[int]],
    monomials: list[Exponents],
    symbols: tuple[sympy.Symbol, ...],
    prefix: str,
) -> tuple[tuple[sympy.Symbol, ...], tuple[sympy.Expr, ...], sympy.Expr]:
    if not rows:
        return (), (), sympy.Integer(0)
    names = [prefix] if len(rows) == 1 else [f"{prefix}{j + 1}" for j in range(len(rows))]
    constants = tuple(sympy.Symbol(n) for n in names)
    polys = [sympy.Poly.from_dict(dict(zip(monomials, r)), *symbols, domain=QQ) for r in rows]
    basis = tuple(p.as_expr() for p in polys)
    common = functools.reduce(lambda p, q: p.gcd(q), polys)
    # Pull out a common factor that says something (a zero set), not a bare monomial.
    if len(common.terms()) == 1:
        expr = sympy.Add(*(c * _tidy_factor(q, symbols) for c, q in zip(constants, basis)))
    else:
        quotients = [_tidy_factor(p.exquo(common).as_expr(), symbols) for p in polys]
        expr = _tidy_factor(common.as_expr(), symbols) * sympy.Add(
            *(c * q for c, q in zip(constants, quotients))
        )
    return constants, basis, expr


def _tidy_factor(poly: sympy.Expr, symbols: tuple[sympy.Symbol, ...]) -> sympy.Expr:
    """``poly`` factored, each factor signed to be positive where all symbols are 1 if it can."""
    coefficient, factors = sympy.factor(poly).as_coeff_mul()
    ones = dict.fromkeys(symbols, 1)
    tidy = []
    for f in factors:
        base, exponent = f.as_base_exp()
        if base.is_Add and exponent.is_Integer and base.subs(ones) < 0:
            base, coefficient = -base, coefficient * (-1) ** int(exponent)
        tidy.append(base**exponent)
    return sympy.Mul(coefficient, *tidy)


def derive(
    symbols: Any,
    degree: int | None = None,
    *,
    homogeneous: bool = True,
    symmetries: Sequence[Any] = (),
    zero_sets: Sequence[Any] = (),
    units: Mapping[Any, str] | None = None,
    unit: str | None = None,
    constant_prefix: str = "C",
) -> Derivation:
    r"""The most general polynomial (or power law) that satisfies the given constraints.

    Starts from :math:`p = \sum_i k_i m_i` over all monomials :math:`m_i` of total
    degree ``degree`` (``homogeneous=True``: a quantity of fixed dimension, e.g.
    :math:`A^2 \sim \text{length}^4` gives degree 4) or of degree at most ``degree``,
    imposes each constraint as linear equations on :math:`k` (exact rational
    arithmetic), and writes what is left as :math:`\sum_j C_j q_j` with one free
    constant per remaining dimension.  Zero sets are applied first, then symmetries,
    each in the order given; :attr:`Derivation.steps` records how many free
    coefficients each removed.  When nothing non-zero is left, the answer is a
    :class:`Derivation` with ``expr == 0`` and ``is_trivial`` True, not an exception.

    Parameters
    ----------
    symbols : sequence of sympy.Symbol
        The variables, e.g. ``sympy.symbols("a b c")``.
    degree : int
        The total degree (exact if ``homogeneous``, else the maximum).
    homogeneous : bool
        Keep only monomials of total degree ``degree``.
    symmetries : sequence
        Each one of:

        - ``symnn.Permutation(n)`` (``n == len(symbols)``): :math:`p` invariant under
          every permutation of the symbols; ``("symmetric", [a, b])`` for a subset,
          ``("antisymmetric", [a, b])`` for a sign change under odd permutations;
        - ``symnn.Parity(sign)``: :math:`p(-x) = \text{sign}\,p(x)` in all symbols;
          ``("odd", [x])`` / ``("even", [x])`` for a subset;
        - a product of the above (``symnn.Permutation(3) * symnn.Parity(1)``);
        - any finite :class:`~symnn.Symmetry` of your own whose elements act linearly
          on the inputs and by a sign on the output
          (:meth:`~symnn.Symmetry.polynomial_constraints`);
        - a substitution ``{x: expr, ...}`` (:math:`p(\text{subs}) = p`) or
          ``({x: expr, ...}, sign)`` (:math:`p(\text{subs}) = \text{sign}\,p`),
          applied simultaneously, polynomial with rational coefficients.
    zero_sets : sequence
        Sets on which :math:`p` vanishes, each one of: ``{c: a + b}`` (or
        ``sympy.Eq(c, a + b)``): :math:`p(a, b, a+b) \equiv 0`; several entries
        substitute together (``{a: 0, b: 0}`` is the line :math:`a = b = 0`); an
        expression ``f``: :math:`f` divides :math:`p` (for an irreducible :math:`f` whose
        real zeros form a hypersurface, the same as :math:`p = 0` wherever :math:`f = 0`).
    units : mapping, optional
        ``{symbol or name: unit}`` for every symbol (units as
        :func:`symnn.units.parse_unit` reads them), with ``unit``, the form's unit.
        With a ``degree``: a first constraint keeps the monomials that carry ``unit``
        ("has unit m**4 (length^4)").  Without one (``degree=None``): the ansatz is
        the power law :math:`C \prod_i x_i^{e_i}`, and each base dimension is one
        linear equation on the exponents; a ``ValueError`` when the units leave an
        exponent free (a dimensionless group: the form is :math:`C \prod_i
        x_i^{e_i}\,\Phi(\Pi)`, see :func:`symnn.units.pi_groups`), a trivial
        derivation when no power law carries ``unit``.  Zero sets and symmetries
        need a degree.
    unit : str, optional
        The form's unit; given exactly when ``units`` is.
    constant_prefix : str
        Name of the free constant (``C``), or prefix of several (``C1, C2, ...``).

    Returns
    -------
    Derivation

    Examples
    --------
    The triangle (lecture, level 4): :math:`A^2` has dimension length⁴, vanishes on
    degenerate triangles and is symmetric in the edges.

    >>> import sympy, symnn
    >>> from symnn.priors import derive
    >>> a, b, c = sympy.symbols("a b c")
    >>> d = derive([a, b, c], 4, symmetries=[symnn.Permutation(3)],
    ...            zero_sets=[{c: a + b}, {b: a + c}, {a: b + c}])
    >>> sympy.factor(d.expr - d.constants[0] * (a + b + c) * (a + b - c) * (a - b + c) * (-a + b + c))
    0
    >>> [step.removed for step in d.steps]
    [5, 4, 3, 2]

    An odd spring force, at most cubic:

    >>> x = sympy.Symbol("x")
    >>> derive([x], 3, homogeneous=False, symmetries=[("odd", [x])]).expr
    C1*x + C2*x**3

    The small-angle pendulum from units alone (the mass cannot enter):

    >>> L, m, g = sympy.symbols("L m g", positive=True)
    >>> print(derive([L, m, g], units={L: "m", m: "kg", g: "m/s**2"}, unit="s"))
    Derivation: power law C*L**e_L*m**e_m*g**e_g in (L, m, g), unit s (time)
      start: 4 unknowns, the constant and 3 exponents
      length: e_L + e_g = 0: removed 1, 3 free
      mass: e_m = 0: removed 1, 2 free
      time: -2*e_g = 1: removed 1, 1 free
      result: C*sqrt(L)/sqrt(g)
      free constants: C
    """
    symbols = as_symbol_tuple(symbols, "symbols")
    if not symbols:
        raise ValueError("derive needs at least one symbol")
    if (units is None) != (unit is None):
        raise ValueError("units (one per symbol) and unit (the form's) are given together or not at all")
    if degree is None and units is None:
        raise ValueError("derive needs a degree for a polynomial, or units and unit for a power law")
    if degree is not None and (isinstance(degree, bool) or not isinstance(degree, int) or degree < 0):
        raise ValueError(f"degree must be a non-negative int; got {degree!r}")
    if not isinstance(constant_prefix, str) or not constant_prefix.isidentifier():
        raise ValueError(f"constant_prefix must be an identifier such as 'C'; got {constant_prefix!r}")
    clash = [str(s) for s in symbols if re.fullmatch(re.escape(constant_prefix) + r"\d*", str(s))]
    if clash:
        raise ValueError(
            f"the symbols {clash} could be confused with the constants {constant_prefix}, "
            f"{constant_prefix}1, ...; choose another constant_prefix"
        )
    for name, specs in (("symmetries", symmetries), ("zero_sets", zero_sets)):
        if isinstance(specs, (str, Mapping, Symmetry, sympy.Basic)) or not isinstance(specs, Sequence):
            raise TypeError(f"{name} must be a list of constraints; got {specs!r}")
    if degree is None:
        if zero_sets or symmetries:
            raise ValueError("zero sets and symmetries constrain a polynomial: give a degree as well")
        return _power_law(symbols, symbol_dimensions(units, symbols), str(unit), constant_prefix)
    degrees = [degree] if homogeneous else range(degree + 1)
    monomials = [e for d in degrees for e in _exponents(len(symbols), d)]
    constraints = []
    if units is not None and unit is not None:
        dims = symbol_dimensions(units, symbols)
        target = parse_unit(unit, "the unit of the form")
        wrong = frozenset(e for e in monomials if monomial_dimension(e, dims) != target)
        constraints.append(_Constraint(f"has unit {describe_unit(unit)}", (_Condition(excluded=wrong),)))
    constraints += [_zero_set_constraint(z, symbols) for z in zero_sets]
    constraints += [c for s in symmetries for c in _symmetry_constraints(s, symbols)]

    kind = "homogeneous polynomial of degree" if homogeneous else "polynomial of degree at most"
    ansatz = f"{kind} {degree} in {_names(symbols)}"

    ring = PolyRing(symbols, QQ)
    basis = DomainMatrix.eye(len(monomials), QQ)  # columns span the allowed coefficients
    steps = []
    for constraint in constraints:
        before = basis.shape[1]
        if before and constraint.conditions:
            equations = _equations(constraint, monomials, ring)
            if equations.shape[0]:
                basis = basis * _null_space(equations * basis)
        steps.append(Step(constraint.description, before, basis.shape[1]))

    rows = _canonical_rows(basis)
    constants, polys, expr = _assemble(rows, monomials, symbols, constant_prefix)
    return Derivation(symbols, ansatz, len(monomials), tuple(steps), constants, polys, expr)
