"""Wigner D matrices of e3nn irreps (O(3), parity included) and Cartesian tensors, accurate to rounding.

e3nn's ``Irreps.D_from_matrix`` goes through Euler angles and stored generator
matrices and is accurate to about 1e-6 even in float64.  An equivariance check
at 1e-12 needs better, so :func:`wigner_d` solves ``Y(R p) = D(R) Y(p)`` for D
on a fixed, well-conditioned set of points ``p``, using e3nn's spherical
harmonics (polynomials, exact to rounding).  That is the same basis as e3nn's D.

Improper elements (det R = -1) follow e3nn's parity convention: ``R = d Q`` with
``d = det R`` and ``Q`` proper, and an irrep ``(l, p)`` transforms as
``p^[d = -1] D_l(Q)`` (so ``1o`` by ``R`` itself, ``1e`` by ``det(R) R``).
A Cartesian tensor of rank r (e3nn's formulas, ``"ij"``, ``"ij=ji"``) is stored
flattened row-major as ``3**r`` numbers and transforms with R on every index
(``Y -> R Y R^T`` for rank 2), which is the O(3) action of e3nn's
``CartesianTensor`` (parity ``(-1)**r``).
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CartesianRep:
    """A Cartesian tensor of rank ``rank`` stored flattened (row-major) as ``3**rank`` numbers.

    ``formula`` is e3nn's (``"ij"``, ``"ij=ji"``, ``"ijk=jik"``); ``irreps`` the
    e3nn irreps of its independent part (``"ij=ji"``: ``0e + 2e``).
    """

    formula: str
    rank: int
    irreps: Any

    @property
    def dim(self) -> int:
        return 3**self.rank

    def __str__(self) -> str:
        return self.formula


def _is_cartesian_formula(spec: Any) -> bool:
    # Irreps strings always contain a digit ("1o", "2x0e"); e3nn's index formulas never do.
    return isinstance(spec, str) and bool(spec.strip()) and not any(c.isdigit() for c in spec)


def parse_rep(spec: Any):
    """e3nn irreps (``"1o + 0e"``), or a :class:`CartesianRep` for an index formula (``"ij=ji"``)."""
    if isinstance(spec, CartesianRep):
        return spec
    if not _is_cartesian_formula(spec):
        return parse_irreps(spec)
    from e3nn.io import CartesianTensor

    formula = spec.replace(" ", "")
    try:
        tensor = CartesianTensor(formula)
    except Exception as err:  # e3nn raises assorted errors for a malformed formula
        raise ValueError(
            f"not a valid irreps or Cartesian tensor formula: {spec!r} ({err}); "
            'write irreps like "1o + 0e" or a formula like "ij" or "ij=ji"'
        ) from None
    indices = formula.split("=")[0]
    return CartesianRep(formula=formula, rank=len(indices), irreps=tensor)


def rep_dim(rep) -> int:
    """The width of the last dimension a representation acts on."""
    return rep.dim


@functools.cache
def _sample_points_and_pinv(l: int) -> tuple[torch.Tensor, torch.Tensor]:
    from e3nn import o3

    gen = torch.Generator().manual_seed(1234 + l)
    points = torch.randn(_POINTS_PER_COMPONENT * (2 * l + 1), 3, generator=gen, dtype=torch.float64)
    y = o3.spherical_harmonics(l, points, normalize=False, normalization="component")
    return points, torch.linalg.pinv(y.T)  # (m, 3), (m, 2l+1)


def wigner_d(l: int, rotation: torch.Tensor) -> torch.Tensor:
    """The ``(..., 2l+1, 2l+1)`` Wigner matrix of degree ``l`` for ``(..., 3, 3)`` proper rotations."""
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


def determinant_sign(rotation: torch.Tensor) -> torch.Tensor:
    """``det R`` rounded to +-1, shape ``(...)``, for ``(..., 3, 3)`` orthogonal matrices (branch-free)."""
    det = torch.linalg.det(rotation)
    return torch.where(det < 0, -torch.ones_like(det), torch.ones_like(det))


def _check_rotation(rotation: Any, x: torch.Tensor) -> torch.Tensor:
    rotation = torch.as_tensor(rotation).to(dtype=x.dtype, device=x.device)
    if rotation.ndim < 2 or rotation.shape[-2:] != (3, 3):
        raise ValueError(f"a rotation element is a (..., 3, 3) matrix; got {tuple(rotation.shape)}")
    return rotation


def apply_irreps_rotation(irreps, rotation: Any, x: torch.Tensor, what: str = "x") -> torch.Tensor:
    """Apply the block-diagonal ``D(R)`` of ``irreps`` to the last dimension of ``x``.

    ``rotation`` is ``(3, 3)`` (one rotation for every row) or ``(..., 3, 3)``
    broadcasting against ``x``'s leading dimensions (one per row); an improper one
    (det -1) acts through each irrep's parity, as in e3nn.
    """
    if x.ndim == 0 or x.shape[-1] != irreps.dim:
        raise ValueError(f"irreps {irreps} have dimension {irreps.dim}; got {what} of shape {tuple(x.shape)}")
    rotation = _check_rotation(rotation, x)
    sign = determinant_sign(rotation)  # (...): R = sign * Q with Q proper
    blocks = []
    start = 0
    for mul, ir in irreps:
        width = mul * ir.dim
        chunk = x[..., start : start + width].unflatten(-1, (mul, ir.dim))
        if ir.l == 1:
            # D(R) = R for 1o; 1e is a pseudovector: det(R) R.
            d = rotation if ir.p == -1 else rotation * sign[..., None, None]
        elif ir.l == 0:
            d = (sign if ir.p == -1 else torch.ones_like(sign))[..., None, None]
        else:
            parity = sign if ir.p == -1 else torch.ones_like(sign)
            d = wigner_d(ir.l, rotation * sign[..., None, None]) * parity[..., None, None]
        blocks.append(torch.einsum("...ij,...mj->...mi", d, chunk).flatten(-2))
        start += width
    return torch.cat(blocks, dim=-1) if blocks else x


def apply_cartesian_rotation(
    rep: CartesianRep, rotation: Any, x: torch.Tensor, what: str = "x"
) -> torch.Tensor:
    """Apply ``R`` to every index of the flattened rank-r tensors in the last dimension of ``x``."""
    if x.ndim == 0 or x.shape[-1] != rep.dim:
        raise ValueError(
            f'Cartesian tensor "{rep.formula}" is stored flattened as {rep.dim} numbers; '
            f"got {what} of shape {tuple(x.shape)}"
        )
    rotation = _check_rotation(rotation, x)
    t = x.unflatten(-1, (3,) * rep.rank)
    letters = string.ascii_lowercase
    for axis in range(rep.rank):
        # Contract index `axis` with R's second index: t'_{..a..} = R_{ab} t_{..b..}.
        idx = list(letters[: rep.rank])
        new = list(idx)
        new[axis] = "z"
        t = torch.einsum(f"...z{idx[axis]},...{''.join(idx)}->...{''.join(new)}", rotation, t)
    return t.flatten(-rep.rank) if rep.rank > 0 else t


def apply_rep_rotation(rep, rotation: Any, x: torch.Tensor, what: str = "x") -> torch.Tensor:
    """``D(R) x`` for e3nn irreps or a :class:`CartesianRep`."""
    if isinstance(rep, CartesianRep):
        return apply_cartesian_rotation(rep, rotation, x, what)
    return apply_irreps_rotation(rep, rotation, x, what)


def vector_blocks(rep) -> tuple[list[int], list[bool]]:
    """Columns of the l=1 vectors in ``rep``, ``3 * n`` of them, and whether each vector is polar.

    For irreps: every ``1o`` (polar) and ``1e`` (axial) copy; for a Cartesian rep:
    a rank-1 tensor is one polar vector, higher ranks have none.
    """
    if isinstance(rep, CartesianRep):
        return (list(range(3)), [True]) if rep.rank == 1 else ([], [])
    columns: list[int] = []
    polar: list[bool] = []
    start = 0
    for mul, ir in rep:
        if ir.l == 1:
            columns.extend(range(start, start + 3 * mul))
            polar.extend([ir.p == -1] * mul)
        start += mul * ir.dim
    return columns, polar
