r"""Differentiable nonlinear solves: Newton's method with gradients by the implicit function theorem.

The physics bias of the lecture's elasticity example, "keep the equation in the model
and just learn :math:`\sigma(\varepsilon)`", needs a solver that a loss can be
differentiated through.  :func:`newton` solves :math:`R(u, \theta) = 0` for :math:`u`
and attaches to the solution the derivative the implicit function theorem gives at
the converged state,

.. math:: \frac{\partial u^*}{\partial \theta} = -\Big(\frac{\partial R}{\partial u}\Big)^{-1}
          \frac{\partial R}{\partial \theta}\Big|_{u = u^*},

so a backward pass costs one linear solve with :math:`(\partial R/\partial u)^\top` and
one vector-Jacobian product of :math:`R`, whatever the number of Newton iterations:
the iterations are never unrolled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from symnn._checks import check_tensor

__all__ = ["newton", "NewtonError"]

Residual = Callable[..., torch.Tensor]


class NewtonError(RuntimeError):
    """Newton's method did not converge for some of the systems.

    Attributes
    ----------
    index : list of tuple of int
        The batch index (over ``u0``'s leading dimensions) of every system that failed.
    residual : list of float
        Their final residual norms :math:`\\max_i |R_i|` (NaN when the residual became NaN).
    iterations : int
        The iterations made.
    tol : list of float
        The tolerance each failed system had to meet.
    """

    def __init__(
        self, index: list[tuple[int, ...]], residual: list[float], iterations: int, tol: list[float]
    ):
        self.index, self.residual, self.iterations, self.tol = index, residual, iterations, tol
        shown = ", ".join(
            f"system {i}: max|R| = {r:.3e} (tol {t:.1e})" for i, r, t in zip(index[:5], residual[:5], tol[:5])
        )
        more = f" and {len(index) - 5} more" if len(index) > 5 else ""
        super().__init__(
            f"Newton's method did not converge after {iterations} iterations for {len(index)} "
            f"system(s): {shown}{more}. Check that the problem has a solution near u0 (e.g. a monotone "
            "law), or raise max_iter."
        )


def _jacobian(
    residual: Residual, u: torch.Tensor, params: Sequence[Any], bandwidth: int | None
) -> torch.Tensor:
    """``dR/du`` for every system, ``(..., n, n)``, by reverse-mode products (colored if banded).

    A product with a seed summing the rows of one color gives, for each column ``j``,
    the sum of ``dR_i/du_j`` over the rows ``i`` of that color; within a band of half
    width ``k`` and ``2k + 1`` colors, only one of them is non-zero.  (Reverse mode, one
    forward and ``colors`` backward passes: torch's forward-mode rules for common
    layers run through Python decompositions and are several times slower here.)
    """
    n = u.shape[-1]
    colors = n if bandwidth is None else min(n, 2 * bandwidth + 1)
    index = torch.arange(n, device=u.device)
    color = index % colors
    seeds = (color == torch.arange(colors, device=u.device)[:, None]).to(u.dtype)  # (colors, n)
    with torch.enable_grad():
        v = u.detach().requires_grad_(True)
        r = residual(v, *params)
        rows = [
            torch.autograd.grad(r, v, seed.expand_as(r), retain_graph=k < colors - 1)[0]
            for k, seed in enumerate(seeds)
        ]
    summed = torch.stack(rows, dim=-2)  # (..., colors, n): [c, j] = sum over rows i of color c of J_ij
    if bandwidth is None:
        return summed
    near = (index[:, None] - index[None, :]).abs() <= bandwidth  # (n, n)
    return summed.index_select(-2, color) * near.to(u.dtype)


# From this size on, a CPU batch is factored one system per call (see _lu_factor).
_LOOP_FROM = 128


def _lu_factor(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.linalg.lu_factor_ex`` of a batch ``(..., n, n)``: ``(LU, pivots, info)``, ``info > 0`` if singular.

    Works around a CPU bug (torch 2.13 with MKL, two or more threads): a batched LU of
    matrices of about 300 x 300 and more returns wrong factors for some systems (MKL
    prints "Parameter 6 was incorrect on entry to DLASWP"; some pivots are left unset,
    which ``lu_solve`` refuses, others look valid but are wrong).  A single matrix per
    call is factored correctly, so on the CPU a batch of matrices of ``_LOOP_FROM`` rows
    or more is factored one system per call: at that size the O(n³) factorization
    dwarfs the per-call overhead.
    """
    n = matrix.shape[-1]
    if matrix.device.type != "cpu" or matrix.ndim == 2 or n < _LOOP_FROM:
        return torch.linalg.lu_factor_ex(matrix)
    factors = [torch.linalg.lu_factor_ex(system) for system in matrix.reshape(-1, n, n)]
    lu, pivots, info = (torch.stack(part) for part in zip(*factors, strict=True))
    batch = matrix.shape[:-2]
    return lu.reshape(matrix.shape), pivots.reshape(*batch, n), info.reshape(batch)


def _max_abs(r: torch.Tensor) -> torch.Tensor:
    # NaN-propagating: amax ignores nothing, so a NaN residual stays NaN and never counts as converged
    return r.abs().amax(dim=-1)


class _ImplicitSolution(torch.autograd.Function):
    """Returns the converged ``u*``; its backward applies the implicit function theorem."""

    @staticmethod
    def forward(
        ctx: Any, residual: Residual, lu: tuple[torch.Tensor, torch.Tensor], u: torch.Tensor, *params: Any
    ):
        ctx.residual, ctx.lu, ctx.params = residual, lu, params
        ctx.save_for_backward(u)
        return u.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_u: torch.Tensor):
        (u,) = ctx.saved_tensors
        factors, pivots = ctx.lu
        # (dR/du)^T lam = grad_u, then dL/dtheta = -(dR/dtheta)^T lam
        lam = torch.linalg.lu_solve(factors, pivots, grad_u.unsqueeze(-1), adjoint=True).squeeze(-1)
        wanted = [i for i, p in enumerate(ctx.params) if isinstance(p, torch.Tensor) and p.requires_grad]
        grads: list[torch.Tensor | None] = [None] * len(ctx.params)
        if wanted:
            with torch.enable_grad():
                r = ctx.residual(u.detach(), *ctx.params)
                found = torch.autograd.grad(
                    r, [ctx.params[i] for i in wanted], grad_outputs=-lam, allow_unused=True
                )
            for i, g in zip(wanted, found):
                grads[i] = g
        return (None, None, None, *grads)


def newton(
    residual: Residual,
    u0: torch.Tensor,
    params: Sequence[Any] = (),
    *,
    bandwidth: int | None = None,
    tol: float | None = None,
    xtol: float | None = None,
    max_iter: int = 50,
    max_halvings: int = 30,
) -> torch.Tensor:
    r"""Solve :math:`R(u, \theta) = 0` by damped Newton iterations, differentiable in :math:`\theta`.

    Each iteration solves :math:`\frac{\partial R}{\partial u}\,\delta = -R` and takes
    the step :math:`u \leftarrow u + \alpha\delta` with the largest
    :math:`\alpha \in \{1, \tfrac12, \tfrac14, \dots\}` that decreases
    :math:`\|R\|_2` by the Armijo factor :math:`1 - 10^{-4}\alpha` (a backtracking
    line search: the iterations reach the quadratic regime from far away as long as
    the Jacobian stays invertible along the way).  A system has converged when
    :math:`\max_i |R_i| \le \text{tol}`, or when the Newton step is smaller than
    ``xtol`` relative to the solution, :math:`\max_i|\delta_i| \le \text{xtol}\,\max_i|u_i|`
    (in the quadratic regime the error after such a step is of order
    :math:`\text{xtol}^2`: the residual is then at the rounding level of the terms it
    sums, which ``tol`` cannot know).

    The returned :math:`u^*` carries the gradient of the implicit function theorem
    with respect to every tensor in ``params`` that requires grad: a backward pass
    solves :math:`(\partial R/\partial u)^\top\lambda = \bar u` with the LU factors
    of the Jacobian at :math:`u^*` and returns
    :math:`\bar\theta = -(\partial R/\partial \theta)^\top\lambda`.  The iterations
    are not recorded by autograd, so memory does not grow with their number.
    Only first derivatives are available (no double backward).

    The solver is an iterative algorithm with data-dependent stopping, so it is not
    meant to run under ``torch.func.vmap`` or ``torch.compile``; batch systems through
    the leading dimensions instead.

    Parameters
    ----------
    residual : callable
        ``residual(u, *params) -> R`` with ``R`` shaped like ``u``, ``(..., n)``.  Each
        leading index is an independent system: ``R[b]`` may depend on ``u[b]`` only.
        The tensors in ``params`` are what the gradient is taken with respect to; the
        residual may read them from its arguments or from a module it closes over, as
        long as they are the same tensor objects (e.g. ``params=(load, *net.parameters())``).
        It must be differentiable by autograd: the Jacobian is built from
        vector-Jacobian products (``n`` of them, or ``2k + 1`` with ``bandwidth=k``).
    u0 : Tensor, shape ``(..., n)``
        The starting point (also sets dtype and device).  A warm start from a nearby
        solution (e.g. the previous training step's) saves iterations.
    params : sequence of Tensor
        The tensors :math:`\theta` (and anything else ``residual`` needs as arguments).
    bandwidth : int, optional
        If the Jacobian is banded (:math:`\partial R_i/\partial u_j = 0` for
        :math:`|i-j| > k`: finite elements or differences in 1D), ``k``: it is then
        built from :math:`2k + 1` vector-Jacobian products instead of ``n``.
    tol : float, optional
        Convergence threshold on :math:`\max_i |R_i|` per system; default
        :math:`100\,\epsilon\,\max(1, \max_i |R_i(u_0)|)` (:math:`\epsilon` the dtype's
        machine epsilon), i.e. the residual reduced to rounding level.
    xtol : float, optional
        Relative size of a full Newton step that counts as converged; default
        :math:`\sqrt\epsilon`, as SciPy's ``fsolve``.
    max_iter, max_halvings : int
        Iteration limit, and line-search halvings per iteration.

    Returns
    -------
    Tensor, shape ``(..., n)``
        The solution :math:`u^*`, with the implicit gradient attached.

    Raises
    ------
    NewtonError
        If any system has not converged after ``max_iter`` iterations, or stopped early
        because its residual became NaN or its Jacobian singular or not finite (the
        other systems of the batch still solve): the message names each failed
        system's batch index and its residual, so a training loop stops with a clear
        error instead of a NaN loss.

    Examples
    --------
    :math:`u^3 + \theta u - 2 = 0`, whose root at :math:`\theta = 1` is :math:`u = 1`;
    implicitly :math:`du/d\theta = -u/(3u^2 + \theta) = -1/4`:

    >>> import torch
    >>> from symnn.solve import newton
    >>> theta = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    >>> u = newton(lambda u, t: u**3 + t * u - 2, torch.zeros(1, dtype=torch.float64), (theta,))
    >>> u.detach()
    tensor([1.], dtype=torch.float64)
    >>> torch.autograd.grad(u.sum(), theta)[0]
    tensor(-0.2500, dtype=torch.float64)
    """
    if not callable(residual):
        raise TypeError(f"residual must be callable as residual(u, *params); got {type(residual).__name__}")
    check_tensor(u0, "u0")
    if u0.ndim == 0:
        raise ValueError("u0 must have shape (..., n); got a 0-dim tensor")
    if isinstance(params, torch.Tensor) or not isinstance(params, Sequence):
        raise TypeError(f"params must be a sequence (tuple or list) of tensors; got {type(params).__name__}")
    if bandwidth is not None and (not isinstance(bandwidth, int) or bandwidth < 0):
        raise ValueError(f"bandwidth must be a non-negative int or None; got {bandwidth!r}")
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int; got {max_iter!r}")
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be positive; got {tol!r}")
    if xtol is not None and not xtol >= 0:
        raise ValueError(f"xtol must be non-negative; got {xtol!r}")
    step_tol = math.sqrt(torch.finfo(u0.dtype).eps) if xtol is None else xtol

    fixed = [p.detach() if isinstance(p, torch.Tensor) else p for p in params]
    with torch.no_grad():
        u = u0.detach().clone()
        r = residual(u, *fixed)
        if r.shape != u.shape:
            raise ValueError(
                f"residual(u, *params) must have u's shape {tuple(u.shape)}; got {tuple(r.shape)}"
            )
        size = _max_abs(r)
        limit = (
            torch.full_like(size, tol)
            if tol is not None
            else 100 * torch.finfo(u.dtype).eps * size.clamp(min=1)
        )
        norm = torch.linalg.vector_norm(r, dim=-1)
        done = size <= limit  # NaN counts as not converged
        stuck = torch.zeros_like(done)  # systems with no Newton step: a non-finite or singular Jacobian
        identity = torch.eye(u.shape[-1], dtype=u.dtype, device=u.device)
        iterations = 0
        while iterations < max_iter:
            active = ~done & ~stuck
            if not bool(active.any()):
                break
            iterations += 1
            jac = _jacobian(residual, u, fixed, bandwidth)
            # LAPACK must never see a NaN or inf (its factors of such a matrix are undefined).
            # A system whose Jacobian is not finite, or is singular, has no Newton step: it
            # stops and is reported as failed; the others solve against the identity in its
            # place, and the rows not stepping are zeroed by selection (NaN * 0 is NaN).
            stuck = stuck | (active & ~torch.isfinite(jac).flatten(-2).all(-1))
            active = active & ~stuck
            jac = torch.where(active[..., None, None], jac, identity)
            lu, pivots, info = _lu_factor(jac)
            step = torch.linalg.lu_solve(lu, pivots, -r.unsqueeze(-1)).squeeze(-1)
            stuck = stuck | (active & ((info != 0) | ~torch.isfinite(step).all(-1)))
            active = active & ~stuck
            step = torch.where(active.unsqueeze(-1), step, torch.zeros_like(step))
            alpha = torch.ones_like(norm)
            accepted = ~active
            trial_u, trial_r = u, r
            for _ in range(max_halvings + 1):
                candidate = u + alpha.unsqueeze(-1) * step
                candidate_r = residual(candidate, *fixed)
                candidate_norm = torch.linalg.vector_norm(candidate_r, dim=-1)
                ok = ~accepted & (candidate_norm <= (1 - 1e-4 * alpha) * norm)
                keep = ok.unsqueeze(-1)
                trial_u = torch.where(keep, candidate, trial_u)
                trial_r = torch.where(keep, candidate_r, trial_r)
                accepted = accepted | ok
                if bool(accepted.all()):
                    break
                alpha = torch.where(accepted, alpha, alpha / 2)
            u, r = trial_u, trial_r
            norm = torch.linalg.vector_norm(r, dim=-1)
            size = _max_abs(r)
            small = _max_abs(step) <= step_tol * _max_abs(u)
            done = (done | (size <= limit) | small) & ~stuck
        failed = ~done
        if bool(failed.any()):
            where = failed.nonzero().tolist()
            raise NewtonError(
                [tuple(i) for i in where],
                [float(size[tuple(i)]) for i in where],
                iterations,
                [float(limit[tuple(i)]) for i in where],
            )
    needs_grad = torch.is_grad_enabled() and any(
        isinstance(p, torch.Tensor) and p.requires_grad for p in params
    )
    if not needs_grad:
        return u
    with torch.no_grad():
        lu, pivots, info = _lu_factor(_jacobian(residual, u, fixed, bandwidth))
    if bool((info != 0).any()):
        where = (info != 0).nonzero().tolist()
        raise RuntimeError(
            f"the Jacobian at the solution is singular for systems {[tuple(i) for i in where]}: "
            "the implicit gradient does not exist there"
        )
    return _ImplicitSolution.apply(residual, (lu, pivots), u, *params)
