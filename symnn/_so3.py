"""Rotation vectors and rotation matrices: hat, vee, exp and log on SO(3)."""

from __future__ import annotations

import torch
from torch import nn

from symnn._checks import check_tensor

__all__ = ["hat", "vee", "so3_exp", "so3_log", "SO3Exp"]

# Taylor coefficients in t = θ² (so no square root near 0, where its derivative blows up):
#   A(t) = sin θ / θ        = Σ (-t)^n / (2n+1)!
#   B(t) = (1 - cos θ) / θ² = Σ (-t)^n / (2n+2)!
_A_SERIES = (1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040)
_B_SERIES = (1.0 / 2, -1.0 / 24, 1.0 / 720, -1.0 / 40320)

# Below t = θ² < threshold the series is used.  The closed forms lose about ε/θ² of
# relative accuracy in their second derivative (cancellation in θ cos θ - sin θ), so the
# threshold is as large as the four-term series allows in each precision: the omitted
# term t⁴/9! stays below the dtype's rounding there.
_SERIES_THRESHOLD = {torch.float64: 1e-3, torch.float32: 0.12}


def _series_threshold(dtype: torch.dtype) -> float:
    return _SERIES_THRESHOLD.get(dtype, _SERIES_THRESHOLD[torch.float32])


def _horner(t: torch.Tensor, coefficients: tuple[float, ...]) -> torch.Tensor:
    result = torch.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = result * t + c
    return result


def hat(v: torch.Tensor) -> torch.Tensor:
    r"""The skew-symmetric matrix of a vector: :math:`\hat v\,w = v \times w`.

    .. math::

        \hat v = \begin{bmatrix} 0 & -v_3 & v_2 \\ v_3 & 0 & -v_1 \\ -v_2 & v_1 & 0 \end{bmatrix}

    Parameters
    ----------
    v : Tensor, shape ``(..., 3)``

    Returns
    -------
    Tensor, shape ``(..., 3, 3)``

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import hat
    >>> hat(torch.tensor([1.0, 2.0, 3.0]))
    tensor([[ 0., -3.,  2.],
            [ 3.,  0., -1.],
            [-2.,  1.,  0.]])
    """
    check_tensor(v, "v", last_dim=3)
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).unflatten(-1, (3, 3))


def vee(m: torch.Tensor) -> torch.Tensor:
    r"""The vector of the skew-symmetric part of a matrix, the inverse of :func:`hat`.

    .. math:: \operatorname{vee}(M) = \tfrac12 (M_{32} - M_{23},\; M_{13} - M_{31},\; M_{21} - M_{12})

    so ``vee(hat(v)) == v`` exactly, and the symmetric part of ``M`` is ignored.

    Parameters
    ----------
    m : Tensor, shape ``(..., 3, 3)``

    Returns
    -------
    Tensor, shape ``(..., 3)``

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import hat, vee
    >>> vee(hat(torch.tensor([1.0, 2.0, 3.0])))
    tensor([1., 2., 3.])
    """
    check_tensor(m, "m")
    if m.ndim < 2 or m.shape[-2:] != (3, 3):
        raise ValueError(f"m must have shape (..., 3, 3); got {tuple(m.shape)}")
    return 0.5 * torch.stack(
        (m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]), dim=-1
    )


def so3_exp(v: torch.Tensor) -> torch.Tensor:
    r"""Rotation vector to rotation matrix, :math:`R = \exp(\hat v)` (Rodrigues' formula).

    .. math::

        R = \cos\theta\, I + \frac{\sin\theta}{\theta}\,\hat v
            + \frac{1 - \cos\theta}{\theta^2}\, v v^\top, \qquad \theta = \lVert v \rVert

    Guarantee: :math:`R^\top R = I` and :math:`\det R = 1` to rounding for any
    finite ``v``.  Value, gradient and Hessian are finite and accurate everywhere,
    exactly zero included: below a small angle the coefficients come from their
    Taylor series in :math:`\theta^2` (no square root), selected branch-free so
    ``torch.func`` and ``torch.compile`` work.

    Parameters
    ----------
    v : Tensor, shape ``(..., 3)``
        Axis times angle in radians; any length.

    Returns
    -------
    Tensor, shape ``(..., 3, 3)``

    Examples
    --------
    >>> import math, torch
    >>> from symnn.functional import so3_exp
    >>> R = so3_exp(torch.tensor([0.0, 0.0, math.pi / 2]))
    >>> R.round(decimals=6) + 0.0
    tensor([[ 0., -1.,  0.],
            [ 1.,  0.,  0.],
            [ 0.,  0.,  1.]])
    """
    check_tensor(v, "v", last_dim=3)
    t = (v * v).sum(-1)
    small = t < _series_threshold(v.dtype)
    # The closed forms are evaluated at a harmless stand-in where t is small, so the
    # branch where() discards is finite and its gradient is not NaN.
    theta = torch.sqrt(torch.where(small, torch.ones_like(t), t))
    sin_half = torch.sin(0.5 * theta)
    cos_half = torch.cos(0.5 * theta)
    # Half-angle forms: 1 - cos θ = 2 sin²(θ/2) has no cancellation at small θ.
    a = torch.where(small, _horner(t, _A_SERIES), 2.0 * sin_half * cos_half / theta)
    b = torch.where(small, _horner(t, _B_SERIES), 2.0 * (sin_half / theta) ** 2)
    c = 1.0 - b * t  # cos θ
    av = a.unsqueeze(-1) * v
    bv = b.unsqueeze(-1) * v
    outer = bv.unsqueeze(-1) * v.unsqueeze(-2)
    x, y, z = av.unbind(-1)
    skew_plus_diag = torch.stack((c, -z, y, z, c, -x, -y, x, c), dim=-1).unflatten(-1, (3, 3))
    return outer + skew_plus_diag


def so3_log(r: torch.Tensor) -> torch.Tensor:
    r"""Rotation matrix to rotation vector, the inverse of :func:`so3_exp` with angle in :math:`[0, \pi]`.

    .. math::

        \theta = \operatorname{atan2}(\lVert w \rVert, \tfrac12(\operatorname{tr} R - 1)),
        \qquad w = \operatorname{vee}(R), \qquad v = \frac{\theta}{\sin\theta}\, w

    Near :math:`\theta = 0` the factor :math:`\theta / \sin\theta` comes from its series
    (finite gradient at the identity); near :math:`\theta = \pi`, where :math:`w`
    vanishes, the axis is read from the symmetric part
    :math:`\tfrac12(R + R^\top) - \cos\theta\, I = (1 - \cos\theta)\, u u^\top`.
    At exactly :math:`\pi` both :math:`\pm\pi u` are logarithms; one is returned.

    Parameters
    ----------
    r : Tensor, shape ``(..., 3, 3)``
        Rotation matrices.

    Returns
    -------
    Tensor, shape ``(..., 3)``

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import so3_exp, so3_log
    >>> v = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    >>> torch.allclose(so3_log(so3_exp(v)), v)
    True
    """
    check_tensor(r, "r")
    if r.ndim < 2 or r.shape[-2:] != (3, 3):
        raise ValueError(f"r must have shape (..., 3, 3); got {tuple(r.shape)}")
    w = vee(r)  # sin θ · u
    cos_theta = 0.5 * (r.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0)
    s2 = (w * w).sum(-1)  # sin² θ
    threshold = _series_threshold(r.dtype)
    small = (s2 < threshold) & (cos_theta > 0)
    sin_theta = torch.sqrt(torch.where(small, torch.ones_like(s2), s2))
    theta = torch.atan2(sin_theta, cos_theta)
    # θ / sin θ as a series in sin² θ (valid for θ < π/2): arcsin(s)/s.
    ratio_series = _horner(s2, (1.0, 1.0 / 6, 3.0 / 40, 5.0 / 112))
    theta_small = torch.where(small, ratio_series, torch.ones_like(s2))  # placeholder value
    near_pi = cos_theta < -0.5
    safe_sin = torch.where(small | near_pi, torch.ones_like(sin_theta), sin_theta)
    ratio = torch.where(small, theta_small, theta / safe_sin)
    v_regular = ratio.unsqueeze(-1) * w

    # Near π: axis from the column of the symmetric part with the largest diagonal.
    sym_part = 0.5 * (r + r.transpose(-1, -2))
    eye = torch.eye(3, dtype=r.dtype, device=r.device)
    outer = sym_part - cos_theta[..., None, None] * eye  # (1 - cos θ) u uᵀ
    diag = outer.diagonal(dim1=-2, dim2=-1)
    k = diag.argmax(dim=-1, keepdim=True)
    column = outer.gather(-1, k.unsqueeze(-2).expand(*outer.shape[:-1], 1)).squeeze(-1)
    pivot = diag.gather(-1, k).squeeze(-1)
    norm_sq = pivot * (1.0 - cos_theta)
    safe_norm_sq = torch.where(near_pi & (norm_sq > 0), norm_sq, torch.ones_like(norm_sq))
    axis = column / torch.sqrt(safe_norm_sq).unsqueeze(-1)
    # Orient the axis with w (sin θ u), whose sign survives until θ = π itself.
    sign = torch.where((axis * w).sum(-1) < 0, -1.0, 1.0).to(r.dtype)
    full_theta = torch.atan2(torch.sqrt(torch.where(near_pi, s2, torch.ones_like(s2))), cos_theta)
    v_near_pi = (sign * full_theta).unsqueeze(-1) * axis
    return torch.where(near_pi.unsqueeze(-1), v_near_pi, v_regular)


class SO3Exp(nn.Module):
    r"""An output head that always returns a rotation: :math:`v \mapsto R = \exp(\hat v)`.

    Guarantee: :math:`R^\top R = I` and :math:`\det R = 1` to rounding, for every input;
    value, gradient and Hessian finite and accurate at :math:`v = 0`.  Put it after a
    network with 3 outputs.  See :func:`symnn.functional.so3_exp`.

    Shapes
    ------
    ``(..., 3) -> (..., 3, 3)``.

    Examples
    --------
    >>> import torch, symnn
    >>> model = torch.nn.Sequential(symnn.MLP(6, 3), symnn.SO3Exp())
    >>> R = model(torch.randn(10, 6))
    >>> R.shape
    torch.Size([10, 3, 3])
    >>> bool((R.transpose(-1, -2) @ R - torch.eye(3)).abs().max() < 1e-5)
    True
    """

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return so3_exp(v)
