r"""Diagnostics of training: can the parameters deliver the change the loss asks for?

The lecture's closing perspective: for outputs :math:`F = f_\theta(x)` the gradient is

.. math:: \frac{\partial L}{\partial \theta} = J^\top g,\qquad
          g = \frac{\partial L}{\partial F},\quad J = \frac{\partial F}{\partial \theta},

an inner product of what the loss asks of the outputs and what the parameters can do
to them.  Training stalls where the two are orthogonal: a large loss whose :math:`g`
lies outside the range of :math:`J` (the "zero gradient at an unfavourable place").
Each bias changes one factor: the loss (:math:`g`), the model (:math:`J`) or the
inner product.  :func:`gradient_alignment` measures the fraction of :math:`g` in the
range of :math:`J`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from symnn._checks import check_module, check_tensor

__all__ = ["gradient_alignment", "GradientAlignment"]

_METHODS = ("auto", "exact", "sketch")
_AUTO_EXACT_ENTRIES = 2**22  # auto: the exact Jacobian up to about 4M entries (32 MB in float64)


@dataclass(frozen=True)
class GradientAlignment:
    """What :func:`gradient_alignment` found on one probe batch.

    Attributes
    ----------
    fraction : float
        :math:`\\|J J^+ g\\| / \\|g\\|` in [0, 1] (the sketch: a lower estimate); 1 when
        :math:`g = 0` (nothing is asked, so nothing is missed).
    loss : float
        The loss on the probe batch.
    grad_norm : float
        :math:`\\|J^\\top g\\| = \\|\\partial L/\\partial\\theta\\|`, the gradient norm.
    output_grad_norm : float
        :math:`\\|g\\|`, what the loss asks of the outputs.
    rank : int
        The numerical rank of :math:`J` (``"exact"``) or of the sketched basis (``"sketch"``).
    outputs, parameters : int
        :math:`J`'s shape: output entries of the probe batch and trainable parameters.
    method : str
        ``"exact"`` or ``"sketch"``.
    """

    fraction: float
    loss: float
    grad_norm: float
    output_grad_norm: float
    rank: int
    outputs: int
    parameters: int
    method: str

    def __repr__(self) -> str:
        return (
            f"GradientAlignment(fraction={self.fraction:.4f}, loss={self.loss:.4g}, "
            f"grad_norm={self.grad_norm:.4g}, method={self.method!r}, rank={self.rank} "
            f"of J {self.outputs}x{self.parameters})"
        )


def _jacobian(
    output: torch.Tensor, params: list[torch.Tensor], vectorize: bool, seeds: torch.Tensor | None = None
) -> torch.Tensor:
    """``S J``, ``(k, p)``: one vector-Jacobian product per row of ``seeds`` ``(k, m)`` (default: J itself)."""
    m = output.numel()
    if seeds is None:
        seeds = torch.eye(m, dtype=output.dtype, device=output.device)
    k = seeds.shape[0]
    seeds = seeds.reshape(k, *output.shape)
    if vectorize:
        rows = torch.autograd.grad(
            output, params, seeds, retain_graph=True, is_grads_batched=True, allow_unused=True
        )
        blocks = [
            torch.zeros(k, p.numel(), dtype=output.dtype, device=output.device)
            if r is None
            else r.reshape(k, -1)
            for r, p in zip(rows, params)
        ]
        return torch.cat(blocks, dim=1)
    return torch.stack([_flat_grad(output, params, seed) for seed in seeds])


def _left_singular(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Left singular vectors and singular values of a wide ``(k, p)`` matrix, through a QR of its
    transpose (``A^T = Q R``, so ``A = R^T Q^T`` and ``A``'s SVD is ``R^T``'s): an SVD of ``k x k``."""
    if rows.shape[0] >= rows.shape[1]:
        left, singular, _ = torch.linalg.svd(rows, full_matrices=False)
        return left, singular
    r = torch.linalg.qr(rows.mT).R
    left, singular, _ = torch.linalg.svd(r.mT)
    return left, singular


def _flat_grad(output: torch.Tensor, params: list[torch.Tensor], seed: torch.Tensor) -> torch.Tensor:
    grads = torch.autograd.grad(output, params, seed, retain_graph=True, allow_unused=True)
    return torch.cat(
        [torch.zeros_like(p).reshape(-1) if g is None else g.reshape(-1) for g, p in zip(grads, params)]
    )


def _generator_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _sketch(output: torch.Tensor, params: list[torch.Tensor], directions: torch.Tensor) -> torch.Tensor:
    """``J Ω`` for the columns of ``directions`` ``(p, k)``, ``(m, k)``, by the double-backward trick.

    :math:`h(w) = J^\top w` is built once with ``create_graph``; being linear in ``w``, its
    vector-Jacobian product with ``v`` is :math:`J v`.  (torch's forward mode would do the
    same, but its rules for common layers run through Python decompositions, several times
    slower here; this needs only native backward formulas.)
    """
    dummy = torch.zeros_like(output, requires_grad=True)
    transposed = torch.autograd.grad(output, params, dummy, create_graph=True, allow_unused=True)
    used = [(t, p) for t, p in zip(transposed, params) if t is not None]
    sizes = [p.numel() for p in params]
    columns = []
    for direction in directions.mT:
        pieces = dict(zip(map(id, params), direction.split(sizes)))
        seeds = [pieces[id(p)].reshape(p.shape) for _, p in used]
        (column,) = torch.autograd.grad([t for t, _ in used], dummy, seeds, retain_graph=True)
        columns.append(column.reshape(-1))
    return torch.stack(columns, dim=1)


def gradient_alignment(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    method: str = "auto",
    sketch_size: int = 32,
    rtol: float | None = None,
    vectorize: bool = False,
    generator: torch.Generator | None = None,
) -> GradientAlignment:
    r"""The fraction of the loss's output gradient that the parameters can deliver.

    With :math:`F = f_\theta(x)` on the probe batch (flattened to :math:`m` entries),
    :math:`g = \partial L/\partial F` and :math:`J = \partial F/\partial\theta`
    (:math:`m \times p`, over the parameters that require grad):

    .. math:: \text{fraction} = \frac{\|J J^+ g\|}{\|g\|} \in [0, 1],

    the part of the output change the loss asks for that lies in the range of
    :math:`J`: 1 when every output direction is reachable (always, where :math:`J` has
    full row rank), near 0 with a large loss where training stalls for want of a
    direction, not of a step size.  The loss and :math:`\|J^\top g\|` (the gradient
    norm) come with it.

    Methods:

    - ``"exact"``: :math:`J` by :math:`m` vector-Jacobian products (a loop of :math:`m`
      backward passes, or one vmapped pass with ``vectorize=True``), then
      its SVD :math:`J = U S V^\top`; the range is spanned by the columns of :math:`U`
      whose singular value exceeds ``rtol`` times the largest (default
      :math:`\max(m, p)\,\epsilon`, numpy's ``matrix_rank`` rule), and
      :math:`\text{fraction} = \|U_r^\top g\|/\|g\|`.  Memory :math:`m p`.
    - ``"sketch"`` (large models): a randomized range finder.  The range of :math:`J` is
      approximated by the span of :math:`J\Omega`, :math:`\Omega` = ``sketch_size``
      Gaussian parameter directions plus the gradient's own direction :math:`J^\top g`,
      computed by the double-backward trick (memory :math:`m k`, never :math:`m p`) and
      orthonormalized (QR); then :math:`B = Q^\top J` by :math:`k + 1` vector-Jacobian
      products, whose SVD gives :math:`J`'s singular values on that span, cut by the
      same rank rule as the exact method.  Error behaviour: the span lies inside the range of :math:`J`, so the
      estimate never exceeds the exact fraction; once ``sketch_size`` reaches the rank of
      :math:`J` the two spans coincide with probability 1 and the estimate is exact (to
      rounding); below it, the sketch captures the dominant singular directions (its
      residual is of the order of :math:`\sigma_{k+1}`, Halko, Martinsson & Tropp 2011),
      so the part of :math:`g` along the weakest directions is what is missed.  Including
      :math:`J J^\top g` makes the estimate at least
      :math:`g^\top J J^\top g / (\|g\|\,\|J J^\top g\|)` for any ``sketch_size``.
      Cost: about :math:`2k + 4` backward passes for :math:`k` = ``sketch_size`` (measured
      in ``benchmarks/bench_diagnostics.py``: 7x one forward+backward pass at
      :math:`k = 1`, 14x at :math:`k = 4`, on a 64-sample probe of a 3x128 MLP).
    - ``"auto"``: exact while :math:`m p \le 2^{22}`, the sketch beyond.

    Parameters
    ----------
    model : nn.Module
        :math:`f_\theta`, called as ``model(x)``.  For the sketch its backward must itself
        be differentiable (plain modules are; a ``once_differentiable`` custom
        ``autograd.Function``, such as :func:`symnn.solve.newton`'s, is not: use
        ``method="exact"``).
    loss_fn : callable
        ``loss_fn(model(x), y)``, a scalar tensor.
    x, y : Tensor
        The probe batch and its targets.
    method : {"auto", "exact", "sketch"}
    sketch_size : int
        Random directions of the sketch.
    rtol : float, optional
        Singular values below ``rtol`` times the largest count as zero.
    vectorize : bool
        Vector-Jacobian products in one vmapped backward pass instead of a loop.  Off by
        default: on CPU with torch 2.13 the loop measured 2-3x faster at probe sizes of
        tens to hundreds, and it works for any backward (vmap cannot trace, e.g.,
        :func:`symnn.solve.newton`'s).  Try it on GPU.
    generator : torch.Generator, optional
        For the sketch's random directions (reproducible estimates).

    Returns
    -------
    GradientAlignment

    Examples
    --------
    A linear model :math:`F = X w` with more samples than weights: :math:`J = X`, and the
    fraction is the share of the residual that :math:`X`'s columns can explain.

    >>> import torch
    >>> from symnn.diagnostics import gradient_alignment
    >>> model = torch.nn.Linear(2, 1, bias=False)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> y = torch.tensor([[0.0], [0.0], [1.0]])  # the third target is out of reach
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, 1.0]]))
    >>> report = gradient_alignment(model, torch.nn.functional.mse_loss, x, y)
    >>> round(report.fraction, 4), report.rank  # g ∝ (1, 1, -1): two thirds reachable
    (0.8165, 2)
    """
    check_module(model, "model")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model(x), y); got {type(loss_fn).__name__}")
    check_tensor(x, "x", floating=False)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor; got {type(y).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    if not isinstance(sketch_size, int) or sketch_size < 1:
        raise ValueError(f"sketch_size must be a positive int; got {sketch_size!r}")
    if rtol is not None and not rtol >= 0:
        raise ValueError(f"rtol must be non-negative; got {rtol!r}")
    params: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require grad: there is no J = dF/dtheta")

    with torch.enable_grad():
        output = model(x)
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            raise TypeError(f"model(x) must return a floating tensor; got {type(output).__name__}")
        loss = loss_fn(output, y)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn must return a scalar tensor; got {shape}")
        if not loss.requires_grad:
            raise ValueError("loss_fn(model(x), y) does not depend on the model's output through autograd")
        # one backward pass gives both g = dL/dF and the parameter gradient J^T g
        g, *grads = torch.autograd.grad(loss, [output, *params], retain_graph=True, allow_unused=True)
        gradient = torch.cat(
            [torch.zeros_like(p).reshape(-1) if d is None else d.reshape(-1) for d, p in zip(grads, params)]
        )
        g = g.reshape(-1).detach()
        m, p = g.numel(), gradient.numel()
        chosen = method if method != "auto" else ("exact" if m * p <= _AUTO_EXACT_ENTRIES else "sketch")
        if chosen == "exact":
            jacobian = _jacobian(output, params, vectorize).detach()
            basis = torch.eye(m, dtype=g.dtype, device=g.device)
        else:
            omega = torch.randn(
                p, sketch_size, generator=generator, device=_generator_device(generator), dtype=g.dtype
            )
            omega = omega.to(gradient.device)
            step = gradient.detach() * (math.sqrt(p) / gradient.norm().clamp(min=torch.finfo(g.dtype).tiny))
            sketched = _sketch(output, params, torch.cat([step.unsqueeze(1), omega], dim=1)).detach()
            # an orthonormal basis Q of span(J Omega), then B = Q^T J by k vector-Jacobian products:
            # B's singular values are J's (restricted to span Q), so the rank rule below is the exact one's
            # (no directions dropped here: those J barely reaches would fall to rounding in J Omega;
            # B's singular values decide, by the same rule as the exact method)
            basis = torch.linalg.qr(sketched).Q if bool(torch.isfinite(sketched).all()) else sketched
            jacobian = _jacobian(output, params, vectorize, basis.mT).detach()
    g_norm = float(torch.linalg.vector_norm(g))
    if not (math.isfinite(g_norm) and bool(torch.isfinite(jacobian).all())):
        fraction, rank = math.nan, 0  # NaN in, NaN out: no silent number
    else:
        left, singular = _left_singular(jacobian)
        tolerance = rtol if rtol is not None else max(m, p) * torch.finfo(singular.dtype).eps
        kept = singular > tolerance * singular.max()
        rank = int(kept.sum())
        if g_norm == 0.0:
            fraction = 1.0
        else:
            projected = (basis @ left[:, kept]).mT @ g
            fraction = min(1.0, float(torch.linalg.vector_norm(projected)) / g_norm)
    return GradientAlignment(
        fraction=fraction,
        loss=float(loss.detach()),
        grad_norm=float(torch.linalg.vector_norm(gradient)),
        output_grad_norm=g_norm,
        rank=rank,
        outputs=m,
        parameters=p,
        method=chosen,
    )
