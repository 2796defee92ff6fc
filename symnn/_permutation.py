"""Permutation invariance by sorting: f(x) = g(sort(x))."""

from __future__ import annotations

import torch
from torch import nn

from symnn._checks import check_dim, check_int, check_module, check_tensor

__all__ = ["sort_canonical", "PermutationSort"]


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

    def __init__(self, net: nn.Module, dim: int = -1, descending: bool = True) -> None:
        super().__init__()
        check_int(dim, "dim")
        self.net = check_module(net)
        self.dim = dim
        self.descending = bool(descending)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(sort_canonical(x, self.dim, self.descending))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, descending={self.descending}"
