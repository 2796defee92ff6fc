"""Exact scaling by powers of two: how norms and products avoid overflow and underflow.

A product such as Heron's radicand, or a sum of squares, leaves the floating-point
range long before its square root does.  Multiplying the inputs by a power of two
first is exact (only the exponent changes), so the formula can run on numbers of
order one and the result be scaled back, without rounding anywhere.  The scale is
a constant (detached): the gradient is the formula's own, times the same exact
power of two.
"""

from __future__ import annotations

import math

import torch

__all__ = ["binary_exponent", "ldexp", "reciprocal_power_of_two"]

# (integer type, mantissa bits, exponent bias, largest normal exponent) of each float type.
_LAYOUT = {
    torch.float32: (torch.int32, 23, 127, 127),
    torch.float64: (torch.int64, 52, 1023, 1023),
}


def binary_exponent(x: torch.Tensor) -> torch.Tensor:
    r"""The integer :math:`e` with :math:`|x| = m\,2^e`, :math:`m \in [\tfrac12, 1)`; 0 where ``x`` is 0, inf or NaN.

    Detached, as a ``torch.int64`` tensor shaped like ``x`` (the exponent of
    :func:`torch.frexp`, which handles subnormal numbers).

    Examples
    --------
    >>> import torch
    >>> from symnn._exact_scale import binary_exponent
    >>> binary_exponent(torch.tensor([3.0, 0.25, 0.0, float("inf")]))
    tensor([ 2, -1,  0,  0])
    """
    x = x.detach()
    exponent = torch.frexp(x).exponent.to(torch.int64)
    return torch.where(torch.isfinite(x), exponent, torch.zeros_like(exponent))


def _power_of_two(n: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """:math:`2^n` built from its bits (exact by construction), ``n`` within the normal exponents."""
    int_dtype, mantissa_bits, bias, largest = _LAYOUT[dtype]
    n = n.to(int_dtype).clamp(1 - largest, largest)
    return ((n + bias) << mantissa_bits).view(dtype)


def reciprocal_power_of_two(s: torch.Tensor) -> torch.Tensor:
    r""":math:`2^{-e}` for the binary exponent :math:`e` of ``s`` (:math:`|s| = m\,2^e`), clamped to normal powers.

    Detached, with ``s``'s dtype and shape: :math:`|s|\,2^{-e} = m \in [\tfrac12, 1)`
    wherever :math:`2^{-e}` is a normal number, and otherwise the nearest normal power
    of two, which still brings a subnormal ``s`` to a normal number (and a huge one to
    at most 4).  1 where ``s`` is inf or NaN.  One factor, built from its bits: dividing
    ``x 2^{-e}`` by ``s 2^{-e}`` gives exactly ``x / s`` while both products stay away
    from under- and overflow, and the quotient's gradient then never forms ``1/s`` or
    ``s²``.

    Examples
    --------
    >>> import torch
    >>> from symnn._exact_scale import reciprocal_power_of_two
    >>> reciprocal_power_of_two(torch.tensor([3.0, 0.25, 1e-45, float("inf")]))
    tensor([2.5000e-01, 2.0000e+00, 1.7014e+38, 1.0000e+00])
    """
    s = s.detach()
    n = torch.where(torch.isfinite(s), -torch.frexp(s).exponent, 0)
    largest = math.frexp(torch.finfo(s.dtype).max)[1] - 1  # of a normal power of two; the smallest is 1 - it
    built = s.dtype if s.dtype in _LAYOUT else torch.float32  # half types: built in float32, exact
    return _power_of_two(n.clamp(1 - largest, largest), built).to(s.dtype)


def ldexp(x: torch.Tensor, n: torch.Tensor, pieces: int = 3) -> torch.Tensor:
    r""":math:`x\,2^n`, exact wherever the result is a normal number.

    The power is applied as ``pieces`` factors, each a normal number, so that
    :math:`2^n` itself may lie outside the range (:math:`|n|` up to ``pieces``
    times the smallest normal exponent's magnitude: 378 in float32, 3066 in float64).  The factors all
    move the value the same way, so every intermediate lies between :math:`x` and
    the result; the same holds for the gradient, which is the incoming one times
    :math:`2^n`.  float16 and bfloat16 are scaled in float32 and rounded back once.

    Parameters
    ----------
    x : Tensor
        A floating tensor.
    n : Tensor
        Integer exponents, broadcastable against ``x`` (constants: no gradient).

    Examples
    --------
    >>> import torch
    >>> from symnn._exact_scale import ldexp
    >>> ldexp(torch.tensor([3.0, 3.0], dtype=torch.float64), torch.tensor([-2, 200]))
    tensor([7.5000e-01, 4.8208e+60], dtype=torch.float64)
    """
    work = x if x.dtype in _LAYOUT else x.float()
    n = n.to(device=x.device, dtype=torch.int64)
    for remaining in range(pieces, 0, -1):
        step = torch.div(n, remaining, rounding_mode="trunc")
        work = work * _power_of_two(step, work.dtype)
        n = n - step
    return work.to(x.dtype)
