"""Sums of two models: a known baseline plus a learned correction, and a soft-symmetry pathway."""

from __future__ import annotations

import torch
from torch import nn

from symnn._checks import check_module, check_tensor
from symnn._symmetry import Symmetry, factors_of, product_of

__all__ = ["PhysicsResidual", "ResidualPathway"]


def _add_paths(first: nn.Module, second: nn.Module, x: torch.Tensor, names: tuple[str, str]) -> torch.Tensor:
    """``first(x) + second(x)``, refusing outputs of different shapes."""
    check_tensor(x)
    a = first(x)
    b = second(x)
    if a.shape != b.shape:
        # Broadcasting (n, 1) against (n,) would silently give (n, n).
        raise ValueError(
            f"{names[0]} output {tuple(a.shape)} and {names[1]} output {tuple(b.shape)} must match"
        )
    return a + b


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
        return _add_paths(self.baseline, self.correction, x, ("baseline", "correction"))

    @property
    def symmetry(self) -> Symmetry | None:
        """The symmetries both parts state (a sum of two equivariant maps is equivariant); None if none."""
        base = factors_of(getattr(self.baseline, "symmetry", None))
        shared = {repr(f) for f in factors_of(getattr(self.correction, "symmetry", None))}
        return product_of([f for f in base if repr(f) in shared])

    def extra_repr(self) -> str:
        return f"train_baseline={self.train_baseline}"


def _squared_norm(module: nn.Module, like: torch.Tensor) -> torch.Tensor:
    total = torch.zeros((), dtype=like.dtype, device=like.device)
    for p in module.parameters():
        if p.requires_grad:
            total = total + p.square().sum().to(like.dtype)
    return total


class ResidualPathway(nn.Module):
    r"""Soft symmetry: an exactly symmetric model plus a penalised free one (Finzi et al. 2021).

    .. math:: y = h(x) + g(x), \qquad
        \text{prior} = \lambda_g \lVert \theta_g \rVert^2 + \lambda_h \lVert \theta_h \rVert^2

    :math:`h` is exactly equivariant (e.g. a :class:`FrameAverage` or an e3nn
    network), :math:`g` is unconstrained.  Add :meth:`prior` to the loss: with
    :math:`\lambda_g \gg \lambda_h` (a Gaussian prior far narrower on the free
    path) the fit explains the data with :math:`h` whenever it can, and spends
    the free path only on what the symmetry cannot explain.  On symmetric data the
    free path is driven towards zero (the exact model is recovered); on nearly
    symmetric data it fits the asymmetric remainder.  This is the residual
    pathway prior of Finzi, Benton and Wilson, "Residual pathway priors for soft
    equivariance constraints" (NeurIPS 2021), with the two pathways summed at the
    output rather than in every layer, so any exact model and any backbone can be
    paired.

    No symmetry is guaranteed (``.symmetry`` is ``None``); the exact part's is
    ``.exact.symmetry`` when it has one.

    Parameters
    ----------
    exact : nn.Module
        The exactly symmetric model :math:`h`.
    free : nn.Module
        The unconstrained model :math:`g`, with the same output shape.
    free_decay : float
        :math:`\lambda_g \ge 0`, the weight of the squared norm of the free
        path's parameters (biases included) in :meth:`prior`.
    exact_decay : float
        :math:`\lambda_h \ge 0`, the same for the exact path (0: no prior).

    Shapes
    ------
    ``(..., d) -> (..., k)``.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.Rotation("5x0e + 5x1o", "ij", improper=True)
    >>> model = symnn.ResidualPathway(symnn.FrameAverage(symnn.MLP(20, 9), sym), symnn.MLP(20, 9), free_decay=1e-2)
    >>> x, y = torch.randn(8, 20), torch.randn(8, 9)
    >>> loss = torch.nn.functional.mse_loss(model(x), y) + model.prior()
    >>> loss.backward()
    """

    def __init__(
        self, exact: nn.Module, free: nn.Module, free_decay: float = 1e-2, exact_decay: float = 0.0
    ) -> None:
        super().__init__()
        self.exact = check_module(exact, "exact")
        self.free = check_module(free, "free")
        for name, value in (("free_decay", free_decay), ("exact_decay", exact_decay)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 <= value < float("inf")
            ):
                raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
        self.free_decay = float(free_decay)
        self.exact_decay = float(exact_decay)

    @property
    def symmetry(self) -> None:
        """``None``: a soft model guarantees no symmetry (see ``.exact.symmetry``)."""
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _add_paths(self.exact, self.free, x, ("exact", "free"))

    def prior(self) -> torch.Tensor:
        r"""The penalty to add to the loss: :math:`\lambda_g \lVert\theta_g\rVert^2 + \lambda_h \lVert\theta_h\rVert^2`."""
        like = next(self.parameters(), torch.zeros(()))
        return self.free_decay * _squared_norm(self.free, like) + self.exact_decay * _squared_norm(
            self.exact, like
        )

    def extra_repr(self) -> str:
        return f"free_decay={self.free_decay:g}, exact_decay={self.exact_decay:g}"
