"""Wigner D matrices of e3nn irreps, accurate to rounding in float64.

e3nn's ``Irreps.D_from_matrix`` goes through Euler angles and stored generator
matrices and is accurate to about 1e-6 even in float64.  An equivariance check
at 1e-12 needs better, so :func:`wigner_d` solves ``Y(R p) = D(R) Y(p)`` for D
on a fixed, well-conditioned set of points ``p``, using e3nn's spherical
harmonics (polynomials, exact to rounding).  That is the same basis as e3nn's D.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

# Oversampling the 2l+1 unknowns keeps the least-squares solve well conditioned.
_POINTS_PER_COMPONENT = 4


def parse_irreps(irreps: Any):
    """An ``e3nn.o3.Irreps`` from a string or Irreps, with a clear error otherwise."""
    from e3nn import o3

    try:
        return o3.Irreps(irreps)
    except Exception as err:  # e3nn raises ValueError or AssertionError by version
        raise ValueError(f"not a valid e3nn irreps specification: {irreps!r} ({err})") from None


@functools.cache
def _sample_points_and_pinv(l: int) -> tuple[torch.Tensor, torch.Tensor]:
    from e3nn import o3

    gen = torch.Generator().manual_seed(1234 + l)
    points = torch.randn(_POINTS_PER_COMPONENT * (2 * l + 1), 3, generator=gen, dtype=torch.float64)
    y = o3.spherical_harmonics(l, points, normalize=False, normalization="component")
    return points, torch.linalg.pinv(y.T)  # (m, 3), (m, 2l+1)


def wigner_d(l: int, rotation: torch.Tensor) -> torch.Tensor:
    """The ``(..., 2l+1, 2l+1)`` Wigner matrix of degree ``l`` for ``(..., 3, 3)`` rotations."""
    if l == 0:
        return torch.ones((*rotation.shape[:-2], 1, 1), dtype=rotation.dtype, device=rotation.device)
    if l == 1:
        # In e3nn's l=1 basis D(R) is R itself (a test checks this against e3nn).
        return rotation
    from e3nn import o3

    points, pinv = _sample_points_and_pinv(l)
    points = points.to(dtype=rotation.dtype, device=rotation.device)
    rotated = points @ rotation.transpose(-1, -2)  # (..., m, 3)
    y = o3.spherical_harmonics(l, rotated, normalize=False, normalization="component")
    return y.transpose(-1, -2) @ pinv.to(dtype=rotation.dtype, device=rotation.device)


def apply_irreps_rotation(irreps, rotation: Any, x: torch.Tensor, what: str = "x") -> torch.Tensor:
    """Apply the block-diagonal ``D(R)`` of ``irreps`` to the last dimension of ``x``.

    ``rotation`` is ``(3, 3)`` (one rotation for every row) or ``(..., 3, 3)``
    broadcasting against ``x``'s leading dimensions (one per row).
    """
    if x.ndim == 0 or x.shape[-1] != irreps.dim:
        raise ValueError(f"irreps {irreps} have dimension {irreps.dim}; got {what} of shape {tuple(x.shape)}")
    rotation = torch.as_tensor(rotation).to(dtype=x.dtype, device=x.device)
    if rotation.shape[-2:] != (3, 3):
        raise ValueError(f"a rotation element is a (..., 3, 3) matrix; got {tuple(rotation.shape)}")
    blocks = []
    start = 0
    for mul, ir in irreps:
        width = mul * ir.dim
        chunk = x[..., start : start + width].unflatten(-1, (mul, ir.dim))
        d = wigner_d(ir.l, rotation)  # (..., dim, dim), parity plays no part in SO(3)
        blocks.append(torch.einsum("...ij,...mj->...mi", d, chunk).flatten(-2))
        start += width
    return torch.cat(blocks, dim=-1) if blocks else x
