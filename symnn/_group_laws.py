"""Check that a Symmetry's actions obey the group laws: identity, inverse, composition."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from symnn._checks import check_tensor
from symnn._symmetry import Symmetry

__all__ = ["check_group_laws"]


def _deviation(a: torch.Tensor, b: torch.Tensor, floor: float) -> float:
    """Largest |a - b|, relative to the larger of ``floor`` and max |b|; inf on a shape mismatch."""
    if a.shape != b.shape:
        return float("inf")
    scale = max(floor, b.abs().max().item() if b.numel() else 0.0)
    return ((a - b).abs().max().item() / scale) if a.numel() else 0.0


def check_group_laws(
    sym: Symmetry,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    elements: Sequence[Any] | None = None,
    compose: Callable[[Any, Any], Any] | None = None,
    n_samples: int = 8,
    max_elements: int = 48,
    generator: torch.Generator | None = None,
    tol: float = 1e-10,
    floor: float = 1.0,
) -> float:
    r"""Check that ``sym``'s actions on inputs and outputs form a group action.

    A :class:`~symnn.Symmetry` written by hand can be wrong in ways no model test
    shows at once: an inverse that is not one, an output action whose sign does not
    match the input's, a list of elements that is not closed.  For the elements
    tried, this checks in float64, on the inputs ``x`` and outputs ``y``:

    * identity (finite groups): the first of :meth:`~symnn.Symmetry.elements`
      leaves both unchanged, :math:`e\cdot x = x` and :math:`\rho(e)\,y = y`;
    * inverse: :math:`g^{-1}\cdot(g\cdot x) = x` and
      :math:`\rho(g^{-1})\,\rho(g)\,y = y`, with :math:`g^{-1}` from
      :meth:`~symnn.Symmetry.inverse`;
    * composition: for each pair :math:`g, h` there is an element :math:`k = gh`
      with :math:`k\cdot x = g\cdot(h\cdot x)` *and*
      :math:`\rho(k)\,y = \rho(g)\,\rho(h)\,y`.  For a finite group :math:`k` is
      searched among the elements (so a list that is not closed fails); for an
      infinite group give ``compose(g, h)``, or this law is not checked.

    Parameters
    ----------
    sym : Symmetry
        The symmetry to check.
    x, y : torch.Tensor
        Example inputs ``(..., n_in)`` and outputs ``(..., n_out)``; generic values
        (no ties, no zeros) make the check sharper.
    elements : sequence, optional
        The elements to try.  Default: every element of a finite group of at most
        ``max_elements``, otherwise ``n_samples`` drawn by ``sym.sample``.
    compose : callable, optional
        ``compose(g, h)`` returning the element :math:`gh`; needed for the
        composition law of an infinite group.
    n_samples, max_elements : int
        How many elements to draw, and the largest finite group tried in full.
    generator : torch.Generator, optional
        For reproducible draws.
    tol, floor : float
        A law holds when the largest deviation, relative to
        ``max(floor, max |expected|)``, is at most ``tol``.

    Returns
    -------
    float
        The largest relative deviation over every law and element tried.

    Raises
    ------
    AssertionError
        Naming the law, the element(s) and the deviation that failed.

    Examples
    --------
    >>> import torch, symnn
    >>> x, y = torch.randn(10, 3), torch.randn(10, 1)
    >>> symnn.check_group_laws(symnn.Permutation(3) * symnn.Parity(-1), x, y)
    0.0

    An output action that forgot a sign is not a group action with the input's:

    >>> class Wrong(symnn.Symmetry):
    ...     is_finite = True
    ...     def elements(self):
    ...         return [0, 1, 2, 3]          # quarter turns of the plane
    ...     def sample(self, n, generator=None):
    ...         return [int(k) for k in torch.randint(4, (n,), generator=generator)]
    ...     def inverse(self, g):
    ...         return (-g) % 4
    ...     def act_input(self, g, x):
    ...         return torch.rot90(x.unflatten(-1, (2, 2)), g, (-2, -1)).flatten(-2)
    ...     def act_output(self, g, y):
    ...         return -y if g == 1 else y   # should be -y for odd g
    >>> symnn.check_group_laws(Wrong(), torch.randn(5, 4), torch.randn(5, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    AssertionError: inverse law fails on the outputs for g = 1: relative deviation 2 ...
    """
    if not isinstance(sym, Symmetry):
        raise TypeError(f"sym must be a symnn.Symmetry; got {type(sym).__name__}")
    x = check_tensor(x, "x").detach().to(torch.float64)
    y = check_tensor(y, "y").detach().to(torch.float64)
    finite = bool(sym.is_finite)
    listed: list[Any] = list(sym.elements()) if finite else []
    if elements is None:
        full = finite and len(listed) <= max_elements
        elements = listed if full else list(sym.sample(n_samples, generator=generator))
    elements = list(elements)
    if not elements:
        raise ValueError("no elements to try: give elements=... or a symmetry whose sample() returns some")
    worst = 0.0

    def holds(law: str, where: str, got: torch.Tensor, expected: torch.Tensor, about: str) -> None:
        nonlocal worst
        deviation = _deviation(got, expected, floor)
        worst = max(worst, deviation)
        if not deviation <= tol:
            raise AssertionError(
                f"{law} law fails on the {where} for {about}: relative deviation {deviation:.3g} "
                f"(tolerance {tol:g}); {sym!r} is not a group action as written"
            )

    if finite:
        e = listed[0]
        holds("identity", "inputs", sym.act_input(e, x), x, f"the first element, {e!r}")
        holds("identity", "outputs", sym.act_output(e, y), y, f"the first element, {e!r}")

    for g in elements:
        g_inv = sym.inverse(g)
        holds("inverse", "inputs", sym.act_input(g_inv, sym.act_input(g, x)), x, f"g = {g!r}")
        holds("inverse", "outputs", sym.act_output(g_inv, sym.act_output(g, y)), y, f"g = {g!r}")

    if not finite and compose is None:
        return worst
    # k·x and ρ(k)y for each candidate k, computed once.
    candidates = listed if finite else []
    moved = [(k, sym.act_input(k, x), sym.act_output(k, y)) for k in candidates]
    for g in elements:
        for h in elements:
            gh_x = sym.act_input(g, sym.act_input(h, x))
            gh_y = sym.act_output(g, sym.act_output(h, y))
            about = f"g = {g!r}, h = {h!r}"
            if compose is not None:
                k = compose(g, h)
                holds("composition", "inputs", sym.act_input(k, x), gh_x, f"{about}, gh = {k!r}")
                holds("composition", "outputs", sym.act_output(k, y), gh_y, f"{about}, gh = {k!r}")
                continue
            matches = [(ky, k) for k, kx, ky in moved if _deviation(kx, gh_x, floor) <= tol]
            if not matches:
                raise AssertionError(
                    f"composition law fails on the inputs for {about}: g·(h·x) is no listed "
                    f"element's action on x, so elements() is not closed; {sym!r} is not a group "
                    "action as written"
                )
            best = min(_deviation(ky, gh_y, floor) for ky, _ in matches)
            worst = max(worst, best)
            if not best <= tol:
                raise AssertionError(
                    f"composition law fails on the outputs for {about}: the element k with "
                    f"k·x = g·(h·x) gives ρ(k)y ≠ ρ(g)ρ(h)y (relative deviation {best:.3g}); the "
                    f"output action does not match the input action of {sym!r}"
                )
    return worst
