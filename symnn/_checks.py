"""Argument checks shared by the functional forms and layers: one wording everywhere."""

from __future__ import annotations

import math
import numbers
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


def check_int(value: Any, name: str) -> int:
    """``value`` itself, after checking it is an int (a bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    return value


def check_number(value: Any, name: str, *, positive: bool = False) -> float:
    """``value`` as a float, after checking it is a finite real number (positive if asked).

    Strings, ``None`` and bools are refused with the argument's name, never by ``float()``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and not value > 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number; got {value!r}")
    return value


def check_positive_float(value: Any, name: str) -> float:
    """``value`` as a float, after checking it is a finite number > 0 (a tolerance, a scale)."""
    return check_number(value, name, positive=True)


def check_callable(fn: Any, name: str = "fn") -> Any:
    """``fn`` itself, after checking it can be called (a function or an ``nn.Module``)."""
    if not callable(fn):
        raise TypeError(f"{name} must be a callable (a function or an nn.Module); got {type(fn).__name__}")
    return fn


def values_readable(t: torch.Tensor) -> bool:
    """Whether a check may read ``t``'s values (``bool()``): not on the meta device, which
    has none, and not while ``torch.compile`` traces, where it would break the graph."""
    return t.device.type != "meta" and not torch.compiler.is_compiling()
