r"""``enforce(net, sym)``: the cheapest exact layer (or stack of layers) for a symmetry.

One table decides which layer builds in which symmetry (:data:`_RULES`); a product is
split into its factors, each factor gets its layer, and the layers are stacked from
the inside out by rank, so that every outer layer keeps the guarantees of the inner
ones (each layer's :attr:`symmetry` says which it keeps, and :func:`enforce` checks
that the stack reports every factor asked for).  A new layer for a symmetry (a frame
average for rotations, a dimensionless form for units) is one more row of the table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from symnn._checks import check_module, check_symmetry
from symnn._frame import FrameAverage
from symnn._orbit import act_input, act_output
from symnn._parity import Even, Odd
from symnn._permutation import PermutationSort, PermutationSortEquivariant
from symnn._scale import ScaleNormalize
from symnn._symmetrize import Symmetrize
from symnn._symmetry import Parity, Permutation, Rotation, Scaling, Symmetry, factors_of, product_of
from symnn.units import Dimensionless, UnitScaling

__all__ = ["enforce"]


@dataclass(frozen=True)
class _Rule:
    """How one kind of symmetry is built into a net.

    ``rank`` orders the layers of a stack from the inside (small) out; ``build``
    wraps a net for one factor.  ``net_sees_input`` is False for a layer that hands
    the net something else than the model's input (``Dimensionless`` gives it the Π
    groups), so the factor's action is not checked against the net's own sizes.
    """

    kind: type[Symmetry]
    rank: int
    build: Callable[[nn.Module, Any], nn.Module]
    net_sees_input: bool = True


def _permutation_layer(net: nn.Module, sym: Permutation) -> nn.Module:
    layer = PermutationSortEquivariant if sym.equivariant else PermutationSort
    return layer(net, n=sym.n)


def _parity_layer(net: nn.Module, sym: Parity) -> nn.Module:
    return Odd(net) if sym.sign == -1 else Even(net)


def _scaling_layer(net: nn.Module, sym: Scaling) -> nn.Module:
    return ScaleNormalize(net, degree=sym.degree)


def _units_layer(net: nn.Module, sym: UnitScaling) -> nn.Module:
    return Dimensionless(net, sym.inputs, sym.output)


def _rotation_layer(net: nn.Module, sym: Rotation) -> nn.Module:
    return FrameAverage(net, sym)


# The one place that decides.  Inside out: a sort sees the raw input (a sort outside
# an odd part would break the oddness: sort(-x) is not -sort(x)); the odd/even part
# keeps an inner sort's guarantee; ScaleNormalize keeps both (its scale is invariant
# under sign flips and permutations, bit for bit); Symmetrize, outermost, keeps an
# inner homogeneity (a linear group action commutes with positive scaling).
_RULES: tuple[_Rule, ...] = (
    _Rule(Permutation, 10, _permutation_layer),
    _Rule(Parity, 20, _parity_layer),
    _Rule(Scaling, 30, _scaling_layer),
    _Rule(UnitScaling, 35, _units_layer, net_sees_input=False),
    _Rule(Rotation, 38, _rotation_layer),
)
_SYMMETRIZE_RANK = 40
# What Symmetrize keeps of the layers inside it; other finite factors join its average.
_KEPT_BY_SYMMETRIZE: tuple[type[Symmetry], ...] = (Scaling,)


def _rule(factor: Symmetry) -> _Rule | None:
    return next((rule for rule in _RULES if isinstance(factor, rule.kind)), None)


def _options(factor: Symmetry) -> str:
    return (
        f"no layer builds {factor!r} in exactly, and Symmetrize needs a finite group. Options: "
        "list the group's elements() if it is finite (then enforce averages over it), learn the "
        "symmetry softly with symnn.augment or symnn.symmetry_penalty, or use an architecture "
        "equivariant by construction"
    )


def _wrap(build: Callable[[nn.Module, Any], nn.Module], factor: Symmetry, net: nn.Module) -> nn.Module:
    return build(net, factor)


def _plan(sym: Symmetry) -> list[tuple[int, Callable[[nn.Module], nn.Module]]]:
    """The layers to stack, as (rank, wrap) pairs, one per factor (averaged ones together)."""
    ruled: list[tuple[Symmetry, _Rule]] = []
    averaged: list[Symmetry] = []
    for factor in factors_of(sym):
        rule = _rule(factor)
        if rule is not None:
            ruled.append((factor, rule))
        elif factor.is_finite:
            averaged.append(factor)
        else:
            raise ValueError(f"enforce cannot build in {factor!r}: {_options(factor)}")
    if averaged:
        # Symmetrize does not keep a sort or an odd part inside it (the group may not
        # commute with them): those factors join the average, which is exact for all.
        averaged = [f for f, r in ruled if not isinstance(f, _KEPT_BY_SYMMETRIZE)] + averaged
        ruled = [(f, r) for f, r in ruled if isinstance(f, _KEPT_BY_SYMMETRIZE)]
    plan: list[tuple[int, Callable[[nn.Module], nn.Module]]] = [
        (rule.rank, functools.partial(_wrap, rule.build, factor)) for factor, rule in ruled
    ]
    group = product_of(averaged)
    if group is not None:
        plan.append((_SYMMETRIZE_RANK, functools.partial(Symmetrize, sym=group)))
    # sorted() is stable: factors of one rank stay in the order the product gives.
    return sorted(plan, key=lambda step: step[0])


def _check_fits(net: nn.Module, sym: Symmetry) -> None:
    """For a net that states its sizes (``in_features``, ``out_features``), check every factor can act."""
    sizes: dict[str, int] = {}
    for side, attribute in (("input", "in_features"), ("output", "out_features")):
        size = getattr(net, attribute, None)
        if not isinstance(size, int) or isinstance(size, bool):
            return  # checked at the first call instead, by the layers themselves
        sizes[side] = size
    generator = torch.Generator().manual_seed(0)
    for factor in factors_of(sym):
        rule = _rule(factor)
        if rule is not None and not rule.net_sees_input:
            continue  # the layer checks what it hands the net (e.g. the number of Π groups)
        g = factor.sample(1, generator)[0]
        for side, act in (("input", act_input), ("output", act_output)):
            probe = torch.zeros(1, sizes[side], dtype=torch.float64)
            try:
                act(factor, g, probe, name=f"the net's {side}")
            except (ValueError, TypeError) as err:
                raise ValueError(
                    f"enforce: {type(net).__name__} maps (..., {sizes['input']}) to "
                    f"(..., {sizes['output']}), which {factor!r} cannot act on: {err}"
                ) from err


def _guarantee(sym: Symmetry) -> str:
    """What a factor promises: its repr, but for a scaling only its degree (the promise holds for
    every scale, not only the range it samples from)."""
    return f"Scaling({sym.degree})" if isinstance(sym, Scaling) else repr(sym)


def enforce(net: nn.Module, sym: Symmetry) -> nn.Module:
    r"""Wrap ``net`` in the cheapest layers that make it satisfy ``sym`` exactly.

    .. math:: f(g\cdot x) = \rho(g)\, f(x) \quad \text{for every element } g \text{ of } \texttt{sym}

    for any ``net``, before any training.  The choice:

    =========================================  =================================================  ======================
    symmetry                                   layer                                              guarantee
    =========================================  =================================================  ======================
    ``Parity(-1)`` / ``Parity(+1)``            :class:`Odd` / :class:`Even`                       bit for bit
    ``Permutation(n)``                         :class:`PermutationSort`                           bit for bit
    ``Permutation(n, equivariant=True)``       :class:`PermutationSortEquivariant`                bit for bit, ties too
    ``Scaling(degree=k)``                      :class:`ScaleNormalize` ``(degree=k)``             to rounding
    ``UnitScaling(inputs, output)``            :class:`Dimensionless` ``(inputs, output)``        to rounding
    ``Rotation(irreps_in, irreps_out)``        :class:`FrameAverage` (4 frames; 8 for             to rounding
                                               ``improper=True``)
    any other finite group (your own too)      :class:`Symmetrize`                                bit for bit [#r]_
    a product ``sym1 * sym2``                  the factors' layers, stacked inside out:           each factor's
                                               sort, odd/even part, ``ScaleNormalize``,
                                               ``Symmetrize``
    anything else (an infinite group of your   a :class:`ValueError` naming the symmetry and
    own)                                       the options
    =========================================  =================================================  ======================

    .. [#r] For output actions that move and negate entries; to rounding otherwise.

    In a product with a group that only :class:`Symmetrize` can build in, the parity
    and permutation factors join its average (a sort inside the average would not
    survive it), and a scaling stays a :class:`ScaleNormalize` inside.  So the
    lecture's triangle model is ``enforce(MLP(3, 1), Permutation(3) * Scaling(2))``,
    which is ``ScaleNormalize(PermutationSort(MLP(3, 1)), degree=2)``.

    The result's :attr:`symmetry` is ``sym`` (its factors, inside out), so
    ``symnn.testing.assert_equivariant(model, x)`` checks it without being told.

    Parameters
    ----------
    net : nn.Module
        Any network with the right input and output sizes for ``sym``'s actions.  When
        it states them (``in_features`` / ``out_features``, as :class:`MLP` and
        ``Linear`` do) they are checked now; otherwise at the first call.
    sym : Symmetry

    Returns
    -------
    nn.Module
        The stack of layers around ``net``; its ``repr`` shows what was built.

    Raises
    ------
    TypeError
        ``net`` is not an ``nn.Module`` or ``sym`` not a :class:`Symmetry`.
    ValueError
        A symmetry no layer builds in (infinite, without a rule), or a ``net`` whose
        sizes the symmetry's actions do not fit.

    Examples
    --------
    >>> import torch, symnn
    >>> area = symnn.enforce(symnn.MLP(3, 1, hidden=(8,)), symnn.Permutation(3) * symnn.Scaling(2))
    >>> area
    ScaleNormalize(
      degree=2, scale='sum'
      (net): PermutationSort(
        dim=-1, descending=True
        (net): MLP(
          in_features=3, out_features=1, hidden=(8,), activation='silu'
          (layers): Sequential(
            (0): Linear(in_features=3, out_features=8, bias=True)
            (1): SiLU()
            (2): Linear(in_features=8, out_features=1, bias=True)
          )
        )
      )
    )
    >>> area.symmetry
    Permutation(3) * Scaling(degree=2, scale_range=(0.5, 2.0))
    >>> symnn.testing.assert_equivariant(area.double(), torch.rand(100, 3, dtype=torch.float64))
    0.0
    """
    check_module(net)
    check_symmetry(sym, "enforce")
    plan = _plan(sym)
    _check_fits(net, sym)
    model = net
    for _, wrap in plan:
        model = wrap(model)
    built = {_guarantee(f) for f in factors_of(getattr(model, "symmetry", None))}
    missing = [f for f in factors_of(sym) if _guarantee(f) not in built]
    if missing:  # a rule whose layer drops a guarantee of an inner one: a bug in the table
        raise RuntimeError(f"enforce built {model!r}, which does not guarantee {missing}")
    return model
