"""The triangle area from its edges (Heron), NaN-safe at degenerate triangles."""

from __future__ import annotations

import math

import torch

from symnn._checks import check_tensor
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
    a, b, c = edges.sort(dim=-1, descending=True).values.unbind(-1)
    product = (a + (b + c)) * (c - (a - b)) * (c + (a - b)) * (a + (b - c))
    # Two negative edges can make the product positive; mark them invalid (a constant
    # NaN, so nothing non-finite reaches the gradient of valid rows).
    product = product.masked_fill(c < 0, math.nan)
    return safe_power(product, 0.5) / 4
