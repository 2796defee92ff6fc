r"""Frame averaging: any backbone made exactly rotation-equivariant (Puny et al. 2022).

A *frame* is a set of orthogonal matrices :math:`\mathcal F(x)` computed from the
input that moves with it, :math:`\mathcal F(R\cdot x) = R\,\mathcal F(x)`.  Then

.. math:: f(x) = \frac{1}{|\mathcal F(x)|} \sum_{F \in \mathcal F(x)} D_\text{out}(F)\,
          g\big(D_\text{in}(F)^{-1} x\big)

is equivariant for any network :math:`g`: the network only ever sees the input in
coordinates attached to the cloud itself.

The frame here comes from the second moment of the input's vectors,
:math:`C = \sum_k v_k v_k^\top` (``1o`` and ``1e`` blocks of the irreps): it
transforms as :math:`C \mapsto R C R^\top`, so its eigenvectors move with the
cloud up to a sign each.  Averaging over every sign choice removes that
ambiguity: 4 frames of determinant +1 for :math:`SO(3)`, all 8 for :math:`O(3)`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from symnn._checks import check_module, check_tensor
from symnn._symmetry import Rotation
from symnn._wigner import vector_blocks

__all__ = ["frame_average", "cloud_frames", "FrameAverage"]


class _RegularisedEigh(torch.autograd.Function):
    """``torch.linalg.eigh`` whose backward stays finite at repeated eigenvalues.

    The exact gradient has factors :math:`1/(\\lambda_j - \\lambda_i)`; here they are
    :math:`\\Delta/(\\Delta^2 + \\epsilon)` with :math:`\\epsilon = (u\\,s)^2 + \\text{tiny}`,
    ``u`` the dtype's unit roundoff and ``s`` the largest :math:`|\\lambda|`.  For
    gaps above :math:`\\sqrt\\epsilon` (every gap that rounding can resolve) this is
    the exact gradient to relative :math:`\\epsilon/\\Delta^2`; at an exact tie the
    factor is 0 (the rotation inside the eigenspace, which the tie leaves
    undefined, gets no gradient).  The backward is written in differentiable
    operations, so second derivatives work too.
    """

    @staticmethod
    def forward(ctx: Any, matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        values, vectors = torch.linalg.eigh(matrix)
        ctx.save_for_backward(values, vectors)
        return values, vectors

    @staticmethod
    def backward(ctx: Any, grad_values: torch.Tensor, grad_vectors: torch.Tensor) -> torch.Tensor:
        values, vectors = ctx.saved_tensors
        finfo = torch.finfo(values.dtype)
        scale = values.detach().abs().amax(dim=-1, keepdim=True).unsqueeze(-1)
        eps = (finfo.eps * scale) ** 2 + finfo.tiny
        gap = values.unsqueeze(-2) - values.unsqueeze(-1)  # gap[i, j] = lambda_j - lambda_i
        # The diagonal is masked by a product, not left as 0/eps: the derivative of
        # gap/(gap^2 + eps) at gap = 0 is 1/eps, which would wreck second derivatives.
        off_diagonal = 1.0 - torch.eye(values.shape[-1], dtype=values.dtype, device=values.device)
        factor = gap / (gap * gap + eps) * off_diagonal
        inner = vectors.transpose(-1, -2) @ grad_vectors
        middle = factor * inner + torch.diag_embed(grad_values)
        grad = vectors @ middle @ vectors.transpose(-1, -2)
        return 0.5 * (grad + grad.transpose(-1, -2))


def _sign_patterns(improper: bool, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(m, 3)`` column signs: all 8 for O(3); for SO(3) the 4 with product +1."""
    signs = torch.tensor(list(itertools.product((1.0, -1.0), repeat=3)), dtype=dtype, device=device)
    return signs if improper else signs[signs.prod(dim=-1) > 0]


def cloud_frames(vectors: torch.Tensor, improper: bool = False) -> torch.Tensor:
    r"""The frames of a cloud of vectors: ``(..., n, 3) -> (m, ..., 3, 3)``.

    The columns of each frame are the eigenvectors of :math:`C = \sum_k v_k v_k^\top`
    (ascending eigenvalues) with every sign choice: ``m = 4`` frames of determinant
    +1 (``improper=False``) or all ``m = 8`` (``improper=True``).

    Guarantee: for orthogonal :math:`R` (proper when ``improper=False``) and a cloud
    whose :math:`C` has three distinct eigenvalues, the frames of :math:`R v` are
    :math:`R F` for the frames :math:`F` of :math:`v`, as a set, to rounding
    (relative :math:`u / \text{gap}`).

    At a tie (two equal eigenvalues: a cloud symmetric about an axis, a collinear
    cloud, a single vector; or all three: a zero cloud) the eigenvectors inside the
    tied eigenspace are whatever LAPACK returns, so the frame no longer moves with
    the cloud; values stay finite and gradients finite (see
    :class:`FrameAverage` for the errors measured there).  Non-finite entries of
    ``vectors`` are read as 0 here (the caller's input carries the NaN on).

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import cloud_frames
    >>> frames = cloud_frames(torch.randn(7, 5, 3, dtype=torch.float64))
    >>> frames.shape
    torch.Size([4, 7, 3, 3])
    >>> torch.allclose(torch.linalg.det(frames), torch.ones(4, 7, dtype=torch.float64))
    True
    """
    check_tensor(vectors, "vectors")
    if vectors.ndim < 2 or vectors.shape[-1] != 3:
        raise ValueError(f"vectors must have shape (..., n, 3); got {tuple(vectors.shape)}")
    finite = torch.isfinite(vectors)
    safe = torch.where(finite, vectors, torch.zeros_like(vectors))
    moment = safe.transpose(-1, -2) @ safe  # (..., 3, 3), symmetric by construction
    _, basis = _RegularisedEigh.apply(moment)
    signs = _sign_patterns(improper, vectors.dtype, vectors.device)  # (m, 3)
    if not improper:
        # Fix det = +1: flip the last column by det(basis) (which is +-1 to rounding).
        det = torch.linalg.det(basis.detach())
        flip = torch.where(det < 0, -torch.ones_like(det), torch.ones_like(det))
        column = torch.stack([torch.ones_like(flip), torch.ones_like(flip), flip], dim=-1)  # (..., 3)
        basis = basis * column.unsqueeze(-2)
    signs = signs.reshape(signs.shape[0], *([1] * (basis.ndim - 2)), 1, 3)
    return basis.unsqueeze(0) * signs


def _check_rotation(sym: Any, who: str) -> Rotation:
    if not isinstance(sym, Rotation):
        raise TypeError(f"{who} needs a symnn.Rotation symmetry; got {type(sym).__name__}")
    return sym


def _vector_columns(sym: Rotation) -> tuple[list[int], list[bool]]:
    """The input columns holding vectors, and which vectors are polar; an error if there are none."""
    columns, polar = vector_blocks(sym.irreps_in)
    if not columns:
        raise ValueError(
            f"frame averaging builds its frames from the input's vectors (1o or 1e irreps, or a "
            f'Cartesian "i"), but {sym!r} has no vector part in its input "{sym.irreps_in}"'
        )
    return columns, polar


def _cloud(sym: Rotation, x: torch.Tensor, center: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` (centred if asked) and its vectors ``(..., n, 3)``."""
    columns, polar = _vector_columns(sym)
    index = torch.tensor(columns, device=x.device)
    vectors = x[..., index].unflatten(-1, (len(polar), 3))
    if center:
        is_polar = torch.tensor(polar, device=x.device)
        if not bool(is_polar.any()):
            raise ValueError(
                f"center=True subtracts the centroid of the polar vectors (1o), but "
                f'"{sym.irreps_in}" has none'
            )
        weight = is_polar.to(x.dtype).unsqueeze(-1)  # (n, 1)
        centroid = (vectors * weight).sum(dim=-2, keepdim=True) / weight.sum()
        vectors = vectors - weight * centroid
        x = x.index_copy(x.ndim - 1, index, vectors.flatten(-2))  # out of place, differentiable
    return x, vectors


def frame_average(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sym: Rotation,
    *,
    center: bool = False,
    batch_frames: bool = True,
) -> torch.Tensor:
    r"""Average ``fn`` over the frames of ``x``: :math:`f(x) = \frac1m \sum_F D_\text{out}(F)\, g(D_\text{in}(F)^\top x)`.

    Guarantee: :math:`f(D_\text{in}(R)\,x) = D_\text{out}(R)\,f(x)` for every
    :math:`R \in SO(3)` (``sym.improper=False``, 4 frames) or :math:`O(3)`
    (``sym.improper=True``, 8 frames), to rounding, for inputs whose vectors'
    second moment has distinct eigenvalues; with ``center=True`` also
    :math:`f` is unchanged when every polar (``1o``) vector of the input moves by
    the same translation (:math:`E(3)`).

    Parameters
    ----------
    fn : callable
        The backbone, ``(..., irreps_in.dim) -> (..., irreps_out.dim)``.
    x : Tensor, shape ``(..., sym.irreps_in.dim)``
    sym : Rotation
        How input and output transform; the input's ``1o``/``1e`` blocks (or a
        Cartesian ``"i"``) are the cloud the frames come from; scalars and higher
        irreps are features, rotated into the frame with everything else.
    center : bool
        Subtract the centroid of the polar vectors first.
    batch_frames : bool
        Call ``fn`` once on all frames stacked along the batch (default), or once
        per frame; the same to rounding (``benchmarks/bench_frame_average.py``
        times both).

    Examples
    --------
    >>> import torch, symnn
    >>> from symnn.functional import frame_average
    >>> sym = symnn.Rotation("3x1o", "1o")
    >>> fn = lambda x: x[..., :3] * x[..., 3:4]        # not equivariant
    >>> x = torch.randn(2, 9, dtype=torch.float64)
    >>> R = sym.sample(1, torch.Generator().manual_seed(1))[0]
    >>> torch.allclose(frame_average(fn, sym.act_input(R, x), sym), sym.act_output(R, frame_average(fn, x, sym)))
    True
    """
    sym = _check_rotation(sym, "frame_average")
    check_tensor(x)
    width = sym.irreps_in.dim
    if x.ndim == 0 or x.shape[-1] != width:
        raise ValueError(
            f'the input of {sym!r} is "{sym.irreps_in}", {width} numbers wide; got x of shape {tuple(x.shape)}'
        )
    x, vectors = _cloud(sym, x, center)
    # Frames and rotations run in at least float64: a float32 frame would add its own
    # rounding, amplified by 1/gap, on top of the input's (measured: 3e-5 against 4e-6).
    wide = torch.promote_types(x.dtype, torch.float64)
    frames = cloud_frames(vectors.to(wide), improper=sym.improper)  # (m, ..., 3, 3)
    expanded = x.to(wide).unsqueeze(0).expand(frames.shape[0], *x.shape)
    local = sym.act_input(frames.transpose(-1, -2), expanded).to(x.dtype)
    if batch_frames:
        out = fn(local.reshape(-1, width))
        if out.ndim == 2 and out.shape[0] == local[..., 0].numel():
            out = out.reshape(*local.shape[:-1], out.shape[-1])
    else:
        out = torch.stack([fn(part) for part in local.unbind(0)])
    expected = sym.irreps_out.dim
    if out.shape[:-1] != local.shape[:-1] or out.shape[-1] != expected:
        raise ValueError(
            f'the output of {sym!r} is "{sym.irreps_out}", {expected} numbers wide, but the network '
            f"returned shape {tuple(out.shape[1:])} for an input of shape {tuple(x.shape)}"
        )
    return sym.act_output(frames, out.to(wide)).mean(dim=0).to(out.dtype)


class FrameAverage(nn.Module):
    r"""Make any network exactly rotation-equivariant by averaging over the input's frames.

    .. math:: f(x) = \frac1m \sum_{F \in \mathcal F(x)} D_\text{out}(F)\, g\big(D_\text{in}(F)^\top x\big)

    Guarantee: :math:`f(D_\text{in}(R)\,x) = D_\text{out}(R)\,f(x)` for all
    :math:`R \in SO(3)` (or :math:`O(3)` with ``Rotation(..., improper=True)``),
    to rounding, for any backbone :math:`g` (Puny et al. 2022, "Frame averaging
    for invariant and equivariant network design").  The frames :math:`\mathcal F`
    are the eigenvectors of the input vectors' second moment
    :math:`C = \sum_k v_k v_k^\top` with every choice of signs (``m = 4`` of
    determinant +1 for SO(3), ``m = 8`` for O(3)); see :func:`symnn.functional.cloud_frames`.
    Costs ``m`` backbone calls, made as one batched call by default.

    Which numbers are the cloud: every ``1o`` and ``1e`` block of ``irreps_in``
    (``1e`` enters :math:`C` like ``1o``: :math:`v v^\top` is the same for
    :math:`\pm v`), or a Cartesian ``"i"`` input.  Scalars and other irreps are
    features: rotated into the frame with the rest and given to :math:`g`.  An
    input with no vector part raises ``ValueError``.

    Degenerate inputs, where the frame is not defined by the cloud.  Values and
    first derivatives stay finite (the eigen-solver's backward is regularised at
    ties).  The worst relative equivariance error measured (float64, 3 vectors in,
    ``MLP(9, k, hidden=(32, 32))`` backbones from 3 seeds, 16 random rotations,
    ``symnn.testing.equivariance_error``; ``benchmarks/frame_average_degenerate.py``
    prints them, ``tests/test_frame.py`` re-checks the exact cases):

    - two tied, e.g. :math:`C = \mathrm{diag}(1, 1, 4)`: ``0e`` 7e-2, ``1o`` 1.0, ``ij`` 1.6;
    - equilateral triangle (a tie, 3-fold axis): 0.13, 14 (relative to an output
      that nearly cancels), 1.7;
    - all three tied (orthonormal vectors): 0.12, 2.6, 1.8;
    - collinear, or one nonzero vector (0, 0, λ): 1e-15, 1e-14, 1.7;
    - zero cloud (:math:`C = 0`): 0, 0, 1.8;
    - near tie, gap 1e-6: 1e-11, 3e-10, 4e-10.

    A collinear cloud looks the same in every frame about its axis, so invariant
    and vector outputs stay exact; a rank-2 output's two in-plane diagonal entries
    then depend on the arbitrary in-plane axes.  The zero cloud's vector output
    is exactly 0 (the signed frames cancel).  Near a tie the error grows like
    :math:`u/\text{gap}` and gradients like :math:`1/\text{gap}`.

    For float32 (or lower) inputs the frames and rotations are computed in
    float64 and the backbone runs in the input's dtype; the output has the
    input's dtype.

    Parameters
    ----------
    net : nn.Module
        The backbone, ``(..., irreps_in.dim) -> (..., irreps_out.dim)``.
    sym : Rotation
        Input and output representations, e.g. ``Rotation("5x0e + 5x1o", "ij=ji", improper=True)``.
    center : bool
        Subtract the centroid of the polar (``1o``) vectors first, for
        translation invariance as well (E(3)).
    batch_frames : bool
        One backbone call over all frames (default) or one per frame.

    Shapes
    ------
    ``(..., irreps_in.dim) -> (..., irreps_out.dim)``.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.Rotation("5x0e + 5x1o", "ij=ji", improper=True)
    >>> model = symnn.FrameAverage(symnn.MLP(20, 9), sym).double()
    >>> x = torch.randn(4, 20, dtype=torch.float64)
    >>> symnn.testing.equivariance_error(model, sym, x) < 1e-12
    True
    """

    def __init__(
        self, net: nn.Module, sym: Rotation, center: bool = False, batch_frames: bool = True
    ) -> None:
        super().__init__()
        self.net = check_module(net)
        self.sym = _check_rotation(sym, "FrameAverage")
        _vector_columns(self.sym)  # a clear error now rather than at the first call
        self.center = bool(center)
        self.batch_frames = bool(batch_frames)

    @property
    def symmetry(self) -> Rotation:
        """The symmetry guaranteed: ``sym`` (rotations, and reflections if ``sym.improper``)."""
        return self.sym

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return frame_average(self.net, x, self.sym, center=self.center, batch_frames=self.batch_frames)

    def extra_repr(self) -> str:
        frames = 8 if self.sym.improper else 4
        return f"sym={self.sym!r}, frames={frames}, center={self.center}, batch_frames={self.batch_frames}"
