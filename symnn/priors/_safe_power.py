"""Real powers x**p with a finite value and derivative at the edge of their domain x = 0."""

from __future__ import annotations

import math

import torch

__all__ = ["safe_power"]


def safe_power(x: torch.Tensor, exponent: float) -> torch.Tensor:
    r"""The real power :math:`x^p`, finite with finite derivatives at :math:`x = 0`.

    For a non-integer exponent :math:`p` (e.g. :math:`\sqrt{x}`, :math:`p = 1/2`):

    ================  =========================  =============================
    where             value                      derivative in :math:`x`
    ================  =========================  =============================
    :math:`x > 0`     :math:`x^p`                :math:`p\,x^{p-1}`
    :math:`x = 0`     :math:`0^p` (0, or inf     0 (convention; the true one is
                      for :math:`p < 0`)         :math:`+\infty` for :math:`p < 1`)
    :math:`x < 0`     NaN (not a real number)    0
    NaN               NaN                        0
    ================  =========================  =============================

    Every derivative of the value at :math:`x \le 0` is 0: the edge is a constant
    branch, so first and second derivatives are finite there (``torch.sqrt`` alone
    gives ``inf`` at 0, and ``0 * inf = NaN`` downstream).  An integer exponent is a
    plain power, defined with exact derivatives for every real :math:`x`.

    Parameters
    ----------
    x : Tensor, any shape
    exponent : float

    Returns
    -------
    Tensor, shaped, typed and placed like ``x``.

    Examples
    --------
    >>> import torch
    >>> from symnn.priors._safe_power import safe_power
    >>> x = torch.tensor([4.0, 0.0, -1.0], requires_grad=True)
    >>> y = safe_power(x, 0.5)
    >>> y
    tensor([2., 0., nan], grad_fn=<WhereBackward0>)
    >>> torch.autograd.grad(y[:2].sum(), x)[0]
    tensor([0.2500, 0.0000, 0.0000])
    """
    p = float(exponent)
    if p.is_integer():
        return x ** int(p)
    positive = x > 0
    # x**p is NaN for x < 0 and its derivative is infinite at 0 when p < 1; evaluate the
    # power only on x > 0 (1 stands in elsewhere) so no inf/NaN reaches the backward pass.
    inner = torch.where(positive, x, torch.ones_like(x))
    powered = torch.sqrt(inner) if p == 0.5 else inner**p
    # The edge is a constant: 0**p at x == 0, NaN below 0 or for NaN input.
    edge = torch.full_like(x, math.nan).masked_fill(x == 0, 0.0 if p > 0 else math.inf)
    return torch.where(positive, powered, edge)
