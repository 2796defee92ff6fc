r"""Check a model's symmetry: the largest relative violation over group elements.

For a model :math:`f`, a :class:`~symnn.Symmetry` and inputs :math:`x_i`, the
violation at element :math:`g` and row :math:`i` is

.. math::

    e_{g,i} = \frac{\lVert f(g \cdot x)_i - \rho(g) f(x)_i \rVert}
                   {\max(\lVert \rho(g) f(x)_i \rVert, \text{floor})}

where entries that are equal (infinities included) differ by 0, :math:`0/0 := 0`
(both sides exactly zero) and :math:`d/0 := \infty` for :math:`d > 0` when
``floor`` is 0; a row where only one side is infinite has error :math:`\infty`.  The group action and the comparison run in
float64, so a float32 model is judged by its own rounding, not the checker's:
:math:`g \cdot x` is computed in float64 and rounded once to the model's input
dtype.  A NaN in either output is a violation (the error is NaN and the check
fails): a NaN cannot be shown to be symmetric.

Elements tried: those given; else every element of a finite group; else (an
infinite group, or a finite one too large to list) ``n_elements`` drawn with
``generator``, seeded with 0 when not given, so the default check is reproducible.

The symmetry may be left out when the model states it: every symnn layer (and a
stack of them, e.g. what :func:`symnn.enforce` builds) has a ``.symmetry``, so
``assert_equivariant(model, x)`` checks the model against its own promise.  An
empty batch raises :class:`ValueError`: a check over no inputs cannot fail, so it
would pass a broken model without a word.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from symnn._checks import check_callable, check_count, check_nonnegative_float, check_tensor
from symnn._orbit import act_input, act_output, elements_to_check
from symnn._symmetry import Symmetry

__all__ = ["equivariance_error", "assert_equivariant", "default_rtol"]

_DEFAULT_RTOL = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 3e-2}


def default_rtol(dtype: torch.dtype) -> float:
    """The tolerance :func:`assert_equivariant` uses when none is given."""
    return _DEFAULT_RTOL.get(dtype, 1e-4)


@dataclass
class _Worst:
    error: float
    element: Any
    element_index: int
    row: tuple[int, ...]
    x_row: torch.Tensor
    transformed_out: torch.Tensor
    expected_out: torch.Tensor
    output_dtype: torch.dtype


def _rows(t: torch.Tensor, n_rows: int) -> torch.Tensor:
    """``t`` as ``(n_rows, -1)`` when it has one row per input row, else one row."""
    if n_rows > 0 and t.numel() > 0 and t.numel() % n_rows == 0:
        return t.reshape(n_rows, -1)
    return t.reshape(1, -1)


def _relative_violation(transformed: torch.Tensor, expected: torch.Tensor, floor: float) -> torch.Tensor:
    """Per row ``|a - b| / max(|b|, floor)``; equal entries (inf included) differ by 0, NaN stays NaN."""
    # inf - inf would be NaN although both sides agree (e.g. the pole of a negative degree).
    gap = torch.where(transformed == expected, torch.zeros_like(expected), transformed - expected)
    diff = gap.norm(dim=-1)
    err = diff / expected.norm(dim=-1).clamp_min(floor)
    # 0/0 and 0/inf: both sides agree.  inf/inf: one side is infinite, the other not.
    err = torch.where(diff == 0, torch.zeros_like(err), err)
    err = torch.where(torch.isnan(err), torch.full_like(err, torch.inf), err)
    has_nan = torch.isnan(transformed).any(-1) | torch.isnan(expected).any(-1)
    return torch.where(has_nan, torch.full_like(err, torch.nan), err)


def _model_symmetry_input(model: Any, sym: Any, x: Any) -> tuple[Symmetry, torch.Tensor]:
    """``(sym, x)`` from ``(model, sym, x)`` or ``(model, x)`` with the model's own ``.symmetry``."""
    if x is None:
        if isinstance(sym, Symmetry):
            raise TypeError("the inputs x are missing: call (model, x) or (model, sym, x)")
        x, sym = sym, getattr(model, "symmetry", None)
        if not isinstance(sym, Symmetry):
            raise TypeError(
                f"{_name(model)} has no .symmetry to check against (only symnn layers state one); "
                "pass the symmetry: (model, sym, x)"
            )
    if not isinstance(sym, Symmetry):
        raise TypeError(f"sym must be a symnn.Symmetry; got {type(sym).__name__}")
    return sym, check_tensor(x, "x", floating=False)


def _worst_violation(
    model: Callable[[torch.Tensor], torch.Tensor],
    sym: Symmetry,
    x: torch.Tensor,
    elements: Sequence[Any] | None,
    n_elements: int,
    generator: torch.Generator | None,
    floor: float,
) -> _Worst:
    check_callable(model, "model")
    floor = check_nonnegative_float(floor, "floor")
    if elements is None:
        check_count(n_elements, "n_elements")
    if x.numel() == 0:
        raise ValueError(f"x is an empty batch (shape {tuple(x.shape)}): there is nothing to check")
    x = x.detach()
    batch_shape = tuple(x.shape[:-1]) if x.ndim > 0 else ()
    n_rows = x[..., 0].numel() if x.ndim > 0 else 1
    x64 = x.to(torch.float64)
    out = model(x).detach()
    output_dtype = out.dtype
    out = out.to(torch.float64)
    worst = None
    for k, g in enumerate(elements_to_check(sym, elements, n_elements, generator)):
        transformed_out = model(act_input(sym, g, x64).to(x.dtype)).detach().to(torch.float64)
        expected_out = act_output(sym, g, out, name="the model's output")
        if transformed_out.shape != expected_out.shape:
            raise ValueError(
                f"f(g·x) has shape {tuple(transformed_out.shape)} but ρ(g) f(x) has shape "
                f"{tuple(expected_out.shape)}: the symmetry's output action does not fit the model"
            )
        err = _relative_violation(_rows(transformed_out, n_rows), _rows(expected_out, n_rows), floor)
        if torch.isnan(err).any():
            row = int(torch.isnan(err).nonzero()[0, 0])
            value = float("nan")
        else:
            row = int(err.argmax())
            value = float(err[row])
        if worst is None or not (value <= worst.error):
            worst = _Worst(
                value,
                g,
                k,
                _unravel(row, batch_shape),
                x.reshape(n_rows, -1)[row] if n_rows > 1 else x,
                _rows(transformed_out, n_rows)[row],
                _rows(expected_out, n_rows)[row],
                output_dtype,
            )
            if value != value:  # NaN: nothing can be worse
                break
    if worst is None:
        raise ValueError("no group elements to check")
    return worst


def equivariance_error(
    model: Callable[[torch.Tensor], torch.Tensor],
    sym: Symmetry | torch.Tensor,
    x: torch.Tensor | None = None,
    *,
    elements: Sequence[Any] | None = None,
    n_elements: int = 16,
    generator: torch.Generator | None = None,
    floor: float = 0.0,
) -> float:
    r"""The largest relative symmetry violation of ``model`` over the elements tried.

    .. math::

        \max_{g, i} \frac{\lVert f(g \cdot x)_i - \rho(g) f(x)_i \rVert}
                         {\max(\lVert \rho(g) f(x)_i \rVert, \text{floor})}

    Parameters
    ----------
    model : callable
        Maps a ``(..., d)`` batch to outputs with the same leading shape.
    sym : Symmetry, optional
        The symmetry the model should have.  Leave it out, ``(model, x)``, to
        check the model's own ``.symmetry`` (every symnn layer states one).
    x : Tensor, shape ``(..., d)``, not empty
        Inputs; the model sees them in their own dtype.
    elements : sequence, optional
        The elements to try.  Default: every element of a finite group, or
        ``n_elements`` drawn with ``generator`` (seed 0 when not given).
    n_elements : int
        How many elements to draw from an infinite group.
    generator : torch.Generator, optional
        For drawing elements.
    floor : float
        Output norms below ``floor`` count as ``floor``, so that outputs that
        should be zero are judged absolutely.

    Returns
    -------
    float
        0.0 for an exact symmetry; ``nan`` when the model returns NaN.

    Examples
    --------
    >>> import torch, symnn
    >>> torch.manual_seed(0) and None
    >>> odd = symnn.Odd(symnn.MLP(1, 1))
    >>> symnn.testing.equivariance_error(odd, symnn.Parity(-1), torch.randn(100, 1))
    0.0
    >>> symnn.testing.equivariance_error(odd, torch.randn(100, 1))   # its own .symmetry
    0.0
    """
    symmetry, x = _model_symmetry_input(model, sym, x)
    return _worst_violation(model, symmetry, x, elements, n_elements, generator, floor).error


def assert_equivariant(
    model: Callable[[torch.Tensor], torch.Tensor],
    sym: Symmetry | torch.Tensor,
    x: torch.Tensor | None = None,
    *,
    rtol: float | None = None,
    elements: Sequence[Any] | None = None,
    n_elements: int = 16,
    generator: torch.Generator | None = None,
    floor: float = 0.0,
) -> float:
    r"""Raise :class:`AssertionError` unless :func:`equivariance_error` is at most ``rtol``.

    .. math::

        \max_{g, i} \frac{\lVert f(g \cdot x)_i - \rho(g) f(x)_i \rVert}
                         {\max(\lVert \rho(g) f(x)_i \rVert, \text{floor})} \le \text{rtol}

    The message names the group element and the input row that failed, with the
    two outputs that should have been equal.

    Parameters
    ----------
    rtol : float, optional
        The largest allowed relative violation, a number >= 0: ``0.0`` demands
        exactness, ``math.inf`` fails on NaN only.
        Default: :func:`default_rtol` of the model's output dtype (1e-10 for
        float64, 1e-4 for float32).
    model, sym, x, elements, n_elements, generator, floor
        As for :func:`equivariance_error`.

    Returns
    -------
    float
        The error, when the check passes.

    Examples
    --------
    >>> import torch, symnn
    >>> net = symnn.PermutationSort(symnn.MLP(3, 1)).double()
    >>> symnn.testing.assert_equivariant(net, symnn.Permutation(3), torch.rand(50, 3).double())
    0.0
    """
    if rtol is not None and not (isinstance(rtol, float) and rtol == math.inf):
        rtol = check_nonnegative_float(rtol, "rtol")
    symmetry, x = _model_symmetry_input(model, sym, x)
    worst = _worst_violation(model, symmetry, x, elements, n_elements, generator, floor)
    if rtol is None:
        rtol = default_rtol(worst.output_dtype)
    if worst.error <= rtol:
        return worst.error
    if worst.error != worst.error:
        verdict = "NaN in the outputs (a NaN cannot be checked for symmetry)"
    else:
        verdict = f"relative error {worst.error:.3e} > rtol {rtol:.1e}"
    raise AssertionError(
        f"{_name(model)} is not equivariant under {symmetry!r}: {verdict}\n"
        f"  element #{worst.element_index}: g = {_show(worst.element)}\n"
        f"  input row {_show_index(worst.row)} = {_show(worst.x_row)}\n"
        f"  f(g·x)  = {_show(worst.transformed_out)}\n"
        f"  ρ(g)f(x) = {_show(worst.expected_out)}"
    )


def _unravel(row: int, batch_shape: tuple[int, ...]) -> tuple[int, ...]:
    """A flat row number as an index into x's leading dimensions, e.g. 7 -> (1, 3)."""
    index = []
    for size in reversed(batch_shape):
        row, i = divmod(row, size)
        index.append(i)
    return tuple(reversed(index))


def _show_index(index: tuple[int, ...]) -> str:
    return "x[" + ", ".join(str(i) for i in index) + "]" if index else "x"


def _name(model: Any) -> str:
    return type(model).__name__ if isinstance(model, torch.nn.Module) else getattr(model, "__name__", "model")


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    if isinstance(value, torch.Tensor):
        return str(value.detach().cpu().tolist())
    return repr(value)
