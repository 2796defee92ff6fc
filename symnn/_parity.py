"""Odd and even parts of a function: f(x) = (g(x) ∓ g(-x)) / 2."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from symnn._checks import check_callable, check_module, check_tensor
from symnn._symmetry import Parity, Permutation, Rotation, Scaling, Symmetry, layer_symmetry

__all__ = ["odd_part", "even_part", "Odd", "Even"]

Function = Callable[[torch.Tensor], torch.Tensor]

# x -> -x commutes with every linear input action, and the odd/even part with every
# linear output action: the wrapped net's symmetries of these kinds hold for the part too.
_KEEPS = (Parity, Permutation, Scaling, Rotation)


def odd_part(fn: Function, x: torch.Tensor) -> torch.Tensor:
    r"""The odd part of ``fn`` at ``x``: :math:`f(x) = \tfrac12\,(g(x) - g(-x))`.

    Guarantee: :math:`f(-x) = -f(x)` bit for bit, because ``fn`` sees the same two
    tensors, in the same two calls, for ``x`` and for ``-x``, and IEEE subtraction
    is antisymmetric.  (A single call on ``cat([x, -x])`` would be cheaper to write
    but not exact: a kernel's result can depend on where a row sits in the batch,
    through vectorised tails and thread chunks.)

    Parameters
    ----------
    fn : callable
        Any function of a ``(..., d)`` tensor, usually an ``nn.Module``.
    x : Tensor, shape ``(..., d)``

    Returns
    -------
    Tensor
        Shaped like ``fn(x)``.

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import odd_part
    >>> odd_part(torch.exp, torch.tensor([0.0, 1.0]))  # sinh
    tensor([0.0000, 1.1752])
    """
    check_callable(fn)
    check_tensor(x)
    return (fn(x) - fn(-x)) / 2


def even_part(fn: Function, x: torch.Tensor) -> torch.Tensor:
    r"""The even part of ``fn`` at ``x``: :math:`f(x) = \tfrac12\,(g(x) + g(-x))`.

    Guarantee: :math:`f(-x) = f(x)` bit for bit (IEEE addition commutes).

    Parameters
    ----------
    fn, x
        As for :func:`odd_part`: any function of a ``(..., d)`` tensor, and the
        ``(..., d)`` input.  The result is shaped like ``fn(x)``.

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import even_part
    >>> even_part(torch.exp, torch.tensor([0.0, 1.0]))  # cosh
    tensor([1.0000, 1.5431])
    """
    check_callable(fn)
    check_tensor(x)
    return (fn(x) + fn(-x)) / 2


class Odd(nn.Module):
    r"""Make any network odd: :math:`f(x) = \tfrac12\,(g(x) - g(-x))`.

    Guarantee: :math:`f(-x) = -f(x)` exactly, in floating point, for any
    deterministic ``net`` (batch-coupled ones such as BatchNorm included: :math:`f(-x)`
    reuses the same two batches; random ones such as Dropout in training mode are
    not deterministic), given the same backend settings (device, thread count) for
    both evaluations.  Every odd function is its own odd part, so nothing is lost in
    expressiveness.  Costs two calls of ``net`` on batches shaped like ``x``, about
    one call on the doubled batch.

    Parameters
    ----------
    net : nn.Module
        The wrapped network :math:`g`, mapping ``(..., d)`` to ``(..., k)``.

    Shapes
    ------
    ``(..., d) -> (..., k)``, any number of leading dimensions.

    Examples
    --------
    >>> import torch, symnn
    >>> spring = symnn.Odd(symnn.MLP(1, 1))
    >>> x = torch.randn(8, 1)
    >>> torch.equal(spring(-x), -spring(x))
    True
    >>> spring.symmetry
    Parity(sign=-1)
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = check_module(net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return odd_part(self.net, x)

    @property
    def symmetry(self) -> Symmetry | None:
        """``Parity(-1)``, times the wrapped net's parity, permutation, scaling and rotation symmetries."""
        return layer_symmetry(Parity(-1), self.net, _KEEPS)


class Even(nn.Module):
    r"""Make any network even: :math:`f(x) = \tfrac12\,(g(x) + g(-x))`.

    Guarantee: :math:`f(-x) = f(x)` exactly, in floating point, for any
    deterministic ``net``, as for :class:`Odd`.

    Shapes
    ------
    ``(..., d) -> (..., k)``.

    Examples
    --------
    >>> import torch, symnn
    >>> energy = symnn.Even(symnn.MLP(2, 1))
    >>> x = torch.randn(8, 2)
    >>> torch.equal(energy(-x), energy(x))
    True
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = check_module(net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return even_part(self.net, x)

    @property
    def symmetry(self) -> Symmetry | None:
        """``Parity(+1)``, times the wrapped net's parity, permutation, scaling and rotation symmetries."""
        return layer_symmetry(Parity(+1), self.net, _KEEPS)
