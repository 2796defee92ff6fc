"""Group averaging (the Reynolds operator) over a finite symmetry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from symnn._checks import check_callable, check_module, check_symmetry, check_tensor
from symnn._orbit import act_input, act_output, call_each, check_checkpoint, listed_elements
from symnn._symmetry import Scaling, Symmetry, layer_symmetry

__all__ = ["symmetrize", "order_free_mean", "Symmetrize"]


def order_free_mean(terms: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""The mean of ``terms``, computed so that it does not depend on their order.

    .. math:: \bar t = \frac1m \sum_{j=1}^{m} t_j, \qquad
        \bar t(t_{\sigma(1)}, \dots, t_{\sigma(m)}) = \bar t(t_1, \dots, t_m) \ \text{for every } \sigma \in S_m

    Guarantee, bit for bit: the result is the same for any permutation of
    ``terms``, and negating every term negates the result.  Floating-point addition
    is not associative, so a plain ``sum`` of the same terms in another order can
    differ in the last bit; here each entry's values are sorted and then added in
    symmetric pairs, smallest with largest, so the summation order is a function of
    the multiset of values alone (and of its negation, reversed).

    Parameters
    ----------
    terms : sequence of Tensor, all of one shape

    Examples
    --------
    >>> import torch
    >>> from symnn.functional import order_free_mean
    >>> a, b, c = torch.tensor([0.1]), torch.tensor([0.2]), torch.tensor([0.3])
    >>> torch.equal(order_free_mean([a, b, c]), order_free_mean([c, a, b]))
    True
    """
    m = len(terms)
    if m == 0:
        raise ValueError("order_free_mean needs at least one term")
    first = tuple(check_tensor(terms[0], "terms[0]", floating=False).shape)
    for k, term in enumerate(terms):
        shape = tuple(check_tensor(term, f"terms[{k}]", floating=False).shape)
        if shape != first:
            raise ValueError(
                f"order_free_mean needs terms of one shape: terms[0] has shape {first}, "
                f"but terms[{k}] has shape {shape}"
            )
    ordered = torch.sort(torch.stack(list(terms)), dim=0).values
    half = m // 2
    pairs = ordered[:half] + ordered.flip(0)[:half]
    # Add the pair sums one at a time: the order is fixed by position, not left to a
    # reduction kernel that might split or vectorise differently.
    total = ordered[half] if m % 2 else pairs[0]
    start = 0 if m % 2 else 1
    for k in range(start, half):
        total = total + pairs[k]
    return total / m


def symmetrize(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sym: Symmetry,
    elements: Sequence[Any] | None = None,
    inverses: Sequence[Any] | None = None,
    checkpoint: bool | None = None,
) -> torch.Tensor:
    r"""Average ``fn`` over a finite group: :math:`f(x) = \frac{1}{|G|}\sum_{g} \rho(g)^{-1} g_\text{net}(g\cdot x)`.

    Guarantee: :math:`f(h \cdot x) = \rho(h) f(x)` for every :math:`h \in G`; exactly,
    bit for bit, when every :math:`\rho(g)` moves and negates entries (all built-in
    finite symmetries), and to rounding for a general linear :math:`\rho`.

    Parameters
    ----------
    fn : callable
        The network, called once per group element on a batch shaped like ``x``.
    x : Tensor, shape ``(..., d)``
    sym : Symmetry
        A finite symmetry.
    elements, inverses : sequence, optional
        ``sym.elements()`` and their inverses, when already at hand.
    checkpoint : bool, optional
        Memory under autograd: the :math:`|G|` calls keep :math:`|G|` times the
        activations of one call until ``backward``.  ``True`` checkpoints each call
        (:func:`torch.utils.checkpoint.checkpoint`, ``use_reentrant=False``): the same
        output and gradient for one more forward pass per element, holding one call's
        activations at a time.  ``None`` (default): automatic, checkpointed past 256 MiB
        of activations (the first call's saved bytes times
        :math:`|G|`); plain calls without autograd, under ``torch.compile`` and under
        :mod:`torch.func`.  ``False``: never.

    Examples
    --------
    >>> import torch, symnn
    >>> from symnn.functional import symmetrize
    >>> fn = lambda x: x[..., :1] * 10 + x[..., 1:2]   # not symmetric
    >>> x = torch.tensor([[1.0, 2.0, 3.0]])
    >>> symmetrize(fn, x, symnn.Permutation(3))
    tensor([[22.]])
    """
    check_callable(fn, "fn")
    check_tensor(x)
    checkpoint = check_checkpoint(checkpoint)
    if elements is None:
        elements = _finite_elements(sym, "symmetrize")
    if inverses is None:
        inverses = [sym.inverse(g) for g in elements]
    # One call per element on a batch shaped like x (not one call on the stacked orbit):
    # then g·(h·x) = (gh)·x reaches the net in the same call shape, at the same rows,
    # and exactness does not hang on how a kernel treats a row's position in a batch.
    # Every g·x is formed (and its shape checked) before the net sees any of them.
    moved = [act_input(sym, g, x) for g in elements]
    outputs = call_each(fn, moved, checkpoint)
    terms = [act_output(sym, g_inv, out, name="net's output") for out, g_inv in zip(outputs, inverses)]
    return order_free_mean(terms)


def _finite_elements(sym: Symmetry, who: str) -> list:
    check_symmetry(sym, who)
    hint = "averaging needs a finite group (for scaling use ScaleNormalize, or symnn.enforce)"
    return listed_elements(sym, who, hint)


class Symmetrize(nn.Module):
    r"""Make any network invariant or equivariant under a finite group by averaging.

    .. math:: f(x) = \frac{1}{|G|} \sum_{g \in G} \rho(g)^{-1}\, g_\text{net}(g \cdot x)

    Guarantee: :math:`f(h \cdot x) = \rho(h)\, f(x)` for all :math:`h \in G`, exactly
    in floating point for the built-in finite symmetries (their :math:`\rho` only
    moves and negates entries; the mean is taken in an order-free way).  Costs
    :math:`|G|` calls of ``net``; for permutations, :class:`PermutationSort` gives the
    same guarantee for one call.

    Parameters
    ----------
    net : nn.Module
        The wrapped network.
    sym : Symmetry
        A finite symmetry, e.g. ``Permutation(3)`` or ``Permutation(3) * Parity(-1)``.
    checkpoint : bool, optional
        Memory in training: the :math:`|G|` calls keep :math:`|G|` times one call's
        activations until ``backward`` (``Permutation(5)``: 120 times).  ``True``
        checkpoints each call (one more forward pass per element, one call's
        activations at a time, the same output and gradient); ``None`` (default)
        does so past 256 MiB; ``False`` never.  See
        :func:`symnn.functional.symmetrize`.

    Shapes
    ------
    ``(..., d) -> (..., k)``.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.Permutation(3)
    >>> tri = symnn.Symmetrize(symnn.MLP(3, 1), sym)
    >>> x = torch.rand(4, 3)
    >>> torch.equal(tri(x[:, [1, 2, 0]]), tri(x))
    True
    """

    def __init__(self, net: nn.Module, sym: Symmetry, checkpoint: bool | None = None) -> None:
        super().__init__()
        self.net = check_module(net)
        self.elements = _finite_elements(sym, "Symmetrize")
        self.sym = sym
        self.inverses = [sym.inverse(g) for g in self.elements]
        self.checkpoint = check_checkpoint(checkpoint)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return symmetrize(self.net, x, self.sym, self.elements, self.inverses, self.checkpoint)

    @property
    def symmetry(self) -> Symmetry | None:
        """The wrapped net's scaling (kept when the group acts linearly, as every group of
        matrices does), times ``sym``."""
        return layer_symmetry(self.sym, self.net, (Scaling,))

    def extra_repr(self) -> str:
        extra = "" if self.checkpoint is None else f", checkpoint={self.checkpoint}"
        return f"sym={self.sym!r}, order={len(self.elements)}{extra}"
