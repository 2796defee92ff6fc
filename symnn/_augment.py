r"""Observation bias: put a symmetry into the data.

For a symmetry with input action :math:`x \mapsto g\cdot x` and output action
:math:`y \mapsto \rho(g)\,y`, every labelled pair :math:`(x, y)` implies the pairs
:math:`(g\cdot x, \rho(g)\,y)`.  :func:`augment` adds them once (offline);
:class:`RandomAction` and :class:`AugmentedDataset` draw fresh ones at every step
(online), so an epoch costs what a plain epoch costs.

The transformed copies are formed by :mod:`symnn._orbit`, as for the penalty, the
checker and :class:`~symnn.Symmetrize`.  Integer data cannot be scaled or rotated
(the product would be truncated back to integers): such actions raise a
:class:`TypeError` naming the dtype, and permutations and sign flips of integer
data stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import torch
from torch.utils.data import Dataset, TensorDataset

from symnn._checks import check_batch, check_count, check_rows, check_symmetry, check_tensor
from symnn._orbit import (
    TransformedCopies,
    act_input,
    act_output,
    identity_first,
    listed_elements,
    random_copies,
    row_elements,
)
from symnn._symmetry import Symmetry

__all__ = ["augment", "RandomAction", "AugmentedDataset"]

Copies = str | int


# --------------------------------------------------------------------------- augment


def _terms(sym: Any, copies: Copies) -> list[tuple[Symmetry, Copies]]:
    if isinstance(sym, Symmetry):
        return [(sym, copies)]
    if not isinstance(sym, (list, tuple)) or not sym:
        raise TypeError(
            "sym must be a symnn.Symmetry or a non-empty list of Symmetry objects and "
            f"(Symmetry, copies) pairs; got {type(sym).__name__}"
        )
    terms = []
    for term in sym:
        if isinstance(term, Symmetry):
            terms.append((term, copies))
        elif isinstance(term, tuple) and len(term) == 2 and isinstance(term[0], Symmetry):
            terms.append(term)
        else:
            raise TypeError(
                f"each entry of the list must be a Symmetry or a (Symmetry, copies) pair; got {term!r}"
            )
    return terms


def _term_copies(
    sym: Symmetry,
    copies: Copies,
    x: torch.Tensor,
    y: torch.Tensor | None,
    generator: torch.Generator | None,
    with_identity: bool,
) -> TransformedCopies:
    if copies == "orbit":
        hint = "pass copies=k for k random elements per sample"
        elements = listed_elements(sym, 'augment(copies="orbit")', hint)
        # The identity's copy is the original: first, or left out.
        elements = identity_first(sym, elements, x, y)
        return TransformedCopies.listed(sym, elements if with_identity else elements[1:])
    if isinstance(copies, str):
        raise ValueError(f'copies must be "orbit" or a positive int; got {copies!r}')
    return random_copies(sym, x, y, check_count(copies, "copies"), generator)


def augment(
    x: torch.Tensor,
    y: torch.Tensor | None,
    sym: Symmetry | Sequence[Symmetry | tuple[Symmetry, Copies]],
    copies: Copies = "orbit",
    generator: torch.Generator | None = None,
    include_original: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    r"""The data set with the transformed copies of every sample added.

    Each pair :math:`(x_i, y_i)` gives the pairs :math:`(g\cdot x_i,\ \rho(g)\,y_i)`
    for the chosen elements :math:`g`; a model fitted to them is symmetric to the
    extent it fits them (the lecture's observation bias, level 1).

    Parameters
    ----------
    x : Tensor, shape ``(N, d)`` or ``(N, ...)``
        Inputs, one sample per row.
    y : Tensor, shape ``(N, k)`` or ``(N,)``, or None
        Targets, transformed by :meth:`Symmetry.act_output`; None to augment ``x`` alone.
    sym : Symmetry, or a list of Symmetry and ``(Symmetry, copies)`` pairs
        One symmetry; or several, each adding its own copies of the original samples
        (a bare Symmetry in the list uses ``copies``).  The original appears once.
        Use a product ``sym1 * sym2`` instead to transform by both at once.
    copies : ``"orbit"`` or int
        ``"orbit"``: one copy per element of a finite group (all :math:`|G|` of them;
        the identity, listed first, is the original).  An int ``k``: ``k`` random
        elements per sample, a fresh one for every row when the symmetry supports
        :meth:`Symmetry.sample_rows` and ``x`` is ``(N, d)``; otherwise one element
        per copy of the whole batch.
    generator : torch.Generator, optional
        For reproducible random elements.
    include_original : bool
        Whether the original samples come first.  With ``"orbit"`` this is the
        identity's copy; ``False`` leaves it out.

    Returns
    -------
    x_aug : Tensor, shape ``(C * N, ...)``
    y_aug : Tensor, shape ``(C * N, ...)``, or None when ``y`` is None
        Stacked copy by copy: rows ``c*N`` to ``(c+1)*N - 1`` are copy ``c`` of every
        sample, in the original order, so ``x_aug.view(C, N, d)[c]`` is copy ``c``.
        Copy 0 is the original when ``include_original``.  ``C`` is ``|G|`` for
        ``"orbit"``, ``k + 1`` for an int (``k`` without the original), and for a list
        1 + the copies each term adds (``|G| - 1`` for an orbit, ``k`` for an int).

    Raises
    ------
    InfiniteGroupError
        ``copies="orbit"`` for an infinite group (a :class:`ValueError`).
    ValueError
        An action that does not fit ``x`` or ``y``; ``y`` without one row per sample.

    Examples
    --------
    The lecture's level 1: the six permutations of each triangle, plus one randomly
    rescaled copy with the area times :math:`s^2` (seven times the data):

    >>> import torch, symnn
    >>> x = torch.tensor([[3.0, 4.0, 5.0]])
    >>> y = torch.tensor([[6.0]])                                  # area
    >>> level1 = [symnn.Permutation(3), (symnn.Scaling(degree=2), 1)]
    >>> x7, y7 = symnn.augment(x, y, level1, generator=torch.Generator().manual_seed(0))
    >>> x7.shape, y7.shape
    (torch.Size([7, 3]), torch.Size([7, 1]))
    >>> x7[:3]
    tensor([[3., 4., 5.],
            [3., 5., 4.],
            [4., 3., 5.]])
    >>> s = x7[6, 0] / 3.0                                         # the random scale
    >>> torch.allclose(y7[6], 6.0 * s**2)
    True
    """
    terms = _terms(sym, copies)
    x = check_batch(x, "augment")
    if y is not None:
        y = check_rows(y, x.shape[0], "y", "augment")
    for term_sym, _ in terms:
        check_symmetry(term_sym, "augment")
    # One term: its own identity copy is the original.  Several: the original once,
    # then each term's copies without it.
    single = len(terms) == 1
    blocks_x: list[torch.Tensor] = []
    blocks_y: list[torch.Tensor] = []
    if include_original and not (single and terms[0][1] == "orbit"):
        blocks_x.append(x)
        if y is not None:
            blocks_y.append(y)
    for term_sym, term_copies in terms:
        with_identity = single and include_original
        plan = _term_copies(term_sym, term_copies, x, y, generator, with_identity)
        if plan.count == 0:
            continue
        blocks_x.append(plan.inputs(x))
        if y is not None:
            blocks_y.append(plan.outputs(y, x.ndim))
    if not blocks_x:
        raise ValueError("augment made no copies: the orbit of a trivial group without its original")
    return torch.cat(blocks_x), (torch.cat(blocks_y) if y is not None else None)


# --------------------------------------------------------------------------- online


class RandomAction:
    r"""A transform that applies a fresh random group element to every sample.

    .. math:: (x_i, y_i) \mapsto (g_i\cdot x_i,\ \rho(g_i)\,y_i),\qquad g_i \text{ drawn anew at each call}

    Use it on each mini-batch in the training loop: every epoch sees new copies, and
    the cost is one action per batch (no larger data set).

    Parameters
    ----------
    sym : Symmetry
        Any symmetry, products and user-defined ones included.
    generator : torch.Generator, optional
        For reproducible draws.

    Call
    ----
    ``action(x, y=None, *, elements=None)``: with ``elements``, those (e.g. from
    :meth:`draw`) instead of fresh draws.  Under ``torch.compile(fullgraph=True)``
    without a generator the draws come from torch's global generator (seed it with
    :func:`torch.manual_seed`) inside the graph; with one, draw outside and pass them:

    >>> import torch, symnn
    >>> action = symnn.RandomAction(symnn.Permutation(3), generator=torch.Generator().manual_seed(0))
    >>> x = torch.rand(4, 3)
    >>> g = action.draw(x)                 # outside the compiled step: one permutation per row
    >>> torch.equal(action(x, elements=g), x.gather(-1, g))    # inside it: no generator
    True

    Shapes
    ------
    ``x``: ``(N, d)`` (one element per row) or ``(d,)`` (one sample);
    ``y``: ``(N, k)`` or ``(N,)`` (``(k,)`` or ``()`` for one sample).  A symmetry
    without :meth:`Symmetry.sample_rows`, or an ``x`` with more dimensions, gets one
    element per call for the whole batch.

    Returns
    -------
    ``(g·x, ρ(g)·y)`` when called with ``y``, else ``g·x``.

    Examples
    --------
    >>> import torch, symnn
    >>> flip = symnn.RandomAction(symnn.Parity(-1), generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[10.0], [20.0], [30.0]])
    >>> gx, gy = flip(x, y)
    >>> torch.equal(gy, 10 * gx)          # each row flipped (or not) together with its target
    True
    """

    def __init__(self, sym: Symmetry, generator: torch.Generator | None = None) -> None:
        self.sym = check_symmetry(sym, "RandomAction")
        self.generator = generator

    def draw(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Any:
        """The random element(s) a call on ``(x, y)`` would use, drawn with the generator.

        One per row (:meth:`Symmetry.sample_rows`, shape ``x.shape[:-1]``) when the
        symmetry supports it and ``x`` is ``(N, d)`` or ``(d,)``; else one element for
        the whole batch.  Only the shapes of ``x`` and ``y`` are read.  Draw outside a
        ``torch.compile`` region and pass the result as ``elements=``: a
        :class:`torch.Generator` cannot enter a compiled graph (a graph break), a tensor
        of draws can.
        """
        x, y = self._checked(x, y)
        g = None
        if x.ndim <= 2 and (y is None or y.ndim <= x.ndim):
            g = row_elements(self.sym, x.shape[:-1], self.generator)
        if g is None:
            g = self.sym.sample(1, self.generator)[0]
        return g

    def _checked(self, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = check_tensor(x, "x", floating=False)
        if x.ndim == 0:
            raise ValueError("RandomAction needs x of shape (N, d) or (d,); got a 0-dim tensor")
        if y is not None:
            y = check_tensor(y, "y", floating=False)
            if x.ndim == 2 and (y.ndim == 0 or y.shape[0] != x.shape[0]):
                raise ValueError(
                    f"RandomAction: y must have one row per row of x, shape ({x.shape[0]}, ...); "
                    f"got {tuple(y.shape)}"
                )
        return x, y

    @overload
    def __call__(self, x: torch.Tensor, y: None = None, *, elements: Any = None) -> torch.Tensor: ...

    @overload
    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, *, elements: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor | None = None, *, elements: Any = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x, y = self._checked(x, y)
        g = self.draw(x, y) if elements is None else elements
        gx = act_input(self.sym, g, x)
        if y is None:
            return gx
        return gx, act_output(self.sym, g, y, x.ndim)

    def __repr__(self) -> str:
        return f"RandomAction({self.sym!r})"


class AugmentedDataset(Dataset):
    r"""A dataset whose every item is transformed by a fresh random group element.

    .. math:: \text{item}_i = (g\cdot x_i,\ \rho(g)\,y_i),\qquad g \text{ drawn anew at each access}

    Wrap a dataset of ``(x, y)`` pairs, or the tensors ``(x, y)`` themselves, and
    hand it to a :class:`torch.utils.data.DataLoader`: every epoch sees new copies.
    For tensors, a :class:`~torch.utils.data.DataLoader` fetches a whole batch at
    once (``__getitems__``) with one element per row, at the cost of one action
    per batch.

    Parameters
    ----------
    data : Dataset or (Tensor, Tensor)
        Items ``(x_i, y_i)`` with ``x_i`` of shape ``(d,)`` and ``y_i`` of shape
        ``(k,)`` or ``()``.
    sym : Symmetry
    generator : torch.Generator, optional
        For reproducible draws.  With ``num_workers > 0`` each worker copies it and
        draws the same elements; leave it None there (the DataLoader seeds each
        worker's global generator differently).

    Examples
    --------
    >>> import torch, symnn
    >>> x = torch.tensor([[3.0, 4.0, 5.0], [1.0, 1.0, 1.0]])
    >>> y = torch.tensor([6.0, 0.433])
    >>> data = symnn.AugmentedDataset((x, y), symnn.Scaling(degree=2))
    >>> gx, gy = data[0]
    >>> torch.allclose(gy, 6.0 * (gx[0] / 3.0) ** 2)
    True
    >>> xb, yb = next(iter(torch.utils.data.DataLoader(data, batch_size=2)))
    >>> xb.shape, yb.shape
    (torch.Size([2, 3]), torch.Size([2]))
    """

    def __init__(
        self,
        data: Dataset | tuple[torch.Tensor, torch.Tensor],
        sym: Symmetry,
        generator: torch.Generator | None = None,
    ) -> None:
        self.sym = check_symmetry(sym, "AugmentedDataset")
        if isinstance(data, (tuple, list)):
            if len(data) != 2:
                raise ValueError(f"AugmentedDataset takes the tensors (x, y); got {len(data)} of them")
            x = check_batch(data[0], "AugmentedDataset")
            y = check_rows(data[1], x.shape[0], "y", "AugmentedDataset")
            self.tensors: tuple[torch.Tensor, torch.Tensor] | None = (x, y)
            data = TensorDataset(x, y)
        elif isinstance(data, Dataset):
            self.tensors = None
        else:
            raise TypeError(
                f"data must be a torch Dataset or a pair of tensors (x, y); got {type(data).__name__}"
            )
        self.data = data
        self.action = RandomAction(sym, generator)

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.data[index]
        return self.action(x, y)

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # The DataLoader's batched fetch: one vectorised action for the whole batch
        # instead of one Python call per item.
        if self.tensors is None:
            return [self[i] for i in indices]
        index = torch.as_tensor(indices)
        gx, gy = self.action(self.tensors[0][index], self.tensors[1][index])
        return list(zip(gx.unbind(0), gy.unbind(0)))

    def __repr__(self) -> str:
        return f"AugmentedDataset({len(self)} items, {self.sym!r})"
