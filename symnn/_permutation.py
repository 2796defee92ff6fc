"""Permutations by sorting: invariance f(x) = g(sort(x)), equivariance f(x) = unsort(g(sort(x)))."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from symnn._checks import check_dim, check_int, check_module, check_tensor
from symnn._symmetry import Permutation, Scaling, Symmetry, layer_symmetry

__all__ = ["sort_canonical", "sort_equivariant", "PermutationSort", "PermutationSortEquivariant"]

# Sorting commutes with a positive rescaling (the order and the ties stay): a wrapped
# net's homogeneity holds for the whole layer.
_KEEPS = (Scaling,)


def _size(net: nn.Module, dim: int, n: Any) -> int | None:
    """The permuted size: ``n`` when given, else the wrapped net's ``in_features`` along the last dim."""
    if n is not None:
        return check_int(n, "n", minimum=1)
    # Through symnn wrappers (each keeps the input's size) down to a net that states it.
    inner: Any = net
    while not hasattr(inner, "in_features") and isinstance(getattr(inner, "net", None), nn.Module):
        inner = inner.net
    size = getattr(inner, "in_features", None)
    return size if dim == -1 and isinstance(size, int) and not isinstance(size, bool) else None


def sort_canonical(x: torch.Tensor, dim: int = -1, descending: bool = True) -> torch.Tensor:
    r"""The values of ``x`` sorted along ``dim``: the canonical member of its permutation orbit.

    .. math:: \operatorname{sort}(x)_i = x_{\pi(i)}, \quad x_{\pi(1)} \ge x_{\pi(2)} \ge \dots \ge x_{\pi(n)}

    Guarantee: ``sort_canonical(x[..., p]) == sort_canonical(x)`` bit for bit for
    every permutation ``p``, tied values included (sorting moves values, it never
    recomputes them; ``-0.0`` is first made ``+0.0``, since the two tie in a sort but
    a net can tell them apart).  The gradient flows back to each value's original
    position; at a tie it goes to one of the tied entries, a valid subgradient.  NaN
    sorts to one end and stays NaN.

    Parameters
    ----------
    x : Tensor, shape ``(..., n)``
    dim : int
        The dimension to sort.
    descending : bool
        Largest first (the lecture's "high to low").

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import sort_canonical
    >>> sort_canonical(torch.tensor([0.3, 0.9, 0.5]))
    tensor([0.9000, 0.5000, 0.3000])
    """
    check_tensor(x, floating=False)
    dim = check_dim(x, dim)
    if x.is_floating_point():
        # -0.0 + 0.0 = +0.0 (and nothing else changes): -0.0 and +0.0 tie in the sort, so
        # their order would follow the input's and g(1/x-like) could tell them apart.
        x = x + 0.0
    return torch.sort(x, dim=dim, descending=descending).values


class PermutationSort(nn.Module):
    r"""Make any network permutation invariant: :math:`f(x) = g(\operatorname{sort}(x))`.

    Guarantee: :math:`f(Px) = f(x)` exactly, bit for bit, for every permutation
    :math:`P` of ``dim`` and every input, tied values (and ``-0.0`` against ``+0.0``)
    included.  Every invariant function of scalar entries factors through the sort,
    so nothing is lost; the cost is one sort.

    Parameters
    ----------
    net : nn.Module
        The wrapped network :math:`g`.
    dim : int
        The dimension whose entries may be permuted (default the last).  Every
        1-D slice along ``dim`` is sorted on its own, so for sets of vectors stored
        along ``dim`` (shape ``(..., n, k)``, ``dim=-2``, ``k > 1``) each coordinate is
        sorted separately: still invariant, but which values belong to one vector is
        forgotten.  "Nothing is lost" holds for scalar entries (``k = 1``).
    descending : bool
        Sort order; the lecture sorts high to low.
    n : int, optional
        The size of ``dim``, for :attr:`symmetry` (``Permutation(n)``); by default
        the wrapped net's ``in_features`` (an :class:`~symnn.MLP`, a ``Linear``,
        also inside other symnn layers).

    Shapes
    ------
    ``(..., n) -> net's output``.

    Examples
    --------
    >>> import torch, symnn
    >>> tri = symnn.PermutationSort(symnn.MLP(3, 1))
    >>> x = torch.rand(4, 3)
    >>> torch.equal(tri(x[:, [2, 0, 1]]), tri(x))
    True
    """

    def __init__(
        self, net: nn.Module, dim: int = -1, descending: bool = True, *, n: int | None = None
    ) -> None:
        super().__init__()
        self.net = check_module(net)
        self.dim = check_int(dim, "dim")
        self.descending = bool(descending)
        self.n = _size(net, self.dim, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(sort_canonical(x, self.dim, self.descending))

    @property
    def symmetry(self) -> Symmetry | None:
        """``Permutation(n)`` (times the wrapped net's scaling), when the size is known and
        ``dim`` is the last; None otherwise (no built-in symmetry permutes another dim)."""
        own = Permutation(self.n) if self.n is not None and self.dim == -1 else None
        return layer_symmetry(own, self.net, _KEEPS) if own is not None else None

    def extra_repr(self) -> str:
        return f"dim={self.dim}, descending={self.descending}"


def _tie_mean(values: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each ``y[..., i]`` replaced by the mean of ``y`` over the slots whose ``values`` tie with slot i.

    Added one slot at a time in a fixed order, so tied slots get the same sum bit for
    bit; an untied slot gets its own value back (``y + 0``).
    """
    n = values.shape[-1]
    same = (values.unsqueeze(-1) == values.unsqueeze(-2)) | torch.eye(
        n, dtype=torch.bool, device=values.device
    )
    zero = torch.zeros_like(y)
    total = torch.where(same[..., 0], y[..., :1], zero)
    for j in range(1, n):
        total = total + torch.where(same[..., j], y[..., j : j + 1], zero)
    return total / same.sum(-1).to(y.dtype)


def sort_equivariant(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, dim: int = -1, descending: bool = True
) -> torch.Tensor:
    r"""Make ``fn`` permutation equivariant by canonicalisation: sort, apply, unsort.

    .. math:: f(x) = \sigma_x^{-1}\, \bar g(\sigma_x x), \qquad
              \bar g(s)_i = \operatorname{mean}_{j:\ s_j = s_i} g(s)_j

    where :math:`\sigma_x` sorts ``x`` along ``dim`` and :math:`\bar g` averages
    ``fn``'s outputs over the slots of tied values.

    Guarantee: :math:`f(Px) = P f(x)` exactly, bit for bit, for every permutation
    :math:`P` of ``dim`` and every input, ties included.  Off ties it is plain
    canonicalisation.  At a tie, :math:`Px = x` for the swap :math:`P` of the tied
    slots, so any equivariant :math:`f` must give those slots equal outputs; the
    mean over each run of tied values (the average over the stabiliser of the
    sorted input) gives exactly that, and then it does not matter which of the tied
    slots the sort put first.  ``-0.0`` and ``+0.0`` tie (as in :func:`sort_canonical`).
    The gradient is that of a sort, ``fn`` and a mean: exact off ties, a valid
    one-sided derivative at them.  Costs one sort, one gather and an ``(..., n, n)``
    tie mask.

    Parameters
    ----------
    fn : callable
        Maps the sorted ``x`` to an output of the same shape (one value per slot).
    x : Tensor, shape ``(..., n)`` (or ``n`` at ``dim``)
    dim : int
        The permuted dimension.
    descending : bool
        Sort order.

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import sort_equivariant
    >>> cumulative = lambda s: s.cumsum(-1)                  # not equivariant on its own
    >>> x = torch.tensor([[1.0, 3.0, 2.0]])
    >>> sort_equivariant(cumulative, x)                      # sorted: 3, 2, 1 -> 3, 5, 6
    tensor([[6., 3., 5.]])
    >>> sort_equivariant(cumulative, x[:, [2, 0, 1]])        # permuted in, permuted out
    tensor([[5., 6., 3.]])
    """
    check_tensor(x, floating=False)
    dim = check_dim(x, dim)
    if x.is_floating_point():
        x = x + 0.0  # -0.0 -> +0.0, as in sort_canonical
    values, order = torch.sort(x, dim=dim, descending=descending, stable=True)
    y = fn(values)
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(
            f"a permutation-equivariant net must give one output per input slot, shape {tuple(x.shape)}; "
            f"got {got}"
        )
    averaged = _tie_mean(values.movedim(dim, -1), y.movedim(dim, -1)).movedim(-1, dim)
    # Unsort: slot order[i] of the output gets the sorted slot i's value.
    return averaged.gather(dim, order.argsort(dim=dim))


class PermutationSortEquivariant(nn.Module):
    r"""Make any network permutation equivariant: :math:`f(x) = \sigma_x^{-1}\,\bar g(\sigma_x x)`.

    Sort the input, apply the net, average its outputs over tied values, and put
    each output back in its input's slot (:func:`~symnn.functional.sort_equivariant`).

    Guarantee: :math:`f(Px) = P f(x)` exactly, bit for bit, for every permutation
    :math:`P` of ``dim``, tied values included (tied slots get equal outputs, as
    equivariance demands).  Costs one sort and an ``n x n`` tie mask.

    Parameters
    ----------
    net : nn.Module
        The wrapped network :math:`g`, ``(..., n) -> (..., n)``: one output per slot.
    dim : int
        The permuted dimension (default the last).
    descending : bool
        Sort order.
    n : int, optional
        The size of ``dim``, for :attr:`symmetry`; by default the net's ``in_features``.

    Shapes
    ------
    ``(..., n) -> (..., n)``.

    Examples
    --------
    >>> import torch, symnn
    >>> layer = symnn.PermutationSortEquivariant(symnn.MLP(4, 4))
    >>> x = torch.rand(5, 4)
    >>> p = [2, 0, 3, 1]
    >>> torch.equal(layer(x[:, p]), layer(x)[:, p])
    True
    >>> layer.symmetry
    Permutation(4, equivariant=True)
    """

    def __init__(
        self, net: nn.Module, dim: int = -1, descending: bool = True, *, n: int | None = None
    ) -> None:
        super().__init__()
        self.net = check_module(net)
        self.dim = check_int(dim, "dim")
        self.descending = bool(descending)
        self.n = _size(net, self.dim, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sort_equivariant(self.net, x, self.dim, self.descending)

    @property
    def symmetry(self) -> Symmetry | None:
        """``Permutation(n, equivariant=True)`` (times the net's scaling) when ``n`` is known and
        ``dim`` the last; None otherwise."""
        if self.n is None or self.dim != -1:
            return None
        return layer_symmetry(Permutation(self.n, equivariant=True), self.net, _KEEPS)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, descending={self.descending}"
