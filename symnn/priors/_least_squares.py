"""Linear least squares that gives the same bits every time, by Householder QR in torch ops.

``torch.linalg.lstsq`` on the CPU calls LAPACK (MKL), whose vectorised loops depend on
where the input happens to sit in memory: the same data solved twice in one process
can differ in the last bits, and a zoo run with a fixed seed would not repeat.  The
design matrices here are tall and thin (thousands of rows, a handful of constants), so
a Householder QR written with torch's own element-wise ops and reductions, which do
not depend on memory alignment, costs little and is as accurate as LAPACK's.
"""

from __future__ import annotations

import torch

__all__ = ["least_squares"]


def least_squares(design: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""The :math:`c` minimising :math:`\lVert A c - b \rVert_2`, repeatable bit for bit.

    Parameters
    ----------
    design : Tensor, shape ``(n, k)``
        :math:`A`, with :math:`n \ge k` and columns that the data tell apart.
    target : Tensor, shape ``(n,)``
        :math:`b`.

    Returns
    -------
    Tensor, shape ``(k,)``

    Raises
    ------
    ValueError
        If fewer rows than columns are given, or a column is (to rounding) a linear
        combination of the others on these rows, so that the data do not determine
        its constant; the message names the column.

    Examples
    --------
    >>> import torch
    >>> from symnn.priors._least_squares import least_squares
    >>> x = torch.linspace(0, 1, 5, dtype=torch.float64)
    >>> least_squares(torch.stack([torch.ones_like(x), x], -1), 2 + 3 * x)
    tensor([2., 3.], dtype=torch.float64)
    """
    n, k = design.shape
    if n < k:
        raise ValueError(f"{n} rows cannot determine {k} constants; give at least {k} rows")
    # Columns scaled to unit largest entry: the norms below neither overflow nor
    # underflow, and the rank test compares columns on one footing.
    scale = design.abs().amax(0)
    dead = (scale == 0).nonzero()
    if len(dead):
        raise ValueError(f"column {int(dead[0])} of the design is zero on every row: the data do not fix it")
    r = design / scale
    q = target.clone()
    for j in range(k):
        column = r[j:, j]
        norm = torch.sqrt((column * column).sum())
        # The reflection sends the column to -sign(x0)·|column|·e0, so that v = column − that
        # never cancels (sign taken as + at x0 = 0).
        alpha = torch.where(column[0] < 0, norm, -norm)
        v = column.clone()
        v[0] = v[0] - alpha
        v_norm2 = (v * v).sum()
        if v_norm2 > 0:  # zero only for a zero column, caught by the rank test below
            block = r[j:, j:]
            block -= (2 / v_norm2) * v[:, None] * (v[:, None] * block).sum(0)
            q[j:] -= (2 / v_norm2) * v * (v * q[j:]).sum()
    rdiag = r.diagonal().abs()  # the alphas, up to the rounding of the last update
    # Relative rank test: a column whose new direction is below n·eps of the largest
    # one is, on these rows, a combination of the others.
    tiny = rdiag.max() * n * torch.finfo(design.dtype).eps
    dependent = (rdiag <= tiny).nonzero()
    if len(dependent):
        j = int(dependent[0])
        raise ValueError(
            f"column {j} of the design is a linear combination of the others on these rows "
            "(to rounding): the data do not determine its constant"
        )
    # Back substitution on the k×k triangle, one scalar row at a time.
    solution = torch.zeros(k, dtype=design.dtype, device=design.device)
    for i in reversed(range(k)):
        solution[i] = (q[i] - (r[i, i + 1 :] * solution[i + 1 :]).sum()) / r[i, i]
    return solution / scale
