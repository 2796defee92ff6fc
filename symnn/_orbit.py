r"""The orbit of a batch: which group elements to use, and the transformed copies.

One home for what :func:`symnn.augment`, :func:`symnn.symmetry_penalty`,
:class:`symnn.Symmetrize` and :mod:`symnn.testing` all need:

- choosing elements: every element of a finite group (:func:`listed_elements`, the
  identity found and put first whatever the order :meth:`Symmetry.elements` gives),
  ``k`` random ones (:func:`random_copies`, one per row where the symmetry supports
  :meth:`Symmetry.sample_rows`), or a given list;
- forming the transformed copies :math:`g\cdot x` and :math:`\rho(g)\,y` with an
  error that names the symmetry and the shape when an action does not fit
  (:func:`act_input`, :func:`act_output`, :class:`TransformedCopies`);
- calling the model on the copies with bounded memory (:func:`call_each`): under
  autograd every call keeps its activations until backward, so a call per element of
  a large group holds :math:`|G|` times the activations of one call (3.6 GB for the
  119 copies of a 10,000-row batch through the 3x128 MLP).  Past
  :data:`CHECKPOINT_BYTES` the calls are checkpointed
  (:func:`torch.utils.checkpoint.checkpoint`, ``use_reentrant=False``): each keeps
  only its input and output and recomputes its activations during backward, one call
  at a time, for the same gradient at the cost of one more forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint as _checkpoint

from symnn._symmetry import InfiniteGroupError, Parity, Permutation, ProductSymmetry, Symmetry

__all__ = [
    "act_input",
    "act_output",
    "listed_elements",
    "identity_first",
    "elements_to_check",
    "row_elements",
    "random_copies",
    "TransformedCopies",
    "CHECKPOINT_BYTES",
    "check_checkpoint",
    "call_each",
]


# --------------------------------------------------------------------------- actions


def _act(sym: Symmetry, method: str, g: Any, t: torch.Tensor, name: str) -> torch.Tensor:
    """``sym.<method>(g, t)``, or a clear error when the action does not fit ``t``."""
    try:
        out = getattr(sym, method)(g, t)
    except (ValueError, IndexError, RuntimeError) as err:
        raise ValueError(f"{sym!r} cannot act on {name} of shape {tuple(t.shape)}: {err}") from err
    if not isinstance(out, torch.Tensor) or out.shape != t.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"{sym!r}.{method} turned {name} of shape {tuple(t.shape)} into {got}: a group action "
            f"must keep the shape, so the symmetry does not fit {name}"
        )
    return out


def act_input(sym: Symmetry, g: Any, x: torch.Tensor, name: str = "x") -> torch.Tensor:
    r""":math:`g\cdot x`, or a clear error when the symmetry's action does not fit ``x``."""
    return _act(sym, "act_input", g, x, name)


def act_output(
    sym: Symmetry, g: Any, y: torch.Tensor, x_ndim: int | None = None, name: str = "y"
) -> torch.Tensor:
    r""":math:`\rho(g)\,y`, or a clear error when the action does not fit ``y``.

    With ``x_ndim``, a ``y`` with one dimension fewer than ``x`` (one value per row,
    ``(N,)``) gets a unit feature dimension while the symmetry acts: a per-row
    element then broadcasts over rows, not across them (``(N,) * (N, 1)`` would
    silently make an ``(N, N)`` table).
    """
    featureless = x_ndim is not None and y.ndim == x_ndim - 1
    gy = _act(sym, "act_output", g, y.unsqueeze(-1) if featureless else y, name)
    return gy.squeeze(-1) if featureless else gy


# --------------------------------------------------------------------------- choosing elements


def listed_elements(sym: Symmetry, who: str, hint: str) -> list[Any]:
    """Every element of a finite group, or :class:`InfiniteGroupError` naming ``who`` and a way out."""
    if not sym.is_finite:
        raise InfiniteGroupError(f"{who} needs every element of the group, but {sym!r} is infinite; {hint}")
    return list(sym.elements())


def _probe(like: torch.Tensor, seed: int) -> torch.Tensor:
    """One random row shaped like a row of ``like`` (generic: no ties, no zeros)."""
    dtype = like.dtype if like.is_floating_point() else torch.float64
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((1, *like.shape[1:]), generator=generator, dtype=dtype).to(like.device)


def _fixes(sym: Symmetry, g: Any, x: torch.Tensor, y: torch.Tensor | None) -> bool:
    moved = [(act_input(sym, g, x), x)]
    if y is not None:
        moved.append((act_output(sym, g, y, x.ndim), y))
    return all(torch.allclose(a, b, rtol=1e-6, atol=0.0) for a, b in moved)


def _lists_identity_first(sym: Symmetry) -> bool:
    """Whether ``sym.elements()`` is symnn's own listing, which puts the identity first."""
    if type(sym) is ProductSymmetry:
        return all(_lists_identity_first(f) for f in sym.factors)
    return type(sym) in (Parity, Permutation)


def identity_first(
    sym: Symmetry, elements: list[Any], x: torch.Tensor, y: torch.Tensor | None = None
) -> list[Any]:
    """``elements`` (``sym.elements()``) with the identity first, wherever it was listed.

    The identity is the element that leaves a random row shaped like ``x`` (and one
    shaped like ``y``) unchanged; callers that drop it (its copy is the original,
    its penalty term is 0) then do not depend on the order a user listed the group
    in.  The built-in finite symmetries (:class:`Parity`, :class:`Permutation` and
    products of them, not subclasses) list it first and are not probed: no value is
    read, so ``torch.compile`` traces them without a graph break.

    Raises
    ------
    ValueError
        When no element leaves the rows unchanged: the list is not a group.
    """
    if _lists_identity_first(sym):
        return list(elements)
    probe_x = _probe(x, 0)
    probe_y = None if y is None else _probe(y, 1)
    for k, g in enumerate(elements):
        try:
            fixed = _fixes(sym, g, probe_x, probe_y)
        except ValueError:
            # The action does not fit: say so for x and y themselves, not for the probes.
            act_input(sym, g, x)
            if y is not None:
                act_output(sym, g, y, x.ndim)
            raise
        if fixed:
            return [g, *elements[:k], *elements[k + 1 :]]
    raise ValueError(
        f"{sym!r}.elements() lists no identity: none of its {len(elements)} elements leaves a "
        "random input (and output) unchanged, so the list is not a group"
    )


def elements_to_check(
    sym: Symmetry, elements: Sequence[Any] | None, n_elements: int, generator: torch.Generator | None
) -> list[Any]:
    """The checker's choice: the given elements; else every element of a finite group;
    else (infinite, or finite but too large to list) ``n_elements`` drawn with
    ``generator``, seeded with 0 when not given."""
    if elements is not None:
        return list(elements)
    if sym.is_finite:
        try:
            return list(sym.elements())
        except InfiniteGroupError:
            raise
        except ValueError:
            pass  # finite but too large to list (e.g. Permutation(9)): sample it instead
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    return list(sym.sample(n_elements, generator))


def row_elements(sym: Symmetry, batch_shape: Sequence[int], generator: torch.Generator | None) -> Any:
    """One random element per row (:meth:`Symmetry.sample_rows`), or None if unsupported."""
    try:
        return sym.sample_rows(tuple(batch_shape), generator)
    except NotImplementedError:
        return None


# --------------------------------------------------------------------------- copies


def _repeat_rows(t: torch.Tensor, times: int) -> torch.Tensor:
    return t.repeat(times, *([1] * (t.ndim - 1)))


class TransformedCopies:
    """``count`` transformed copies of a batch of ``n_rows`` rows, stacked copy by copy.

    Row ``c * n_rows + i`` of :meth:`inputs` is :math:`g_{c,i} \\cdot x_i`; the
    elements are either one per copy (``elements``, a list) or one per row of the
    stacked copies (``per_row``, from :meth:`Symmetry.sample_rows`).
    """

    def __init__(
        self, sym: Symmetry, *, elements: list[Any] | None = None, per_row: Any = None, count: int
    ) -> None:
        self.sym = sym
        self.elements = elements
        self.per_row = per_row
        self.count = count

    @classmethod
    def listed(cls, sym: Symmetry, elements: Sequence[Any]) -> TransformedCopies:
        """One copy per given element."""
        return cls(sym, elements=list(elements), count=len(elements))

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        if self.elements is None:
            return act_input(self.sym, self.per_row, _repeat_rows(x, self.count))
        return torch.cat([act_input(self.sym, g, x) for g in self.elements])

    def outputs(self, y: torch.Tensor, x_ndim: int, name: str = "y") -> torch.Tensor:
        if self.elements is None:
            return act_output(self.sym, self.per_row, _repeat_rows(y, self.count), x_ndim, name)
        return torch.cat([act_output(self.sym, g, y, x_ndim, name) for g in self.elements])


def random_copies(
    sym: Symmetry,
    x: torch.Tensor,
    y: torch.Tensor | None,
    count: int,
    generator: torch.Generator | None,
) -> TransformedCopies:
    """``count`` random copies: a fresh element per row where the shapes allow it."""
    n_rows = x.shape[0]
    # Per-row elements broadcast over a (N, d) batch and (N, k) or (N,) targets; for
    # other shapes the row-wise broadcasting of a user's action is not defined, so
    # each copy gets one element for the whole batch (still correct, less varied).
    if x.ndim == 2 and (y is None or y.ndim <= 2):
        per_row = row_elements(sym, (count * n_rows,), generator)
        if per_row is not None:
            return TransformedCopies(sym, per_row=per_row, count=count)
    return TransformedCopies.listed(sym, sym.sample(count, generator))


# --------------------------------------------------------------------------- calling the model

CHECKPOINT_BYTES = 256 * 2**20
"""The automatic choice checkpoints the calls when their activations, kept for backward,
would take more than this many bytes (256 MiB): measured on the first call, times the
number of calls."""


def check_checkpoint(value: Any) -> bool | None:
    """``checkpoint`` as None (automatic), True or False."""
    if value is not None and not isinstance(value, bool):
        raise TypeError(
            f"checkpoint must be None (automatic), True or False; got {type(value).__name__} {value!r}"
        )
    return value


def _hooks_allowed() -> bool:
    """Whether saved-tensor hooks (and so checkpointing) may run here: not while
    ``torch.compile`` traces (no bytes to count there), not inside
    :func:`torch.func.grad` and kin, which refuse them."""
    if torch.compiler.is_compiling():
        return False
    try:
        with torch.autograd.graph.saved_tensors_hooks(_same, _same):
            return True
    except RuntimeError:
        return False


def _same(t: torch.Tensor) -> torch.Tensor:
    return t


def _measured_call(fn: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``fn(t)`` and the bytes autograd saved for its backward (each storage once;
    leaves that require grad, the parameters, are not counted: they are kept anyway)."""
    seen: dict[tuple[torch.device, int], int] = {}

    def pack(saved: torch.Tensor) -> torch.Tensor:
        if not (saved.requires_grad and saved.grad_fn is None) and saved.layout == torch.strided:
            storage = saved.untyped_storage()
            seen[(saved.device, storage.data_ptr())] = storage.nbytes()
        return saved

    with torch.autograd.graph.saved_tensors_hooks(pack, _same):
        out = fn(t)
    return out, sum(seen.values())


def call_each(
    fn: Callable[[torch.Tensor], torch.Tensor], inputs: Sequence[torch.Tensor], checkpoint: bool | None
) -> list[torch.Tensor]:
    """``[fn(t) for t in inputs]``, checkpointed when asked or when it would hold too much.

    ``checkpoint=True``: every call is checkpointed (``use_reentrant=False``, so the
    outputs stay ordinary differentiable tensors: ``backward``, ``autograd.grad``,
    double backward and ``torch.compile`` work as usual; :func:`torch.func.grad` does
    not support it).  ``False``: plain calls.  ``None``: the first call is plain and
    the bytes it saves for backward are counted; when that times ``len(inputs)``
    exceeds :data:`CHECKPOINT_BYTES`, the other calls are checkpointed.  Without
    autograd (``no_grad``, nothing requiring grad), under ``torch.compile`` and under
    :mod:`torch.func` transforms the automatic choice makes plain calls.
    """
    if checkpoint is False or not inputs or not torch.is_grad_enabled():
        return [fn(t) for t in inputs]
    if checkpoint is True:
        return [_checkpoint(fn, t, use_reentrant=False) for t in inputs]
    if len(inputs) == 1 or not _hooks_allowed():
        return [fn(t) for t in inputs]
    first, saved = _measured_call(fn, inputs[0])
    if saved * len(inputs) <= CHECKPOINT_BYTES:
        return [first, *(fn(t) for t in inputs[1:])]
    return [first, *(_checkpoint(fn, t, use_reentrant=False) for t in inputs[1:])]
