r"""An exactly unit-covariant model: :math:`y = \text{scale}(x)\,g(\Pi(x))`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction

import torch
from torch import nn

from symnn._checks import check_module, check_tensor
from symnn.priors._safe_power import safe_power
from symnn.units._pi import PiGroups, pi_groups
from symnn.units._unit_scaling import UnitScaling

__all__ = ["power_product", "pi_features", "dimensionless", "Dimensionless"]


def _power(x: torch.Tensor, exponent: Fraction) -> torch.Tensor:
    """:math:`x^e` with finite gradients at the edges (see :func:`power_product`)."""
    if exponent.denominator != 1:
        return safe_power(x, float(exponent))
    k = exponent.numerator
    if k > 0:
        return x**k
    # A negative integer power: a pole at 0.  Evaluate away from 0 and select the
    # constant +inf there, so no inf reaches the backward pass.  "== 0", not "!= 0":
    # a NaN must reach the power and stay NaN.
    zero = x == 0
    return torch.where(zero, math.inf, torch.where(zero, torch.ones_like(x), x) ** k)


def _check_columns(x: torch.Tensor, n: int) -> torch.Tensor:
    check_tensor(x)
    if x.ndim == 0 or x.shape[-1] != n:
        raise ValueError(f"x must have shape (..., {n}), one column per input; got {tuple(x.shape)}")
    return x


def power_product(x: torch.Tensor, exponents: Sequence[Fraction | int]) -> torch.Tensor:
    r"""The product of powers :math:`\prod_i x_i^{e_i}` of each row, computed in float64.

    Each power is one correctly rounded ``pow`` in float64 (not :math:`\exp \sum e_i
    \log x_i`, whose error grows with :math:`|\log x|`), so the product of a float32 input
    is exact to its own rounding and cannot overflow on the way.  Columns with
    :math:`e_i = 0` are not read at all.  Domain, per column:

    - :math:`x_i > 0`: any exponent;
    - :math:`x_i < 0`: integer exponents only (the sign comes out right); a fractional
      exponent of a negative number is NaN, with a zero gradient;
    - :math:`x_i = 0`: :math:`e_i > 0` gives 0 (gradient 0 for fractional
      :math:`e_i < 1`, the exact one otherwise); :math:`e_i < 0` is a pole, ``+inf``.

    NaN in a column that is read gives NaN.  Where a factor is NaN or infinite the
    product is a constant: its gradient is zero, in every column.

    Parameters
    ----------
    x : Tensor, shape ``(..., n)``
    exponents : sequence of n Fractions or ints

    Returns
    -------
    Tensor, shape ``(...,)``, float64.

    Examples
    --------
    >>> import torch
    >>> from fractions import Fraction
    >>> from symnn.functional import power_product
    >>> x = torch.tensor([[4.0, 9.0], [-2.0, 1.0]])
    >>> power_product(x, [Fraction(1, 2), Fraction(-1, 2)])   # sqrt(L/g)
    tensor([0.6667,    nan], dtype=torch.float64)
    >>> power_product(x, [3, -1])
    tensor([ 7.1111, -8.0000], dtype=torch.float64)
    """
    x = _check_columns(x, len(exponents))
    wide = x.to(torch.promote_types(x.dtype, torch.float64))
    out = torch.ones(x.shape[:-1], dtype=wide.dtype, device=x.device)
    raw = out
    finite = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    for i, e in enumerate(exponents):
        e = Fraction(e)
        if e:
            power = _power(wide[..., i], e)
            ok = torch.isfinite(power)
            # Multiply finite factors only: d(ab)/db = a would carry a NaN or inf factor
            # into the gradient of the others (0 * NaN = NaN) even where it is not wanted.
            out = out * torch.where(ok, power, torch.ones_like(power))
            raw = raw * power.detach()
            finite = finite & ok
    # Where a factor is NaN or infinite the product is that constant (zero gradient).
    return torch.where(finite, out, raw)


def pi_features(x: torch.Tensor, pi: PiGroups) -> torch.Tensor:
    r"""The dimensionless groups :math:`\Pi_j(x)` of each row, in ``x``'s dtype.

    Parameters
    ----------
    x : Tensor, shape ``(..., n)``
        The columns ``pi.inputs``.
    pi : PiGroups

    Returns
    -------
    Tensor, shape ``(..., k)``, ``k = len(pi.groups)`` (``k = 0`` is allowed).

    Examples
    --------
    >>> import torch
    >>> from symnn.units import pi_groups
    >>> from symnn.functional import pi_features
    >>> pi = pi_groups({"a": "m", "b": "m", "c": "m"}, ("A", "m**2"))
    >>> pi_features(torch.tensor([[3.0, 4.0, 5.0]]), pi)
    tensor([[0.7500, 0.6000]])
    """
    x = _check_columns(x, len(pi.inputs))
    groups = [power_product(x, g).to(x.dtype) for g in pi.groups]
    if not groups:
        return x[..., :0]
    return torch.stack(groups, dim=-1)


def dimensionless(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, pi: PiGroups) -> torch.Tensor:
    r"""Evaluate ``fn`` on the Π groups and restore the output's unit: :math:`s(x)\,g(\Pi(x))`.

    Guarantee: for every change of units :math:`\lambda` (see
    :class:`~symnn.UnitScaling`), :math:`f(D(\lambda) x) = \lambda_\text{out} f(x)` to
    rounding, and :math:`f` does not read the columns in ``pi.dropped`` (bit for bit the
    same output and a zero gradient for any finite or infinite value there; a NaN there
    still gives NaN).  The domain of each column is that of :func:`power_product`:
    negative values only where all its exponents are integers (else NaN), zero only where
    they are positive.  A zero that divides is a pole: in the scale the output is
    :math:`+\infty \cdot g`; in a group (an infinite :math:`\Pi`) the row is outside
    the law's domain and gives NaN.  Rows outside the domain have zero gradients, and
    ``fn`` never sees a NaN or inf there, so they cannot poison the parameters' gradients.

    Parameters
    ----------
    fn : callable
        The network :math:`g`, ``(..., k) -> (..., *out)``.
    x : Tensor, shape ``(..., n)``
    pi : PiGroups

    Returns
    -------
    Tensor, shape ``(..., *out)``, the dtype of ``fn``'s output.

    Examples
    --------
    >>> import torch
    >>> from symnn.units import pi_groups
    >>> from symnn.functional import dimensionless
    >>> pi = pi_groups({"L": "m", "g": "m/s**2"}, ("T", "s"))
    >>> two_pi = lambda p: torch.full((*p.shape[:-1], 1), 2 * torch.pi)   # Φ = 2π, no group
    >>> dimensionless(two_pi, torch.tensor([[1.0, 9.81]]), pi)
    tensor([[2.0061]])
    """
    x = _check_columns(x, len(pi.inputs))
    groups = pi_features(x, pi)
    lead = x.shape[:-1]
    # Rows outside the domain (a NaN or an infinite group) give NaN, but the network sees a
    # stand-in there: a NaN or inf reaching its backward pass would poison the gradients
    # of every parameter, even with a zero upstream gradient (0 * NaN = NaN).
    finite_groups = torch.isfinite(groups)
    y = fn(torch.where(finite_groups, groups, torch.zeros_like(groups)))
    if not isinstance(y, torch.Tensor) or y.shape[: len(lead)] != lead:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"fn must keep the leading shape {tuple(lead)} of x; got output {got}")
    expand = (*lead, *([1] * (y.ndim - len(lead))))
    invalid = ~finite_groups.all(-1)
    if any(pi.scale):
        scale = power_product(x, pi.scale).to(y.dtype).reshape(expand)
        finite = torch.isfinite(scale)
        # A pole of the scale (a zero that divides) keeps its value, inf times g, as a constant.
        scaled = torch.where(finite, scale, torch.ones_like(scale)) * y
        y = torch.where(finite, scaled, (scale * y).detach())
        invalid = invalid | torch.isnan(scale).reshape(lead)
    if pi.dropped:
        # The dropped columns are never read, but a NaN there is still not a number to hide.
        columns = [pi.inputs.index(c) for c in pi.dropped]
        invalid = invalid | torch.isnan(x[..., columns]).any(-1)
    return torch.where(invalid.reshape(expand), math.nan, y)


class Dimensionless(nn.Module):
    r"""Make any network exactly unit-covariant: :math:`y = s(x)\,g(\Pi_1(x), \dots, \Pi_k(x))`.

    From the declared units, :func:`~symnn.units.pi_groups` finds the dimensionless
    groups :math:`\Pi_j` and the product of powers :math:`s(x)` that carries the
    output's unit; the network :math:`g` sees only the groups.  Guarantee: for every
    positive rescaling :math:`\lambda` of the base dimensions (a change of units),

    .. math:: f(D(\lambda)\,x) = \lambda_\text{out}\, f(x)

    to rounding, so a model trained on Earth is right on the Moon; and the inputs that
    drop out of the analysis (``analysis.dropped``) do not enter, bit for bit.  The
    symmetry is :attr:`symmetry`, a :class:`~symnn.UnitScaling`.

    Domain (per column; :func:`~symnn.functional.dimensionless`): positive values
    always; negative values only where every exponent of the column is an integer
    (signed quantities raised to integer powers; a fractional power of a negative
    number gives NaN); zero only where every exponent is positive (a zero that divides
    is a pole: ``inf`` in the scale, NaN in a group).  Gradients are finite everywhere,
    and zero on rows outside the domain, which never reach ``net``.  NaN in gives NaN
    out.

    Parameters
    ----------
    net : nn.Module
        :math:`g`, mapping ``(..., k)`` groups to ``(..., *out)``; with no group
        (``k = 0``) it receives a ``(..., 0)`` tensor and plays the constant.
    inputs : mapping
        Ordered ``{column: unit}``, as for :func:`~symnn.units.pi_groups`.
    output : (str, str)
        The output's name and unit.

    Attributes
    ----------
    analysis : PiGroups
        The Π analysis; ``print(model.analysis)`` shows it.

    Shapes
    ------
    ``(..., len(inputs)) -> (..., *out)``.

    Examples
    --------
    >>> import torch, symnn
    >>> units = {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}
    >>> model = symnn.Dimensionless(symnn.MLP(1, 1), units, ("T", "s")).double()
    >>> x = torch.tensor([[1.0, 0.5, 9.81, 0.3]], dtype=torch.float64)
    >>> on_the_moon = x * torch.tensor([1.0, 1.0, 1.62 / 9.81, 1.0], dtype=torch.float64)
    >>> ratio = model(on_the_moon) / model(x)
    >>> bool(torch.isclose(ratio, torch.tensor((9.81 / 1.62) ** 0.5, dtype=torch.float64)))
    True
    """

    def __init__(self, net: nn.Module, inputs: Mapping[str, str], output: tuple[str, str]) -> None:
        super().__init__()
        self.net = check_module(net)
        self.analysis = pi_groups(inputs, output)
        width = getattr(net, "in_features", None)
        n_groups = len(self.analysis.groups)
        if isinstance(width, int) and not isinstance(width, bool) and width != n_groups:
            # The net sees the Π groups, not the columns: say so before the first call does.
            raise ValueError(
                f"Dimensionless: the net takes {width} inputs, but it sees the {n_groups} dimensionless "
                f"group(s) of {list(self.analysis.inputs)}, not the columns; build it with "
                f"in_features={n_groups}"
            )

    @property
    def symmetry(self) -> UnitScaling:
        """The change of units under which the model is covariant, exactly."""
        return UnitScaling(self.analysis.units, self.analysis.output)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dimensionless(self.net, x, self.analysis)

    def extra_repr(self) -> str:
        pi = self.analysis
        groups = ", ".join(map(str, pi.group_exprs))
        text = f"output={pi.output[0]} [{pi.output[1]}], scale={pi.scale_expr}, groups=({groups})"
        return text + (f", dropped={pi.dropped}" if pi.dropped else "")
