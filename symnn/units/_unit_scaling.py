r"""A change of units as a symmetry: one positive factor per base dimension."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from symnn._checks import check_tensor
from symnn._symmetry import Symmetry
from symnn.units._parse import BASE_DIMENSIONS, parse_unit
from symnn.units._pi import check_units

__all__ = ["UnitScaling"]


class UnitScaling(Symmetry):
    r"""Changes of units: the group :math:`\lambda \in (0, \infty)^m`, one factor per base dimension.

    A change of units multiplies each base dimension :math:`d` by a factor
    :math:`\lambda_d > 0` (metres to centimetres: :math:`\lambda_\text{length} = 100`).
    An input column of dimension :math:`\prod_d d^{D_{di}}` and the output of dimension
    :math:`\prod_d d^{(d_y)_d}` transform as

    .. math::

        x_i \mapsto \Big(\prod_d \lambda_d^{D_{di}}\Big) x_i, \qquad
        y \mapsto \Big(\prod_d \lambda_d^{(d_y)_d}\Big) y,

    and a physical law is equivariant under every such change (it is *covariant*).
    Elements are float64 tensors of shape ``(m,)`` (or ``(..., m)``, one element per
    row), ``m = len(dimensions)``, the factors of :attr:`dimensions` in SI order; random
    ones are drawn log-uniformly from ``scale_range`` for each dimension independently.
    Angles and other dimensionless columns do not change.  The group is infinite.

    The model that is exactly covariant by construction is
    :class:`~symnn.units.Dimensionless`, which carries this symmetry as its
    ``.symmetry``.

    Parameters
    ----------
    inputs : mapping
        Ordered ``{column: unit}``, as for :func:`~symnn.units.pi_groups`.
    output : (str, str)
        The output's name and unit; every output column carries this unit.
    scale_range : (float, float)
        The interval each factor is drawn from, both ends positive.

    Shapes
    ------
    Inputs ``(..., len(inputs))``, outputs ``(..., k)`` for any ``k``.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.UnitScaling({"L": "m", "g": "m/s**2"}, ("T", "s"))
    >>> sym.dimensions
    ('length', 'time')
    >>> g = torch.tensor([100.0, 10.0], dtype=torch.float64)  # cm, and tenths of a second
    >>> sym.act_input(g, torch.tensor([[1.0, 9.8]], dtype=torch.float64))
    tensor([[100.0000,   9.8000]], dtype=torch.float64)
    >>> sym.act_output(g, torch.tensor([[2.0]], dtype=torch.float64))
    tensor([[20.]], dtype=torch.float64)
    """

    is_finite = False

    def __init__(
        self,
        inputs: Mapping[str, str],
        output: tuple[str, str],
        scale_range: tuple[float, float] = (0.1, 10.0),
    ) -> None:
        self.inputs, self.output = check_units(inputs, output)
        low, high = (float(v) for v in scale_range)
        if not (0.0 < low <= high < math.inf):
            raise ValueError(f"scale_range must satisfy 0 < low <= high < inf; got {scale_range!r}")
        self.scale_range = (low, high)
        dims_in = [parse_unit(u, f"the unit of column {c!r}") for c, u in self.inputs.items()]
        dim_out = parse_unit(self.output[1], f"the unit of the output {self.output[0]!r}")
        #: The base dimensions that the factors of an element scale, in SI order.
        self.dimensions: tuple[str, ...] = tuple(
            d for d in BASE_DIMENSIONS if any(d in di for di in [*dims_in, dim_out])
        )
        as_float = [[float(di.get(d, 0)) for di in dims_in] for d in self.dimensions]
        self._input_exponents = torch.tensor(as_float, dtype=torch.float64).reshape(
            len(self.dimensions), len(dims_in)
        )
        self._output_exponents = torch.tensor(
            [float(dim_out.get(d, 0)) for d in self.dimensions], dtype=torch.float64
        )

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"the number of elements must be a non-negative int; got {n!r}")
        return list(self.sample_rows(n, generator).unbind(0))

    def sample_rows(
        self, batch_shape: int | Sequence[int], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        shape = (batch_shape,) if isinstance(batch_shape, int) else tuple(batch_shape)
        low, high = (math.log(v) for v in self.scale_range)
        u = torch.rand((*shape, len(self.dimensions)), generator=generator, dtype=torch.float64)
        return torch.exp(low + (high - low) * u)

    def inverse(self, g: Any) -> torch.Tensor:
        return 1.0 / self._element(g)

    def _element(self, g: Any) -> torch.Tensor:
        g = torch.as_tensor(g, dtype=torch.float64)
        if g.ndim == 0 or g.shape[-1] != len(self.dimensions):
            raise ValueError(
                f"an element of {self!r} is a tensor of shape (..., {len(self.dimensions)}), one "
                f"positive factor per dimension {self.dimensions}; got shape {tuple(g.shape)}"
            )
        return g

    def _factors(self, g: Any, exponents: torch.Tensor) -> torch.Tensor:
        """``prod_d g_d ** exponents[d, ...]``, shape ``(..., *exponents.shape[1:])``, float64."""
        g = self._element(g)
        g = g.reshape(*g.shape, *([1] * (exponents.ndim - 1)))
        return (g ** exponents.to(g.device)).prod(dim=g.ndim - exponents.ndim)

    def act_input(self, g: Any, x: torch.Tensor) -> torch.Tensor:
        x = check_tensor(x, "x")
        if x.ndim == 0 or x.shape[-1] != len(self.inputs):
            raise ValueError(
                f"x must have shape (..., {len(self.inputs)}), one column per input "
                f"({', '.join(self.inputs)}); got {tuple(x.shape)}"
            )
        return x * self._factors(g, self._input_exponents).to(dtype=x.dtype, device=x.device)

    def act_output(self, g: Any, y: torch.Tensor) -> torch.Tensor:
        y = check_tensor(y, "y")
        factor = self._factors(g, self._output_exponents).to(dtype=y.dtype, device=y.device)
        return y * factor.unsqueeze(-1)

    def __repr__(self) -> str:
        return f"UnitScaling({self.inputs!r}, {self.output!r}, scale_range={self.scale_range})"
