r"""Differential operators for physics-informed losses.

In autograd's (outputs, inputs) convention: ``u = model(x)`` first, with ``x``
requiring grad, then ``laplacian(u, x)`` and friends.  Every operator keeps the
graph (``create_graph=True``), so its result can go into a loss and be trained
through: the gradient with respect to the model's parameters is exact.

Batching: the derivative of :math:`\sum_j u_j` with respect to :math:`x_i` is
:math:`\partial u_i / \partial x_i` when each output row depends on its own input
row only, which holds for any model that treats rows independently (an MLP; not
batch normalisation in training mode).  One backward pass then gives every row's
gradient.

Example: the lecture's physics-informed network for :math:`u_{xx} + u_{yy} = 0`,
with the boundary values built in (:class:`HardBoundary`):

>>> import torch, symnn
>>> from symnn import pinn
>>> net = pinn.HardBoundary(symnn.MLP(2, 1, hidden=(16, 16), activation="tanh"),
...                         boundary_value=lambda x: x[:, :1] ** 2 - x[:, 1:] ** 2,
...                         distance=pinn.box_distance)
>>> x = torch.rand(100, 2, requires_grad=True)
>>> loss = pinn.residual_loss(pinn.laplacian(net(x), x))
>>> loss.backward()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from symnn._checks import check_module, check_tensor, values_readable

__all__ = [
    "grad",
    "divergence",
    "laplacian",
    "derivative",
    "residual_loss",
    "box_distance",
    "HardBoundary",
]

Field = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- checks


def _check_input(x: Any, who: str) -> torch.Tensor:
    x = check_tensor(x, "x")
    if x.ndim == 0:
        raise ValueError(f"{who}: x must have shape (N, d); got a 0-dim tensor")
    if not x.requires_grad:
        raise ValueError(
            f"{who}: x does not require grad, so autograd cannot differentiate with respect to it; "
            "call x.requires_grad_() before computing u = model(x)"
        )
    return x


def _check_scalar_field(u: Any, x: torch.Tensor, who: str) -> torch.Tensor:
    u = check_tensor(u, "u")
    batch = tuple(x.shape[:-1])
    if tuple(u.shape) not in (batch, (*batch, 1)):
        raise ValueError(
            f"{who}: u must be a scalar field with one value per row of x, shape {batch} or "
            f"{(*batch, 1)}; got {tuple(u.shape)}"
            + (" (use divergence for a vector field)" if u.shape[:-1] == batch else "")
        )
    return u


def _dims(x: torch.Tensor, dims: Sequence[int] | None, who: str) -> list[int]:
    d = x.shape[-1]
    if dims is None:
        return list(range(d))
    if isinstance(dims, int) and not isinstance(dims, bool):
        dims = [dims]
    out = []
    for dim in dims:
        if isinstance(dim, bool) or not isinstance(dim, int) or not -d <= dim < d:
            raise ValueError(
                f"{who}: dims must be ints in [-{d}, {d}) for x of shape {tuple(x.shape)}; got {dims!r}"
            )
        out.append(dim % d)
    if not out:
        raise ValueError(f"{who}: dims must name at least one coordinate")
    return out


def _no_path(name: str, who: str) -> ValueError:
    return ValueError(
        f"{who}: {name} does not depend on x (autograd finds no path from x to {name}); "
        f"compute {name} from this very x, with gradients enabled (not under torch.no_grad())"
    )


# --------------------------------------------------------------------------- derivatives


def _first_grad(u: torch.Tensor, x: torch.Tensor, create_graph: bool, name: str, who: str) -> torch.Tensor:
    """Every row's gradient of ``u`` with respect to x; an error if u does not depend on x."""
    if not u.requires_grad:
        raise _no_path(name, who)
    (g,) = torch.autograd.grad(u.sum(), x, create_graph=create_graph, retain_graph=True, allow_unused=True)
    if g is None:
        raise _no_path(name, who)
    return g


def _next_grad(w: torch.Tensor, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """The gradient of a derivative already taken: zero where it no longer depends on x.

    A derivative can be constant in x (the second derivative of a linear model, of a
    ReLU network) while its graph still holds the parameters; that is a zero
    derivative, not an error.
    """
    if not w.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(
        w.sum(), x, create_graph=create_graph, retain_graph=True, allow_unused=True, materialize_grads=True
    )
    return g


def grad(
    u: torch.Tensor, x: torch.Tensor, dims: Sequence[int] | None = None, *, create_graph: bool = True
) -> torch.Tensor:
    r"""The gradient of a scalar field, row by row: :math:`(\nabla u)_i = \partial u / \partial x_i`.

    Parameters
    ----------
    u : Tensor, shape ``(N,)`` or ``(N, 1)``
        ``model(x)``.
    x : Tensor, shape ``(N, d)``, requiring grad
    dims : sequence of int, optional
        The coordinates to differentiate along (default all), e.g. ``[0, 1]`` for
        the spatial part of ``(x, y, t)``.
    create_graph : bool
        Keep the graph so the result can be differentiated again or trained through.

    Returns
    -------
    Tensor, shape ``(N, len(dims))``

    Examples
    --------
    >>> import torch
    >>> from symnn import pinn
    >>> x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    >>> pinn.grad(x[:, 0] ** 2 * x[:, 1], x).tolist()     # (2xy, x^2)
    [[4.0, 1.0]]
    """
    x = _check_input(x, "grad")
    u = _check_scalar_field(u, x, "grad")
    chosen = _dims(x, dims, "grad")
    g = _first_grad(u, x, create_graph, "u", "grad")
    return g if dims is None else g[..., chosen]


def divergence(
    v: torch.Tensor, x: torch.Tensor, dims: Sequence[int] | None = None, *, create_graph: bool = True
) -> torch.Tensor:
    r"""The divergence of a vector field: :math:`\nabla\cdot v = \sum_j \partial v_j / \partial x_{d_j}`.

    Parameters
    ----------
    v : Tensor, shape ``(N, m)``
        ``model(x)``; component ``j`` is differentiated along coordinate ``dims[j]``.
    x : Tensor, shape ``(N, d)``, requiring grad
    dims : sequence of int, optional
        The ``m`` coordinates matching v's components (default all, ``m = d``).
    create_graph : bool
        Keep the graph (default) so the result can be trained through.

    Returns
    -------
    Tensor, shape ``(N,)``
        One value per row (no trailing 1, unlike :func:`laplacian` of an ``(N, 1)`` u).

    Examples
    --------
    >>> import torch
    >>> from symnn import pinn
    >>> x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    >>> pinn.divergence(x * x, x).tolist()                 # 2x + 2y
    [6.0]
    """
    x = _check_input(x, "divergence")
    v = check_tensor(v, "v")
    chosen = _dims(x, dims, "divergence")
    batch = tuple(x.shape[:-1])
    if tuple(v.shape) != (*batch, len(chosen)):
        raise ValueError(
            f"divergence: v must have one component per chosen coordinate, shape {(*batch, len(chosen))}; "
            f"got {tuple(v.shape)}"
        )
    if not v.requires_grad:
        raise _no_path("v", "divergence")
    terms = []
    for j, dim in enumerate(chosen):
        (g,) = torch.autograd.grad(
            v[..., j].sum(), x, create_graph=create_graph, retain_graph=True, allow_unused=True
        )
        terms.append(None if g is None else g[..., dim])
    if all(t is None for t in terms):
        raise _no_path("v", "divergence")
    total = torch.zeros(batch, dtype=x.dtype, device=x.device)
    for t in terms:
        if t is not None:
            total = total + t
    return total


def laplacian(
    u: torch.Tensor, x: torch.Tensor, dims: Sequence[int] | None = None, *, create_graph: bool = True
) -> torch.Tensor:
    r"""The Laplacian of a scalar field: :math:`\Delta u = \sum_{i} \partial^2 u / \partial x_i^2`.

    One backward pass for the gradient and one per coordinate for the second
    derivatives; the graph is kept, so :math:`\Delta u` can go into a loss.

    Parameters
    ----------
    u : Tensor, shape ``(N,)`` or ``(N, 1)``
        ``model(x)``.
    x : Tensor, shape ``(N, d)``, requiring grad
    dims : sequence of int, optional
        The coordinates summed over (default all), e.g. the spatial ones of ``(x, y, t)``.
    create_graph : bool
        Keep the graph (default) so the result can be trained through.

    Returns
    -------
    Tensor, shaped like ``u``

    Raises
    ------
    ValueError
        ``x`` not requiring grad, ``u`` not computed from ``x``, or ``u`` not one value per row.

    Examples
    --------
    >>> import torch
    >>> from symnn import pinn
    >>> x = torch.tensor([[0.5, 1.0]], dtype=torch.float64, requires_grad=True)
    >>> u = torch.exp(x[:, 0]) * torch.sin(x[:, 1])          # harmonic
    >>> pinn.laplacian(u, x).abs().item() < 1e-12
    True
    """
    x = _check_input(x, "laplacian")
    u = _check_scalar_field(u, x, "laplacian")
    chosen = _dims(x, dims, "laplacian")
    g = _first_grad(u, x, True, "u", "laplacian")
    seconds = [_next_grad(g[..., dim], x, create_graph)[..., dim] for dim in chosen]
    total = seconds[0]
    for second in seconds[1:]:
        total = total + second
    return total.reshape(u.shape)


def derivative(
    u: torch.Tensor,
    x: torch.Tensor,
    multi_index: Sequence[int],
    dims: Sequence[int] | None = None,
    *,
    create_graph: bool = True,
) -> torch.Tensor:
    r"""A mixed partial derivative by multi-index: :math:`\partial^\alpha u = \partial^{|\alpha|} u / \partial x_1^{\alpha_1} \cdots \partial x_d^{\alpha_d}`.

    Parameters
    ----------
    u : Tensor, shape ``(N,)`` or ``(N, 1)``
        ``model(x)``.
    x : Tensor, shape ``(N, d)``, requiring grad
    multi_index : sequence of int
        :math:`\alpha`, one non-negative order per coordinate (per entry of ``dims``
        when given): ``(2, 0)`` is :math:`u_{xx}`, ``(1, 1)`` is :math:`u_{xy}`.
    dims : sequence of int, optional
        The coordinates ``multi_index`` refers to (default all).
    create_graph : bool
        Keep the graph (default) so the result can be trained through.

    Returns
    -------
    Tensor, shaped like ``u`` (``u`` itself for order 0)

    Examples
    --------
    >>> import torch
    >>> from symnn import pinn
    >>> x = torch.tensor([[2.0, 3.0]], requires_grad=True)
    >>> pinn.derivative(x[:, 0] ** 3 * x[:, 1] ** 2, x, (2, 1)).tolist()   # 6x * 2y
    [72.0]
    """
    x = _check_input(x, "derivative")
    u = _check_scalar_field(u, x, "derivative")
    chosen = _dims(x, dims, "derivative")
    orders = list(multi_index) if isinstance(multi_index, Sequence) else None
    if (
        orders is None
        or len(orders) != len(chosen)
        or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in orders)
    ):
        raise ValueError(
            f"derivative: multi_index must hold {len(chosen)} non-negative ints, one per coordinate; "
            f"got {multi_index!r}"
        )
    steps = [dim for dim, k in zip(chosen, orders) for _ in range(k)]
    if not steps:
        return u
    w = u
    for n, dim in enumerate(steps):
        keep = create_graph or n < len(steps) - 1
        g = _first_grad(w, x, keep, "u", "derivative") if n == 0 else _next_grad(w, x, keep)
        w = g[..., dim]
    return w.reshape(u.shape)


# --------------------------------------------------------------------------- losses and boundaries


def residual_loss(residual: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""The squared residual of a differential equation: :math:`\operatorname{mean}_i r_i^2`.

    Parameters
    ----------
    residual : Tensor, any shape, e.g. ``(n,)`` or ``(n, 1)``
        :math:`r = \mathcal{N}[u] - f` at the collocation points, e.g. ``laplacian(u, x)``.
    reduction : {"mean", "sum", "none"}
        As in :mod:`torch.nn` losses: a scalar, or ``r²`` shaped like ``residual``.

    Examples
    --------
    >>> import torch
    >>> from symnn import pinn
    >>> pinn.residual_loss(torch.tensor([3.0, 4.0]))
    tensor(12.5000)
    """
    residual = check_tensor(residual, "residual")
    squared = residual.square()
    if reduction == "mean":
        return squared.mean()
    if reduction == "sum":
        return squared.sum()
    if reduction == "none":
        return squared
    raise ValueError(f"reduction must be one of ('mean', 'sum', 'none'); got {reduction!r}")


def _bounds(value: Any, n: int, name: str, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != n):
        raise ValueError(f"box_distance: {name} must be a number or {n} numbers; got shape {tuple(t.shape)}")
    return t


def box_distance(
    x: torch.Tensor, low: Any = 0.0, high: Any = 1.0, dims: Sequence[int] | None = None
) -> torch.Tensor:
    r"""A smooth function that vanishes on the faces of a box: :math:`d(x) = \prod_i (x_i - l_i)(h_i - x_i)`.

    Positive inside the box, exactly 0 on its boundary; the product form is smooth,
    so a hard boundary condition built on it keeps the network's derivatives.

    Parameters
    ----------
    x : Tensor, shape ``(N, d)``
    low, high : float or sequence of float
        The box's corners, one number for every coordinate or one per chosen one.
    dims : sequence of int, optional
        The coordinates the box bounds (default all), e.g. the spatial ones.

    Returns
    -------
    Tensor, shape ``(N,)``

    Examples
    --------
    >>> import torch
    >>> from symnn import pinn
    >>> pinn.box_distance(torch.tensor([[0.5, 0.5], [0.0, 0.3], [1.0, 1.0]]))
    tensor([0.0625, 0.0000, 0.0000])
    """
    x = check_tensor(x, "x")
    if x.ndim == 0:
        raise ValueError("box_distance: x must have shape (N, d); got a 0-dim tensor")
    chosen = _dims(x, dims, "box_distance")
    lo = _bounds(low, len(chosen), "low", x)
    hi = _bounds(high, len(chosen), "high", x)
    # Read the values only where they exist (the meta device has none).
    if values_readable(lo) and not bool((lo < hi).all()):
        raise ValueError(f"box_distance: need low < high in every coordinate; got low={low!r}, high={high!r}")
    coords = x[..., chosen]
    return ((coords - lo) * (hi - coords)).prod(-1)


def _as_output_field(t: Any, out: torch.Tensor, name: str) -> torch.Tensor:
    """``t`` shaped to combine with the net's output: the same shape, or one value per row."""
    t = torch.as_tensor(t, dtype=out.dtype, device=out.device) if not isinstance(t, torch.Tensor) else t
    if t.shape == out.shape or t.ndim == 0:
        return t
    if out.ndim >= 1 and t.shape == out.shape[:-1]:
        return t.unsqueeze(-1)
    raise ValueError(
        f"HardBoundary: {name} has shape {tuple(t.shape)}, but the net's output has shape "
        f"{tuple(out.shape)}; give {tuple(out.shape)} or one value per row {tuple(out.shape[:-1])}"
    )


class HardBoundary(nn.Module):
    r"""A network that satisfies Dirichlet boundary conditions exactly: :math:`u = g + d\,N`.

    .. math:: u(x) = g(x) + d(x)\,N(x)

    With :math:`d = 0` on the boundary, :math:`u = g` there exactly, whatever the
    network :math:`N` outputs (finite values): the boundary loss disappears and the
    training only has to drive the equation's residual to zero.

    Parameters
    ----------
    net : nn.Module
        :math:`N`, mapping ``(N, d)`` to ``(N, k)``.
    boundary_value : callable or number
        :math:`g`: the boundary data extended inside, ``(N, d) -> (N, k)`` or ``(N,)``;
        a constant for uniform data.  A module's parameters are trained too.
    distance : callable
        :math:`d`: ``(N, d) -> (N,)`` (or ``(N, k)``), zero on the boundary, e.g.
        :func:`box_distance`.

    Shapes
    ------
    ``(N, d) -> (N, k)``, the net's output shape.

    Examples
    --------
    >>> import torch, symnn
    >>> from symnn import pinn
    >>> u = pinn.HardBoundary(symnn.MLP(2, 1), boundary_value=1.0, distance=pinn.box_distance)
    >>> u(torch.tensor([[0.0, 0.3], [1.0, 0.7]])).tolist()   # on the boundary: g
    [[1.0], [1.0]]
    """

    def __init__(self, net: nn.Module, boundary_value: Field | float | torch.Tensor, distance: Field) -> None:
        super().__init__()
        self.net = check_module(net)
        if not callable(distance):
            raise TypeError(f"distance must be a callable (N, d) -> (N,); got {type(distance).__name__}")
        self.distance = distance
        self.boundary_value: Field | None
        if callable(boundary_value):
            self.boundary_value = boundary_value
        else:
            value = torch.as_tensor(boundary_value)
            if not value.is_floating_point():
                value = value.to(torch.get_default_dtype())
            self.register_buffer("boundary_constant", value)
            self.boundary_value = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        d = _as_output_field(self.distance(x), out, "distance(x)")
        if self.boundary_value is None:
            g = self.boundary_constant.to(dtype=out.dtype)
        else:
            g = _as_output_field(self.boundary_value(x), out, "boundary_value(x)")
        return g + d * out

    def extra_repr(self) -> str:
        def name(f: Any) -> str:
            return getattr(f, "__name__", type(f).__name__)

        g = "constant" if self.boundary_value is None else name(self.boundary_value)
        return f"boundary_value={g}, distance={name(self.distance)}"
