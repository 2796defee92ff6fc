"""The triangle area from its edges (Heron), NaN-safe at degenerate triangles."""

from __future__ import annotations

import math

import torch

from symnn._checks import check_tensor
from symnn._exact_scale import binary_exponent, ldexp
from symnn.priors._safe_power import safe_power

__all__ = ["heron_area"]


def heron_area(edges: torch.Tensor) -> torch.Tensor:
    r"""The area of a triangle with edge lengths :math:`(a, b, c)`, by Heron's formula.

    .. math:: A = \tfrac14 \sqrt{(a+b+c)(-a+b+c)(a-b+c)(a+b-c)}

    evaluated in Kahan's order (edges sorted :math:`a \ge b \ge c`, then
    :math:`\tfrac14\sqrt{(a+(b+c))(c-(a-b))(c+(a-b))(a+(b-c))}`), which stays accurate
    for needle-like triangles and makes the product's sign decide validity exactly.

    - Valid triangles: the area, symmetric in the edges and homogeneous of degree 2.
    - Degenerate triangles (one edge the sum of the others, or all zero): 0, with
      gradient 0 and finite second derivatives (the true gradient there is infinite;
      the convention explained in :doc:`/guides/numerical-safety`).
    - Invalid triangles (an edge longer than the sum of the others) and negative
      edges: NaN, as is any row holding a NaN.  (No exception: a value check in
      ``forward`` would break ``torch.func.vmap`` and ``torch.compile``.)

    Parameters
    ----------
    edges : Tensor, shape ``(..., 3)``

    Returns
    -------
    Tensor, shape ``(...,)``

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import heron_area
    >>> heron_area(torch.tensor([[3.0, 4.0, 5.0], [1.0, 2.0, 3.0], [1.0, 1.0, 3.0]]))
    tensor([6., 0., nan])
    """
    check_tensor(edges, "edges", last_dim=3)
    # Half precision runs in float32 (its range is too narrow even for the scaled product).
    work = edges.float() if edges.dtype in (torch.float16, torch.bfloat16) else edges
    a, b, c = work.sort(dim=-1, descending=True).values.unbind(-1)
    # The degree-4 product leaves the float range long before the area does, so each factor
    # is formed at a scale that puts it in [1, 4) or so, exactly (powers of two, detached):
    # the pair ~ a at a's exponent; c + (a - b) at c's, where a needle's short edge keeps
    # its bits; c - (a - b), which vanishes at a flat triangle, at its own.  Every factor
    # >= 1 keeps every gradient in the chain below the area itself (A / (2 factor)).
    # a - b is exact (Sterbenz: b >= a/2 in a valid triangle), and c - (a - b) rounds once,
    # as in Kahan's order.
    ea, ec = binary_exponent(a) - 1, binary_exponent(c) - 1
    a1, b1, c1 = (ldexp(t, -ea) for t in (a, b, c))
    d = a - b
    flat = c - d
    # Of ec's parity, so that the root's exponent, ea + (ec + ef) / 2, is whole.
    ef = binary_exponent(flat) - 1
    ef = ef - (ef - ec) % 2
    product = ((a1 + (b1 + c1)) * (a1 + (b1 - c1))) * (ldexp(flat, -ef) * (ldexp(c, -ec) + ldexp(d, -ec)))
    # Two negative edges can make the product positive; mark them invalid (a constant
    # NaN, so nothing non-finite reaches the gradient of valid rows).
    product = product.masked_fill(c < 0, math.nan)
    # sqrt(product) = 4 A / 2^(ea + (ec + ef) / 2): scale back.
    return ldexp(safe_power(product, 0.5), ea + (ec + ef) // 2 - 2).to(edges.dtype)
