"""Homogeneity by normalisation: f(x) = s^k g(x / s), s = scale(x)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from symnn._checks import check_module, check_number, check_tensor
from symnn._exact_scale import binary_exponent, ldexp, reciprocal_power_of_two
from symnn._symmetry import Parity, Permutation, Scaling, Symmetry, layer_symmetry

__all__ = ["input_scale", "scale_normalize", "ScaleNormalize"]

ScaleSpec = str | Callable[[torch.Tensor], torch.Tensor]
_SCALES = ("sum", "norm", "max")


def _order_free_sum(v: torch.Tensor) -> torch.Tensor:
    """Sum over the last dimension, bit for bit the same for every permutation of it.

    Floating-point addition is not associative, so ``(a+b)+c`` and ``(b+c)+a`` can differ
    in the last bit; summing the sorted values fixes the order.  This keeps
    ``ScaleNormalize(PermutationSort(net))`` exactly permutation invariant, not just to rounding.
    """
    return torch.sort(v, dim=-1).values.sum(-1)


def _safe_norm(x: torch.Tensor) -> torch.Tensor:
    # hypot-style: square the entries at the scale of the largest (an exact power of two,
    # detached), so that squares neither overflow nor underflow, and scale the root back.
    # Largest in [1, 2): the root's gradient, 2^(e-1) <= max|x|, never overflows.
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    e = binary_exponent(work.abs().amax(-1)) - 1
    scaled = ldexp(work, -e.unsqueeze(-1))
    squared = _order_free_sum(scaled * scaled)
    # sqrt has an infinite derivative at 0; evaluate it away from 0 and select, so that
    # the gradient (and Hessian) at x = 0 is 0 rather than NaN.  Test "== 0", not "> 0":
    # a NaN row must reach the sqrt and stay NaN.
    zero = squared == 0
    root = torch.sqrt(torch.where(zero, torch.ones_like(squared), squared))
    return ldexp(torch.where(zero, torch.zeros_like(root), root), e).to(x.dtype)


def input_scale(x: torch.Tensor, scale: ScaleSpec = "sum") -> torch.Tensor:
    r"""The non-negative scale :math:`s(x)` of each row, homogeneous of degree 1.

    ``"sum"``: :math:`\sum_i |x_i|` (the lecture's :math:`a+b+c` for positive
    lengths); ``"norm"``: :math:`\lVert x \rVert_2`; ``"max"``: :math:`\max_i |x_i|`;
    a callable: :math:`|\text{scale}(x)|`.  All are 0 only at :math:`x = 0` (a
    callable may differ) and satisfy :math:`s(\lambda x) = \lambda s(x)` for
    :math:`\lambda > 0`.  The built-in scales are also exactly (bit for bit)
    invariant under permutations and sign changes of the entries of ``x``.

    Parameters
    ----------
    x : Tensor, shape ``(..., d)``
    scale : {"sum", "norm", "max"} or callable
        A callable maps ``(..., d)`` to ``(...,)``.

    Returns
    -------
    Tensor, shape ``(...,)``

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import input_scale
    >>> x = torch.tensor([[3.0, -4.0], [0.0, 0.0]])
    >>> input_scale(x, "sum"), input_scale(x, "norm"), input_scale(x, "max")
    (tensor([7., 0.]), tensor([5., 0.]), tensor([4., 0.]))
    """
    check_tensor(x)
    if x.ndim == 0:
        raise ValueError("x must have shape (..., d); got a 0-dim tensor")
    if callable(scale):
        s = scale(x)
        if not isinstance(s, torch.Tensor) or s.shape != x.shape[:-1]:
            got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
            raise ValueError(
                f"a scale function must map (..., d) to (...,) = {tuple(x.shape[:-1])}; got {got}"
            )
        # A negative scale would flip the input; |s| keeps f(λx) = λ^k f(x) for λ > 0.
        return s.abs()
    if scale == "sum":
        return _order_free_sum(x.abs())
    if scale == "norm":
        return _safe_norm(x)
    if scale == "max":
        return x.abs().amax(-1)
    raise ValueError(f"scale must be one of {_SCALES} or a callable; got {scale!r}")


def _check_scale_spec(scale: ScaleSpec) -> ScaleSpec:
    if not callable(scale) and scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES} or a callable; got {scale!r}")
    return scale


def scale_normalize(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, degree: float, scale: ScaleSpec = "sum"
) -> torch.Tensor:
    r"""Evaluate ``fn`` on the scale-free input and restore the scale: :math:`s^k g(x/s)`.

    Guarantee: :math:`f(\lambda x) = \lambda^k f(x)` for every :math:`\lambda > 0`,
    to rounding (the normalised input :math:`x/s` is the same up to a few ulps).

    At zero scale, :math:`s = 0` (only :math:`x = 0` for the built-in scales), there
    is no direction to normalise.  The value is then a fixed convention, with a zero
    gradient (and Hessian) there, never NaN:

    - :math:`k > 0`: 0, the limit along every ray for a bounded ``fn``;
    - :math:`k = 0`: :math:`g(0)`; :math:`f` is constant on each ray, so no limit exists;
    - :math:`k < 0`: a pole, :math:`+\infty \cdot \operatorname{sign} g(0)`, and
      :math:`+\infty` when :math:`g(0) = 0`.

    Negative scales cannot occur: the built-in scales are norms, and a custom scale is
    taken by absolute value, which keeps :math:`|s(\lambda x)| = \lambda |s(x)|` for
    :math:`\lambda > 0`.  NaN in ``x`` gives NaN in its row of the output.

    Parameters
    ----------
    fn : callable
        The network :math:`g`, mapping ``(..., d)`` to ``(..., *out)``.
    x : Tensor, shape ``(..., d)``
    degree : float
        The degree of homogeneity :math:`k`.
    scale : {"sum", "norm", "max"} or callable
        See :func:`input_scale`.

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import scale_normalize
    >>> area = lambda u: u.prod(-1, keepdim=True)  # any g
    >>> x = torch.tensor([[1.0, 2.0]])
    >>> scale_normalize(area, 3 * x, degree=2) / scale_normalize(area, x, degree=2)
    tensor([[9.]])
    """
    degree = check_number(degree, "degree")
    s = input_scale(x, _check_scale_spec(scale))
    # Test "s == 0", not "not s > 0": a NaN scale must flow on into the output as NaN.
    zero = s == 0
    # Divide by a safe stand-in where s = 0 and select afterwards: where() must never
    # hold a NaN or inf branch, or its gradient is NaN.
    s_safe = torch.where(zero, torch.ones_like(s), s)
    # Divide at the scale's own exponent (one exact power of two, detached, clamped to the
    # normal range), which gives the same quotient: for a subnormal s, 1/s overflows, and
    # so would the quotient's gradient.  One shared factor, not a split ldexp per operand:
    # this runs on every training step, and each extra op there costs as much as a
    # 128-wide layer on a few hundred rows.
    p = reciprocal_power_of_two(s_safe)
    u = (x * p.unsqueeze(-1)) / (s_safe * p).unsqueeze(-1)
    u = torch.where(zero.unsqueeze(-1), torch.zeros_like(x), u)
    y = fn(u)
    if not isinstance(y, torch.Tensor) or y.shape[: s.ndim] != s.shape:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"fn must keep the leading shape {tuple(s.shape)} of x; got output {got}")
    if degree == 0:
        return y
    expand = (1,) * (y.ndim - s.ndim)
    zero = zero.reshape(zero.shape + expand)
    factor = (s_safe**degree).reshape(s.shape + expand).to(y.dtype)
    if degree > 0:
        # 0 * g(0), not a bare 0: a net that is NaN or inf at 0 is not hidden.
        return torch.where(zero, torch.zeros_like(factor), factor) * y
    # The pole at s = 0: sign(g(0)) * inf, +inf where g(0) = 0 (inf * 0 would be NaN), NaN
    # where g(0) is NaN.  It is a constant (detached) so no inf reaches the gradient.
    pole = torch.where(y == 0, torch.ones_like(y), y).detach().sign() * math.inf
    return torch.where(zero, pole, factor * y)


class ScaleNormalize(nn.Module):
    r"""Make any network homogeneous of degree :math:`k`: :math:`f(x) = s^k\,g(x/s)`.

    Guarantee: :math:`f(\lambda x) = \lambda^k f(x)` for all :math:`\lambda > 0`, to
    rounding; :math:`g` only ever sees inputs of unit scale, so a model trained on
    small triangles is right for large ones.  At :math:`s = 0` the output is the
    documented convention of :func:`~symnn.functional.scale_normalize` (0 for
    :math:`k > 0`, with zero gradient), never NaN; a custom scale is taken by
    absolute value.  NaN in gives NaN out.

    Parameters
    ----------
    net : nn.Module
        The wrapped network :math:`g`.
    degree : float
        :math:`k`: 2 for an area from lengths, 1 for a length, 0 for an angle.
    scale : {"sum", "norm", "max"} or callable
        How :math:`s` is measured (:func:`~symnn.functional.input_scale`); the
        lecture uses ``"sum"``, :math:`s = a + b + c`.

    Shapes
    ------
    ``(..., d) -> (..., *out)``.

    Examples
    --------
    >>> import torch, symnn
    >>> tri = symnn.ScaleNormalize(symnn.PermutationSort(symnn.MLP(3, 1)), degree=2).double()
    >>> x = torch.rand(5, 3, dtype=torch.float64)
    >>> torch.allclose(tri(10 * x), 100 * tri(x))
    True
    """

    def __init__(self, net: nn.Module, degree: float, scale: ScaleSpec = "sum") -> None:
        super().__init__()
        self.net = check_module(net)
        self.degree = check_number(degree, "degree")
        self.scale = _check_scale_spec(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale_normalize(self.net, x, self.degree, self.scale)

    @property
    def symmetry(self) -> Symmetry | None:
        """The wrapped net's parity and permutation symmetries (kept: the built-in scales are
        invariant under sign flips and permutations, bit for bit), times ``Scaling(degree)``."""
        keeps = (Parity, Permutation) if isinstance(self.scale, str) else ()
        return layer_symmetry(Scaling(self.degree), self.net, keeps)

    def extra_repr(self) -> str:
        scale = self.scale if isinstance(self.scale, str) else getattr(self.scale, "__name__", "custom")
        return f"degree={self.degree:g}, scale={scale!r}"
