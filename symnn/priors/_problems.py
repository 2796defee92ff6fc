"""The zoo's priors, derived from their constraints with :func:`~symnn.priors.derive`."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sympy

from symnn._symmetry import Permutation
from symnn.priors._derive import Derivation, as_symbol_tuple, derive
from symnn.priors._sympy_module import SympyModule

__all__ = ["heron", "heron_module", "spring"]


def heron(symbols: Sequence[sympy.Symbol] | None = None) -> Derivation:
    r"""The squared triangle area :math:`A^2(a, b, c)`, derived from three facts.

    1. :math:`A^2` has dimension length⁴: a homogeneous polynomial of degree 4 in the
       edges (15 monomials).
    2. The area vanishes on degenerate triangles: :math:`c = a + b`, :math:`b = a + c`,
       :math:`a = b + c`.
    3. It does not depend on how the edges are labelled: symmetric under permutations.

    One free constant is left:

    .. math:: A^2 = C\,(a+b+c)(a+b-c)(a-b+c)(-a+b+c),

    and Heron's formula is :math:`C = 1/16`.  Nothing here is typed in but the facts.

    Parameters
    ----------
    symbols : three sympy Symbols, optional
        The edges; default ``sympy.symbols("a b c")``.

    Examples
    --------
    >>> from symnn.priors import heron
    >>> d = heron()
    >>> print(d)
    Derivation: homogeneous polynomial of degree 4 in (a, b, c)
      start: 15 monomials, 15 free coefficients
      vanishes where c = a + b: removed 5, 10 free
      vanishes where b = a + c: removed 4, 6 free
      vanishes where a = b + c: removed 3, 3 free
      symmetric under permutations of (a, b, c): removed 2, 1 free
      result: C*(-a + b + c)*(a - b + c)*(a + b - c)*(a + b + c)
      free constants: C
    """
    edges = as_symbol_tuple(sympy.symbols("a b c") if symbols is None else symbols, "symbols")
    if len(edges) != 3:
        raise ValueError(f"a triangle has three edges; got symbols {edges}")
    return _derive_heron(*edges)


@functools.lru_cache(maxsize=8)
def _derive_heron(a: sympy.Symbol, b: sympy.Symbol, c: sympy.Symbol) -> Derivation:
    # The derivation is deterministic and takes sympy a few hundred milliseconds: do it once.
    return derive(
        [a, b, c],
        4,
        homogeneous=True,
        zero_sets=[{c: a + b}, {b: a + c}, {a: b + c}],
        symmetries=[Permutation(3)],
    )


def heron_module(initial: float = 1.0, symbols: Sequence[sympy.Symbol] | None = None) -> SympyModule:
    r"""The triangle area as a module with one constant: :math:`A = \sqrt{C\,P(a, b, c)}`.

    :math:`C\,P` is the :func:`heron` derivation of :math:`A^2`.  Input ``(..., 3)``
    edges, output ``(..., 1)`` area; :func:`~symnn.priors.fit_constants` recovers
    :math:`C = 1/16` in closed form (it is linear inside the root).  A degenerate
    triangle gives 0 with finite gradients; an invalid one (:math:`a > b + c`) gives NaN.

    Parameters
    ----------
    initial : float
        Starting value of :math:`C`.
    symbols : three sympy Symbols, optional
        The edges; default ``sympy.symbols("a b c")``.

    Examples
    --------
    >>> import torch
    >>> from symnn.priors import heron_module
    >>> heron_module(initial=1 / 16)(torch.tensor([[3.0, 4.0, 5.0]]))
    tensor([[6.]], grad_fn=<UnsqueezeBackward0>)
    """
    squared = heron(symbols)
    return SympyModule(sympy.sqrt(squared.expr), squared.symbols, squared.constants, initial=initial)


def spring(degree: int = 3, symbol: sympy.Symbol | None = None) -> Derivation:
    r"""An odd restoring force :math:`F(x)`, derived: the general polynomial restricted to odd terms.

    Starting from all monomials of degree at most ``degree`` and imposing
    :math:`F(-x) = -F(x)` leaves the odd ones; for the default cubic,

    .. math:: F = C_1 x + C_2 x^3.

    Parameters
    ----------
    degree : int
        The largest power.
    symbol : sympy.Symbol, optional
        The displacement; default ``x``.

    Examples
    --------
    >>> from symnn.priors import spring
    >>> print(spring())
    Derivation: polynomial of degree at most 3 in (x)
      start: 4 monomials, 4 free coefficients
      odd under x -> -x: removed 2, 2 free
      result: C1*x + C2*x**3
      free constants: C1, C2
    """
    x = sympy.Symbol("x") if symbol is None else symbol
    return derive([x], degree, homogeneous=False, symmetries=[("odd", [x])])
