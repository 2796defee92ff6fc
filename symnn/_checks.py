"""Argument checks shared by the functional forms and layers: one wording everywhere."""

from __future__ import annotations

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
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension; got a 0-dim tensor")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim {dim} is out of range for {name} of shape {tuple(x.shape)}")
    return dim % x.ndim
