"""Argument checks shared by the functional forms and layers: one wording everywhere."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def check_tensor(
    x: Any, name: str = "x", *, last_dim: int | None = None, floating: bool = True
) -> torch.Tensor:
    """``x`` itself, after checking it is a (floating) tensor with the given last dimension."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if floating and not (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{name} must have a floating dtype; got {x.dtype}")
    if last_dim is not None and (x.ndim == 0 or x.shape[-1] != last_dim):
        raise ValueError(f"{name} must have shape (..., {last_dim}); got {tuple(x.shape)}")
    return x


def check_module(net: Any, name: str = "net") -> nn.Module:
    """``net`` itself, after checking it is an ``nn.Module`` (so its parameters are registered)."""
    if not isinstance(net, nn.Module):
        raise TypeError(
            f"{name} must be a torch.nn.Module (wrap a plain function in a Module so its "
            f"parameters are tracked); got {type(net).__name__}"
        )
    return net


def check_dim(x: torch.Tensor, dim: int, name: str = "x") -> int:
    """``dim`` normalised to a non-negative index of ``x``'s dimensions."""
    check_int(dim, "dim")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension; got a 0-dim tensor")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim {dim} is out of range for {name} of shape {tuple(x.shape)}")
    return dim % x.ndim


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """``value`` itself, after checking it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        kind = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    return value


def check_count(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a count: an int of at least ``minimum`` (1 by default), a ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int of at least {minimum}"
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    return value


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value`` itself, after checking it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def check_symmetry(sym: Any, who: str) -> Any:
    """``sym`` itself, after checking it is a :class:`symnn.Symmetry`."""
    from symnn._symmetry import Symmetry  # _symmetry imports this module

    if not isinstance(sym, Symmetry):
        raise TypeError(f"{who} needs a symnn.Symmetry; got {type(sym).__name__}")
    return sym


def check_batch(x: Any, who: str) -> torch.Tensor:
    """``x`` as a batch of rows, shape ``(N, ...)``."""
    x = check_tensor(x, "x", floating=False)
    if x.ndim < 2:
        raise ValueError(
            f"{who} needs a batch x of shape (N, d) (one sample per row); got shape {tuple(x.shape)}"
            + ("; use x.unsqueeze(-1) for a single feature" if x.ndim == 1 else "")
        )
    return x


def check_rows(t: Any, n_rows: int, name: str, who: str) -> torch.Tensor:
    """``t`` after checking that it has one entry per sample: shape ``(N, ...)``."""
    t = check_tensor(t, name, floating=False)
    if t.ndim == 0 or t.shape[0] != n_rows:
        raise ValueError(
            f"{who}: {name} must have one row per sample of x, shape ({n_rows}, ...); got {tuple(t.shape)}"
        )
    return t


def check_scalable(t: torch.Tensor, name: str, sym: Any) -> torch.Tensor:
    """``t`` itself, after checking its dtype can hold ``sym``'s non-integer factors.

    A scaling or rotation of an integer tensor would be truncated back to integers
    (``torch.tensor([3]) * 0.7`` stored in an int tensor is 2): a silent wrong answer.
    """
    t = check_tensor(t, name, floating=False)
    if not (t.is_floating_point() or t.is_complex()):
        raise TypeError(
            f"{sym!r} multiplies {name} by non-integer factors, so {name} must have a floating dtype; "
            f"got {t.dtype} (convert it first, e.g. {name}.float())"
        )
    return t


def check_elements(elements: Any) -> Any:
    """``elements`` as a choice of group elements: None (sample), ``"all"``, or a non-empty list."""
    if elements is None or (isinstance(elements, str) and elements == "all"):
        return elements
    if isinstance(elements, str) or not isinstance(elements, Sequence) or len(elements) == 0:
        raise ValueError(
            f'elements must be None, "all" or a non-empty list of group elements; got {elements!r}'
        )
    return elements


def check_number(value: Any, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    """``value`` as a float, after checking it is a finite real number (positive or >= 0 if asked).

    Strings, ``None`` and bools are refused with the argument's name, never by ``float()``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and not value > 0) or (nonnegative and not value >= 0):
        kind = " positive" if positive else " non-negative" if nonnegative else ""
        raise ValueError(f"{name} must be a finite{kind} number; got {value!r}")
    return value


def check_positive_float(value: Any, name: str) -> float:
    """``value`` as a float, after checking it is a finite number > 0 (a tolerance, a scale)."""
    return check_number(value, name, positive=True)


def check_nonnegative_float(value: Any, name: str) -> float:
    """``value`` as a float, after checking it is a finite number >= 0 (a tolerance where 0 means exact)."""
    return check_number(value, name, nonnegative=True)


def check_callable(fn: Any, name: str = "fn") -> Any:
    """``fn`` itself, after checking it can be called (a function or an ``nn.Module``)."""
    if not callable(fn):
        raise TypeError(f"{name} must be a callable (a function or an nn.Module); got {type(fn).__name__}")
    return fn


def values_readable(t: torch.Tensor) -> bool:
    """Whether a check may read ``t``'s values (``bool()``): not on the meta device, which
    has none, and not while ``torch.compile`` traces, where it would break the graph."""
    return t.device.type != "meta" and not torch.compiler.is_compiling()
