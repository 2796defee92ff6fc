"""The plain backbone: a multilayer perceptron."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from symnn._checks import check_tensor

__all__ = ["MLP"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
}

Activation = str | Callable[[], nn.Module]


def _make_activation(activation: Activation) -> Callable[[], nn.Module]:
    if isinstance(activation, str):
        try:
            return _ACTIVATIONS[activation.lower()]
        except KeyError:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)} "
                "or pass a callable that returns an nn.Module"
            ) from None
    if isinstance(activation, nn.Module):
        raise TypeError(
            "pass the activation's class (e.g. nn.ReLU), not an instance, so each layer gets its own"
        )
    if not callable(activation):
        raise TypeError(f"activation must be a name or a callable returning an nn.Module; got {activation!r}")
    return activation


class MLP(nn.Module):
    r"""A multilayer perceptron: linear layers with an activation between them.

    .. math:: g(x) = W_L\,\sigma(\cdots \sigma(W_1 x + b_1) \cdots) + b_L

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output (last) dimensions.
    hidden : sequence of int
        Widths of the hidden layers; the lecture's default is three of 128.
    activation : str or callable
        ``"relu"``, ``"silu"`` (default: smooth, so derivatives of every order exist,
        and trains like ReLU), ``"tanh"``, ``"gelu"``, ``"softplus"``, ``"elu"``, or
        a callable returning a module, e.g. ``torch.nn.ReLU``.

    Shapes
    ------
    ``(..., in_features) -> (..., out_features)``.

    Examples
    --------
    >>> import torch, symnn
    >>> net = symnn.MLP(3, 1, hidden=(64, 64), activation="relu")
    >>> net(torch.rand(10, 3)).shape
    torch.Size([10, 1])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (128, 128, 128),
        activation: Activation = "silu",
    ) -> None:
        super().__init__()
        if isinstance(hidden, str) or not isinstance(hidden, Iterable):
            raise TypeError(
                f"hidden must be a sequence of layer widths, e.g. ({hidden!r},) for one layer; "
                f"got {type(hidden).__name__} {hidden!r}"
            )
        hidden = tuple(hidden)
        sizes = [in_features, *hidden, out_features]
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"layer sizes must be positive ints; got {sizes}")
        make = _make_activation(activation)
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(make())
        self.layers = nn.Sequential(*layers)
        self.in_features = in_features
        self.out_features = out_features
        self.hidden = hidden
        self.activation = (
            activation if isinstance(activation, str) else getattr(activation, "__name__", "custom")
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "MLP input", last_dim=self.in_features)
        return self.layers(x)

    #: A plain MLP guarantees no symmetry (wrap it, e.g. with :func:`symnn.enforce`).
    symmetry: None = None

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"hidden={self.hidden}, activation={self.activation!r}"
        )
