"""Physics bias: a known baseline plus a learned correction."""

from __future__ import annotations

import torch
from torch import nn

from symnn._checks import check_module, check_tensor
from symnn._symmetry import Symmetry, factors_of, product_of

__all__ = ["PhysicsResidual"]


class PhysicsResidual(nn.Module):
    r"""A known law plus a learned correction: :math:`y = b(x) + \hat f(x)`.

    The network only has to learn what the baseline misses (the lecture's
    :math:`F = k^* x + \hat f(x)`).  The baseline may be fixed or carry learnable
    constants (e.g. a :class:`symnn.priors.SympyModule`).

    Parameters
    ----------
    baseline : nn.Module
        The known part :math:`b`.
    correction : nn.Module
        The learned part :math:`\hat f`; its output must have the baseline's shape.
    train_baseline : bool
        If False, the baseline's parameters are frozen (``requires_grad=False``).

    Shapes
    ------
    ``(..., d) -> (..., k)``, the shape of both parts' outputs.

    Examples
    --------
    >>> import torch, symnn
    >>> class Linear(torch.nn.Module):
    ...     def forward(self, x):
    ...         return 2.0 * x
    >>> model = symnn.PhysicsResidual(Linear(), symnn.Odd(symnn.MLP(1, 1)))
    >>> model(torch.zeros(3, 1)).shape
    torch.Size([3, 1])
    """

    def __init__(self, baseline: nn.Module, correction: nn.Module, train_baseline: bool = True) -> None:
        super().__init__()
        self.baseline = check_module(baseline, "baseline")
        self.correction = check_module(correction, "correction")
        self.train_baseline = bool(train_baseline)
        if not self.train_baseline:
            self.baseline.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x)
        base = self.baseline(x)
        delta = self.correction(x)
        if base.shape != delta.shape:
            # Broadcasting (n, 1) against (n,) would silently give (n, n).
            raise ValueError(
                f"baseline output {tuple(base.shape)} and correction output {tuple(delta.shape)} must match"
            )
        return base + delta

    @property
    def symmetry(self) -> Symmetry | None:
        """The symmetries both parts state (a sum of two equivariant maps is equivariant); None if none."""
        base = factors_of(getattr(self.baseline, "symmetry", None))
        shared = {repr(f) for f in factors_of(getattr(self.correction, "symmetry", None))}
        return product_of([f for f in base if repr(f) in shared])

    def extra_repr(self) -> str:
        return f"train_baseline={self.train_baseline}"
