r"""Learning bias: put a symmetry into the loss.

The penalty is the mean squared violation of :math:`f(g\cdot x) = \rho(g) f(x)`
over some group elements; it is zero exactly when the model is symmetric on those
elements and inputs.  The transformed copies of the batch are evaluated batched,
one forward call per copy (see :func:`symmetry_penalty` for why not one call for
all of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from symnn._checks import (
    check_batch,
    check_callable,
    check_choice,
    check_count,
    check_elements,
    check_number,
    check_rows,
    check_symmetry,
)
from symnn._orbit import (
    TransformedCopies,
    call_each,
    check_checkpoint,
    identity_first,
    listed_elements,
    random_copies,
)
from symnn._symmetry import Symmetry

__all__ = ["symmetry_penalty", "SymmetryPenalty", "SymmetryPenaltySum"]

_REDUCTIONS = ("mean", "sum", "none")
Elements = str | Sequence[Any] | None


def _check_chunk_size(chunk_size: Any) -> int | None:
    return None if chunk_size is None else check_count(chunk_size, "chunk_size")


def _every_element(sym: Symmetry, who: str) -> list:
    hint = "sample some with n_elements=k (elements=None) instead"
    listed = listed_elements(sym, f'{who}(elements="all")', hint)
    if len(listed) < 2:
        raise ValueError(f"{sym!r} has only the identity: there is nothing to penalise")
    return listed


def _copies(
    sym: Symmetry,
    x: torch.Tensor,
    reference: torch.Tensor,
    elements: Elements,
    every: list | None,
    n_elements: int,
    generator: torch.Generator | None,
) -> TransformedCopies:
    if isinstance(elements, str):  # "all", checked
        listed = _every_element(sym, "symmetry_penalty") if every is None else every
        # The identity adds nothing (its term is 0 against f(x), the data loss itself
        # against y); it is found, not assumed to be listed first.
        return TransformedCopies.listed(sym, identity_first(sym, listed, x, reference)[1:])
    if elements is not None:
        return TransformedCopies.listed(sym, elements)
    return random_copies(sym, x, reference, check_count(n_elements, "n_elements"), generator)


def _evaluate(
    model: Callable[[torch.Tensor], torch.Tensor],
    x_copies: torch.Tensor,
    n_rows: int,
    chunk_size: int | None,
    checkpoint: bool | None,
) -> torch.Tensor:
    size = n_rows if chunk_size is None else chunk_size
    chunks = [x_copies] if size >= x_copies.shape[0] else list(x_copies.split(size))
    outputs = call_each(model, chunks, checkpoint)
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


def _reduce(squared: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return squared.mean()
    if reduction == "sum":
        return squared.sum()
    return squared


def symmetry_penalty(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sym: Symmetry,
    y: torch.Tensor | None = None,
    *,
    elements: Elements = None,
    n_elements: int = 1,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    chunk_size: int | None = None,
    output: torch.Tensor | None = None,
    checkpoint: bool | None = None,
) -> torch.Tensor:
    r"""The mean squared violation of the symmetry by ``model`` on the batch ``x``.

    .. math::

        P = \operatorname{mean}_{g,\,i}\ \lVert f(g\cdot x_i) - \rho(g)\, t_i \rVert^2,
        \qquad t_i = f(x_i) \ \text{(default)} \ \text{ or } \ t_i = y_i,

    the mean running over the elements, the rows and the output entries, as in
    :class:`torch.nn.MSELoss`.  With ``y`` it is the lecture's penalty, e.g.
    :math:`\sum_i \lVert A_i - f(a_i, c_i, b_i)\rVert^2 + \cdots` over permutations,
    or :math:`\sum_i \lVert s^2 A_i - f(s a_i, s b_i, s c_i)\rVert^2` for a random
    scale.  Without ``y`` it needs no labels and is 0 exactly when the model is
    symmetric on these inputs and elements.

    The gradient flows through both :math:`f(g\cdot x)` and :math:`f(x)`: ``P`` is a
    plain function of the parameters and its gradient is exact; no point of an orbit
    is singled out as the reference.  To treat :math:`f(x)` as a fixed target, pass
    ``output=model(x).detach()``.

    Parameters
    ----------
    model : callable
        ``(N, d) -> (N, k)``; rows must be independent (no batch norm in train mode).
    x : Tensor, shape ``(N, d)``
    sym : Symmetry
    y : Tensor, shape like ``model(x)``, optional
        Targets to compare the transformed outputs against, instead of ``f(x)``.
    elements : None, ``"all"`` or list
        ``None`` (default): ``n_elements`` random elements, drawn afresh at every call
        (a stochastic penalty; one per row when the symmetry supports
        :meth:`Symmetry.sample_rows`).  ``"all"``: every element of a finite group
        but the identity (its term is 0, or the data loss itself against ``y``), which
        is found wherever :meth:`Symmetry.elements` lists it.
        A list: exactly those elements, one copy each; an element may be one per row
        (from :meth:`Symmetry.sample_rows`).
    n_elements : int
        How many random elements per sample; each costs one forward pass of the batch.
    generator : torch.Generator, optional
        For reproducible draws.  Under ``torch.compile(fullgraph=True)`` a generator
        cannot enter the graph (a graph break): without one the draws come from torch's
        global generator inside the graph (seed it with :func:`torch.manual_seed`); to
        keep your own, draw outside the compiled function and pass the draws as
        ``elements``, a list with one per-row element per copy:
        ``elements=[sym.sample_rows((len(x),), generator) for _ in range(k)]``.
    reduction : {"mean", "sum", "none"}
        As in :mod:`torch.nn` losses; ``"none"`` returns the squared violations,
        shape ``(m, N, k)`` for ``m`` elements (``m`` first, then ``model(x)``'s shape).
    chunk_size : int, optional
        Rows per forward call over the stacked copies.  Default: ``N``, one call per
        copy.  Measured on a 2-core CPU (``benchmarks/bench_biases.py``, the 3x128
        MLP at N = 4000): one call on the 20,000 rows of a full permutation orbit
        costs 15-20 % more than five calls of 4000 (cache, not FLOPs).  And a call
        shaped like the one that made :math:`f(x)` computes every row the same way,
        so a symmetric model's penalty is exactly 0 (a kernel's rounding can depend
        on where a row sits in a batch).  ``chunk_size=m * N`` makes one call, which
        may win on a GPU or on oversubscribed cores.
    output : Tensor, optional
        ``model(x)`` when the training step has already computed it (for the data
        loss): saves a forward pass.  Not with ``y``.
    checkpoint : bool, optional
        Memory.  Under autograd every forward call keeps its activations until
        ``backward``, so ``m`` copies hold ``m`` times the activations of one call:
        ``elements="all"`` on ``Permutation(5)`` (119 copies) at N = 10,000 with the
        3x128 MLP holds 3.6 GB (``benchmarks/bench_memory.py``).  ``True`` checkpoints
        each call (:func:`torch.utils.checkpoint.checkpoint`, ``use_reentrant=False``):
        it keeps only its input and output and recomputes its activations during
        ``backward``, one call at a time, for the same value and the same gradient
        (to rounding; bit for bit with deterministic kernels) at the cost of one more
        forward pass per copy (the same case: under 0.2 GB).  The result stays an
        ordinary differentiable tensor: add it to the loss and call ``backward``
        (``autograd.grad``, double backward and ``torch.compile`` work;
        :func:`torch.func.grad` refuses checkpointing).  ``None`` (default): automatic;
        the first call's saved bytes are counted, and when that times the number of
        calls exceeds 256 MiB the other calls are
        checkpointed.  Without autograd, under ``torch.compile`` and under
        :mod:`torch.func` the automatic choice makes plain calls.  ``False``: never.

    Returns
    -------
    Tensor
        A scalar, or the unreduced squares for ``reduction="none"``.

    Raises
    ------
    ValueError
        A symmetry that does not fit ``x``; ``y`` (or ``output``) not shaped like the
        model's output; ``elements="all"`` for an infinite group
        (:class:`~symnn.InfiniteGroupError`).

    Examples
    --------
    A model made odd by :class:`~symnn.Odd` has penalty exactly 0; a plain MLP does not:

    >>> import torch, symnn
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(64, 1)
    >>> symnn.symmetry_penalty(symnn.Odd(symnn.MLP(1, 1)), x, symnn.Parity(-1), elements="all").item()
    0.0
    >>> bool(symnn.symmetry_penalty(symnn.MLP(1, 1), x, symnn.Parity(-1), elements="all") > 0)
    True

    The lecture's level 2 loss, with both penalties against the labels:

    >>> model, tri = symnn.MLP(3, 1), torch.rand(32, 3)
    >>> area = torch.rand(32, 1)
    >>> loss = (torch.nn.functional.mse_loss(model(tri), area)
    ...         + 0.5 * symnn.symmetry_penalty(model, tri, symnn.Permutation(3), area, elements="all")
    ...         + 0.5 * symnn.symmetry_penalty(model, tri, symnn.Scaling(degree=2), area))
    >>> loss.backward()
    """
    return _penalty(
        model, x, sym, y, elements, None, n_elements, generator, reduction, chunk_size, output, checkpoint
    )


def _penalty(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sym: Symmetry,
    y: torch.Tensor | None,
    elements: Elements,
    every: list | None,
    n_elements: int,
    generator: torch.Generator | None,
    reduction: str,
    chunk_size: int | None,
    output: torch.Tensor | None,
    checkpoint: bool | None,
) -> torch.Tensor:
    """:func:`symmetry_penalty`, with ``every`` the group's elements when already listed."""
    check_callable(model, "model")
    check_symmetry(sym, "symmetry_penalty")
    x = check_batch(x, "symmetry_penalty")
    reduction = check_choice(reduction, "reduction", _REDUCTIONS)
    chunk_size = _check_chunk_size(chunk_size)
    checkpoint = check_checkpoint(checkpoint)
    elements = check_elements(elements)
    n_rows = x.shape[0]
    if y is not None and output is not None:
        raise ValueError("give y (compare against the labels) or output (model(x)), not both")
    if y is not None:
        reference, name = check_rows(y, n_rows, "y", "symmetry_penalty"), "y"
    elif output is not None:
        reference, name = check_rows(output, n_rows, "output", "symmetry_penalty"), "output"
    else:
        reference, name = check_rows(model(x), n_rows, "model(x)", "symmetry_penalty"), "model(x)"
    plan = _copies(sym, x, reference, elements, every, n_elements, generator)
    expected = plan.outputs(reference, x.ndim, name)
    transformed = _evaluate(model, plan.inputs(x), n_rows, chunk_size, checkpoint)
    if transformed.shape != expected.shape:
        per_copy = (n_rows, *transformed.shape[1:])
        raise ValueError(
            f"{name} has shape {tuple(reference.shape)}, but the model's output on x has shape "
            f"{per_copy}: they must match exactly (broadcasting (N,) against (N, 1) would compare "
            "every row with every other)"
        )
    squared = (transformed - expected).square()
    if reduction == "none":
        return squared.reshape(plan.count, n_rows, *squared.shape[1:])
    return _reduce(squared, reduction)


class SymmetryPenalty(nn.Module):
    r"""The weighted symmetry penalty as a loss module: ``weight * symmetry_penalty(...)``.

    .. math:: \mathcal{L}_\text{sym} = w\ \operatorname{mean}_{g,\,i}\
              \lVert f(g\cdot x_i) - \rho(g)\, t_i \rVert^2

    Several terms add up with ``+`` into a :class:`SymmetryPenaltySum`, each with its
    own symmetry, weight and elements: the lecture's
    :math:`\mathcal{L} + w_p \mathcal{L}_p + w_s \mathcal{L}_s` reads as below.

    Parameters
    ----------
    sym : Symmetry
    weight : float
        The factor :math:`w` in front of the penalty.
    elements, n_elements, reduction, generator, chunk_size, checkpoint
        As for :func:`symmetry_penalty`; random elements are drawn afresh at every call.

    Call
    ----
    ``penalty(model, x, y=None, *, output=None)``: as :func:`symmetry_penalty`, with
    ``x`` of shape ``(..., d)``, ``y`` and ``output`` shaped like ``model(x)``; a scalar
    for ``reduction="mean"`` or ``"sum"``.

    Examples
    --------
    >>> import torch, symnn
    >>> model, x, y = symnn.MLP(3, 1), torch.rand(32, 3), torch.rand(32, 1)
    >>> penalty = (symnn.SymmetryPenalty(symnn.Permutation(3), weight=0.5, elements="all")
    ...            + symnn.SymmetryPenalty(symnn.Scaling(degree=2), weight=0.1))
    >>> loss = torch.nn.functional.mse_loss(model(x), y) + penalty(model, x, y)
    >>> loss.backward()
    >>> penalty
    SymmetryPenaltySum(
      (terms): ModuleList(
        (0): SymmetryPenalty(sym=Permutation(3), weight=0.5, elements='all')
        (1): SymmetryPenalty(sym=Scaling(degree=2, scale_range=(0.5, 2.0)), weight=0.1, n_elements=1)
      )
    )
    """

    def __init__(
        self,
        sym: Symmetry,
        weight: float = 1.0,
        elements: Elements = None,
        n_elements: int = 1,
        reduction: str = "mean",
        generator: torch.Generator | None = None,
        chunk_size: int | None = None,
        checkpoint: bool | None = None,
    ) -> None:
        super().__init__()
        self.sym = check_symmetry(sym, "SymmetryPenalty")
        self.weight = check_number(weight, "weight")
        self.elements = check_elements(elements)
        # "all" is listed once here (and checked finite now, not at the first step).
        self._every = _every_element(sym, "SymmetryPenalty") if isinstance(elements, str) else None
        self.n_elements = check_count(n_elements, "n_elements")
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)
        self.generator = generator
        self.chunk_size = _check_chunk_size(chunk_size)
        self.checkpoint = check_checkpoint(checkpoint)

    def forward(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        output: torch.Tensor | None = None,
    ) -> torch.Tensor:
        value = _penalty(
            model,
            x,
            self.sym,
            y,
            self.elements,
            self._every,
            self.n_elements,
            self.generator,
            self.reduction,
            self.chunk_size,
            output,
            self.checkpoint,
        )
        return self.weight * value

    def __add__(self, other: Any) -> SymmetryPenaltySum:
        return SymmetryPenaltySum(self, other)

    def __radd__(self, other: Any) -> SymmetryPenalty | SymmetryPenaltySum:
        # sum() starts from 0.
        if isinstance(other, int) and other == 0:
            return self
        return SymmetryPenaltySum(other, self)

    def extra_repr(self) -> str:
        if self.elements is None:
            which = f"n_elements={self.n_elements}"
        elif isinstance(self.elements, str):
            which = f"elements={self.elements!r}"
        else:
            which = f"elements=<{len(self.elements)} listed>"
        extra = "" if self.reduction == "mean" else f", reduction={self.reduction!r}"
        return f"sym={self.sym!r}, weight={self.weight:g}, {which}{extra}"


class SymmetryPenaltySum(nn.Module):
    r"""A sum of weighted symmetry penalties: :math:`\sum_j w_j P_j`.

    Made by adding :class:`SymmetryPenalty` modules with ``+`` (or ``sum([...])``).
    Without labels, ``model(x)`` is computed once and shared by the terms.

    Call
    ----
    ``penalties(model, x, y=None, *, output=None)``: the sum of the terms.

    Examples
    --------
    >>> import torch, symnn
    >>> model, x = symnn.MLP(3, 1), torch.rand(16, 3)
    >>> terms = [symnn.SymmetryPenalty(symnn.Permutation(3), 1.0, elements="all"),
    ...          symnn.SymmetryPenalty(symnn.Scaling(degree=2), 0.1)]
    >>> total = sum(terms)
    >>> total(model, x).shape
    torch.Size([])
    """

    terms: nn.ModuleList

    def __init__(self, *terms: SymmetryPenalty | SymmetryPenaltySum) -> None:
        super().__init__()
        flat: list[SymmetryPenalty] = []
        for term in terms:
            if isinstance(term, SymmetryPenaltySum):
                flat.extend(t for t in term.terms if isinstance(t, SymmetryPenalty))
            elif isinstance(term, SymmetryPenalty):
                flat.append(term)
            else:
                raise TypeError(f"only SymmetryPenalty terms can be added; got {type(term).__name__}")
        for term in flat:
            if term.reduction == "none":
                raise ValueError('terms with reduction="none" have different shapes and cannot be summed')
        self.terms = nn.ModuleList(flat)

    def forward(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        output: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if y is None and output is None and len(self.terms) > 1:
            output = model(x)
        total = self.terms[0](model, x, y, output=output)
        for term in self.terms[1:]:
            total = total + term(model, x, y, output=output)
        return total

    def __add__(self, other: Any) -> SymmetryPenaltySum:
        return SymmetryPenaltySum(self, other)

    def __radd__(self, other: Any) -> SymmetryPenaltySum:
        if isinstance(other, int) and other == 0:
            return self
        return SymmetryPenaltySum(other, self)
