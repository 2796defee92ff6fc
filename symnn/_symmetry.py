"""Symmetries: a group acting on a model's input and output.

A :class:`Symmetry` says how one group element ``g`` transforms the input ``x`` of
a model and its output ``y``.  Every kind of bias in symnn (augmentation, penalty,
layers, tests) takes the same object, so the knowledge is written once.

Elements are whatever a symmetry finds convenient; the built-in ones use tensors
(a sign, a scale, an index vector, a 3x3 matrix) or tuples of them for products.
Their actions broadcast: an element whose tensors carry leading batch dimensions
(see :meth:`Symmetry.sample_rows`) acts on each row of ``x`` with its own element.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch

from symnn._checks import (
    check_count,
    check_number,
    check_positive_float,
    check_scalable,
    check_tensor,
    values_readable,
)
from symnn._wigner import apply_rep_rotation, parse_rep

__all__ = [
    "PolynomialConstraint",
    "permutation_constraint",
    "parity_constraint",
    "factors_of",
    "product_of",
    "layer_symmetry",
    "InfiniteGroupError",
    "Symmetry",
    "Parity",
    "Permutation",
    "Scaling",
    "Rotation",
    "ProductSymmetry",
]

Element = Any

#: A constraint on a polynomial model form, as :func:`symnn.priors.derive` applies it:
#: a description and substitutions ``({symbol: expr, ...}, sign)``, each meaning
#: :math:`p(\text{subs}) = \text{sign}\cdot p`.
PolynomialConstraint = tuple[str, list[tuple[dict[Any, Any], int]]]

# Listing n! permutations is fine for small n; past this it is a memory bomb, not a group.
_MAX_LISTED_ELEMENTS = 40_320  # 8!


class InfiniteGroupError(ValueError):
    """Raised when all elements of an infinite group are asked for."""


def _check_count(n: Any) -> int:
    return check_count(n, "the number of elements", minimum=0)


def _unbind(rows: Any, n: int) -> list[Element]:
    """``n`` stacked elements (a tensor, or a tuple of them for a product) as a list."""
    if isinstance(rows, torch.Tensor):
        return list(rows.unbind(0))
    if isinstance(rows, tuple):
        return list(zip(*(_unbind(r, n) for r in rows))) if rows else [() for _ in range(n)]
    raise TypeError(f"sample_rows must return a tensor or a tuple of them; got {type(rows).__name__}")


def _batch_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _names(symbols: Sequence[Any]) -> str:
    return "(" + ", ".join(map(str, symbols)) + ")"


def permutation_constraint(symbols: Sequence[Any], sign: int) -> PolynomialConstraint:
    """A polynomial (anti)symmetric under every permutation of ``symbols``.

    A transposition and an n-cycle generate the symmetric group, so invariance
    under the two generators is invariance under every permutation.
    """
    syms = tuple(symbols)
    kind = "symmetric" if sign > 0 else "antisymmetric"
    description = f"{kind} under permutations of {_names(syms)}"
    n = len(syms)
    if n < 2:
        return description, []
    swap = ({syms[0]: syms[1], syms[1]: syms[0]}, sign)
    if n == 2:
        return description, [swap]
    cycle = ({s: syms[(i + 1) % n] for i, s in enumerate(syms)}, sign ** (n - 1))
    return description, [swap, cycle]


def parity_constraint(symbols: Sequence[Any], sign: int) -> PolynomialConstraint:
    """A polynomial odd (``sign=-1``) or even (``+1``) under flipping all of ``symbols``."""
    syms = tuple(symbols)
    kind = "odd" if sign < 0 else "even"
    flipped = {s: -s for s in syms}
    if len(syms) == 1:
        move = f"{syms[0]} -> {-syms[0]}"
    else:
        move = f"{_names(syms)} -> {_names(list(flipped.values()))}"
    return f"{kind} under {move}", [(flipped, sign)]


def _exact_rational(value: float, what: str) -> Any:
    import sympy

    rational = sympy.Rational(value).limit_denominator(10**6)
    if abs(float(rational) - value) > 1e-12 * max(1.0, abs(value)):
        raise ValueError(f"{what} is {value!r}, not a rational number with a small denominator")
    return rational


class Symmetry:
    r"""A group acting on a model's input and output.

    Subclass it by giving the two actions and a sampler; finite groups also list
    their elements and inverses.  A model ``f`` is *equivariant* under the symmetry
    when, for every element :math:`g`,

    .. math:: f(g \cdot x) = \rho(g)\, f(x),

    where :math:`g \cdot x` is :meth:`act_input` and :math:`\rho(g)\,y` is
    :meth:`act_output`.  Invariance is the case :math:`\rho(g) = 1`.

    Methods to give
    ---------------
    ``act_input(g, x)``, ``act_output(g, y)``
        The element ``g`` applied to every row of ``x`` (resp. ``y``).
    ``elements()`` and ``inverse(g)``
        Finite groups: every element, and the inverse of one.  A class that lists
        its elements is finite (:attr:`is_finite`), and draws random elements
        uniformly from the list unless it gives a sampler.
    ``sample(n, generator=None)`` or ``sample_rows(batch_shape, generator=None)``
        Infinite groups: random elements, reproducible for a seeded
        :class:`torch.Generator`; :meth:`sample` defaults to rows of
        :meth:`sample_rows`.

    Products of symmetries that act together are written ``sym1 * sym2``.

    Examples
    --------
    A user-defined symmetry: time reversal of a trajectory, with a velocity output
    that changes sign.

    >>> import torch, symnn
    >>> class TimeReversal(symnn.Symmetry):
    ...     def elements(self):   # listing the elements makes it finite
    ...         return [False, True]
    ...     def inverse(self, g):
    ...         return g
    ...     def act_input(self, g, x):
    ...         return x.flip(-1) if g else x
    ...     def act_output(self, g, y):
    ...         return -y if g else y
    >>> sym = TimeReversal()
    >>> sym.act_input(True, torch.tensor([1.0, 2.0, 3.0]))
    tensor([3., 2., 1.])
    """

    @property
    def is_finite(self) -> bool:
        """Whether the group is finite, so that :meth:`elements` lists it.

        True when the class defines :meth:`elements` (a subclass may also set
        ``is_finite`` itself).
        """
        return type(self).elements is not Symmetry.elements

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[Element]:
        """Draw ``n`` random group elements.

        The default takes ``n`` rows of :meth:`sample_rows`; for a symmetry without
        it, a finite group draws uniformly from :meth:`elements`.

        Parameters
        ----------
        n : int
            How many elements.
        generator : torch.Generator, optional
            A CPU generator; the same seed gives the same elements.

        Returns
        -------
        list
            ``n`` elements, each accepted by :meth:`act_input` and :meth:`act_output`.
        """
        n = _check_count(n)
        try:
            return _unbind(self.sample_rows(n, generator), n)
        except NotImplementedError:
            if not self.is_finite:
                raise NotImplementedError(
                    f"{type(self).__name__} defines neither sample() nor sample_rows(), so no "
                    "random elements can be drawn"
                ) from None
        listed = self.elements()
        picks = torch.randint(len(listed), (n,), generator=generator)
        return [listed[int(k)] for k in picks]

    def elements(self) -> list[Element]:
        """Every element of a finite group, the identity preferably first.

        Callers that treat the identity apart (its copy is the original, its
        penalty term is 0) find it wherever it is listed.

        Raises
        ------
        InfiniteGroupError
            For an infinite group (a subclass of :class:`ValueError`).
        """
        raise InfiniteGroupError(
            f"{self!r} is an infinite group, so its elements cannot be listed; "
            "sample a few with .sample(n) instead"
        )

    def inverse(self, g: Element) -> Element:
        """The inverse element :math:`g^{-1}`."""
        raise NotImplementedError(f"{type(self).__name__} does not define inverse()")

    def act_input(self, g: Element, x: torch.Tensor) -> torch.Tensor:
        r"""Apply :math:`g` to every row of the input, :math:`x \mapsto g \cdot x`."""
        raise NotImplementedError(f"{type(self).__name__} does not define act_input()")

    def act_output(self, g: Element, y: torch.Tensor) -> torch.Tensor:
        r"""Apply :math:`\rho(g)` to every row of the output, :math:`y \mapsto \rho(g)\,y`."""
        raise NotImplementedError(f"{type(self).__name__} does not define act_output()")

    def sample_rows(
        self, batch_shape: int | Sequence[int], generator: torch.Generator | None = None
    ) -> Element:
        """One random element per row, stacked so the actions apply row by row.

        ``act_input(sample_rows(x.shape[:-1]), x)`` transforms each row of ``x``
        with its own element.  Built-in symmetries support this; a user-defined
        one that does not raises :class:`NotImplementedError`, and callers fall
        back to one element per copy of the batch.

        Parameters
        ----------
        batch_shape : int or tuple of int
            The leading shape of the inputs, e.g. ``x.shape[:-1]``.
        generator : torch.Generator, optional
            A CPU generator for reproducible draws.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define sample_rows()")

    @property
    def order(self) -> int | float:
        """The number of elements: an int for a finite group, ``math.inf`` otherwise."""
        return len(self.elements()) if self.is_finite else math.inf

    def polynomial_constraints(self, symbols: Sequence[Any]) -> list[PolynomialConstraint]:
        r"""What the symmetry demands of a scalar polynomial :math:`p` in ``symbols``.

        Used by :func:`symnn.priors.derive`.  The default, for any finite group whose
        elements act linearly on the input (a matrix :math:`M_g` with rational
        entries, read off by acting on the unit vectors) and multiply a scalar output
        by :math:`\pm 1`: :math:`p(M_g x) = \rho(g)\,p(x)` for every element.  Built-in
        symmetries give their generators instead.

        Parameters
        ----------
        symbols : sequence of sympy.Symbol
            The polynomial's variables, one per input column.

        Returns
        -------
        list of (description, [(substitution, sign), ...])
            Each substitution ``{symbol: expr}`` means :math:`p(\text{subs}) = \text{sign}\cdot p`.

        Raises
        ------
        TypeError
            An infinite group.
        ValueError
            A non-linear or irrational action, or an output action that is not a
            sign on a scalar.

        Examples
        --------
        >>> import sympy, symnn
        >>> x, y = sympy.symbols("x y")
        >>> symnn.Parity(-1).polynomial_constraints([x, y])
        [('odd under (x, y) -> (-x, -y)', [({x: -x, y: -y}, -1)])]
        """
        if not self.is_finite:
            raise TypeError(
                f"{self!r} is not a finite group, so it gives no polynomial constraints; declare it "
                "as a substitution ({x: expr, ...}, sign)"
            )
        syms = tuple(symbols)
        d = len(syms)
        eye = torch.eye(d, dtype=torch.float64)
        probe = torch.randn(4, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        substitutions = []
        for g in self.elements():
            matrix = self.act_input(g, eye)  # row i is g·e_i, so g·x = x @ matrix
            if not torch.allclose(self.act_input(g, probe), probe @ matrix, rtol=1e-10, atol=1e-12):
                raise ValueError(
                    f"{self!r} acts non-linearly on the input, so it gives no polynomial substitution"
                )
            factor = self.act_output(g, torch.ones(1, 1, dtype=torch.float64))
            if factor.shape != (1, 1) or float(factor) not in (-1.0, 1.0):
                raise ValueError(
                    f"{self!r} must multiply a scalar output by +1 or -1 to constrain a polynomial; "
                    f"it maps 1 to {factor.tolist()}"
                )
            mapping = {
                syms[j]: sum(
                    _exact_rational(float(matrix[i, j]), f"entry ({i}, {j}) of the action of {g!r}") * syms[i]
                    for i in range(d)
                )
                for j in range(d)
            }
            substitutions.append((mapping, int(float(factor))))
        return [
            (
                f"invariant under {self!r}"
                if all(s > 0 for _, s in substitutions)
                else f"equivariant under {self!r}",
                substitutions,
            )
        ]

    def __mul__(self, other: Symmetry) -> ProductSymmetry:
        if not isinstance(other, Symmetry):
            return NotImplemented
        return ProductSymmetry(self, other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _as_scalar_element(g: Any) -> torch.Tensor:
    """A sign or scale element as a float64 tensor (0-dim, or one per row)."""
    return g if isinstance(g, torch.Tensor) else torch.tensor(float(g), dtype=torch.float64)


def _few(g: torch.Tensor) -> str:
    """A short description of an element's values for an error message."""
    if g.numel() <= 6:
        return repr(g.tolist())
    return f"a tensor of shape {tuple(g.shape)} starting {g.flatten()[:6].tolist()}"


def _scale_rows(g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Multiply each row of ``x`` by ``g``: ``g`` is 0-dim or has x's leading shape."""
    return x * g.to(dtype=x.dtype, device=x.device).unsqueeze(-1)


class Parity(Symmetry):
    r"""Point reflection :math:`x \mapsto -x`, with an odd or even output.

    Elements are the signs :math:`\pm 1`; the output transforms as
    :math:`y \mapsto \text{sign}\cdot y` under the reflection, so

    - ``Parity(sign=-1)``: odd models, :math:`f(-x) = -f(x)`;
    - ``Parity(sign=+1)``: even models, :math:`f(-x) = f(x)`.

    Acts on inputs ``(..., d)`` and outputs ``(..., k)`` of any sizes.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.Parity(sign=-1)
    >>> [float(g) for g in sym.elements()]
    [1.0, -1.0]
    >>> sym.act_output(torch.tensor(-1.0), torch.tensor([[2.0]]))
    tensor([[-2.]])
    """

    def __init__(self, sign: int = -1) -> None:
        if sign not in (-1, 1):
            raise ValueError(f"Parity sign must be -1 (odd) or +1 (even); got {sign!r}")
        self.sign = int(sign)

    def elements(self) -> list[torch.Tensor]:
        return [torch.tensor(1.0, dtype=torch.float64), torch.tensor(-1.0, dtype=torch.float64)]

    def sample_rows(self, batch_shape, generator=None) -> torch.Tensor:
        coin = torch.rand(_batch_shape(batch_shape), generator=generator, dtype=torch.float64)
        return torch.where(coin < 0.5, -1.0, 1.0).to(torch.float64)

    def inverse(self, g):
        return g

    def _element(self, g) -> torch.Tensor:
        """``g`` as a tensor, after checking it holds signs, +1 or -1."""
        g = _as_scalar_element(g)
        if values_readable(g) and not bool(((g == 1) | (g == -1)).all()):
            raise ValueError(f"an element of {self!r} is a sign, +1 or -1 (or one per row); got {_few(g)}")
        return g

    def act_input(self, g, x):
        return _scale_rows(self._element(g), check_tensor(x, "x", floating=False))

    def act_output(self, g, y):
        y = check_tensor(y, "y", floating=False)
        g = self._element(g)
        return _scale_rows(g, y) if self.sign == -1 else y

    def polynomial_constraints(self, symbols: Sequence[Any]) -> list[PolynomialConstraint]:
        return [parity_constraint(symbols, self.sign)]

    def __repr__(self) -> str:
        return f"Parity(sign={self.sign:+d})"


class Permutation(Symmetry):
    r"""Permutations of the last dimension of the input.

    An element is an index tensor ``p`` of shape ``(n,)``; it acts by
    :math:`(P x)_i = x_{p_i}`.  The output is

    - unchanged (``equivariant=False``, the default): invariant models,
      :math:`f(Px) = f(x)`;
    - permuted the same way (``equivariant=True``): :math:`f(Px) = P f(x)`, for
      models with one output per input slot.

    Parameters
    ----------
    n : int
        The size of the permuted dimension.
    equivariant : bool
        Whether the output is permuted too.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.Permutation(3)
    >>> len(sym.elements())
    6
    >>> sym.act_input(torch.tensor([2, 0, 1]), torch.tensor([10.0, 20.0, 30.0]))
    tensor([30., 10., 20.])
    """

    def __init__(self, n: int, equivariant: bool = False) -> None:
        self.n = check_count(n, "Permutation size")
        self.equivariant = bool(equivariant)

    @property
    def order(self) -> int:
        return math.factorial(self.n)

    def elements(self) -> list[torch.Tensor]:
        if self.order > _MAX_LISTED_ELEMENTS:
            raise ValueError(
                f"Permutation({self.n}) has {self.order} elements, more than the "
                f"{_MAX_LISTED_ELEMENTS} symnn lists; sample some with .sample(k)"
            )
        return [torch.tensor(p) for p in itertools.permutations(range(self.n))]

    def sample_rows(self, batch_shape, generator=None) -> torch.Tensor:
        # argsort of i.i.d. uniforms is a uniformly random permutation, batched.
        keys = torch.rand((*_batch_shape(batch_shape), self.n), generator=generator)
        return keys.argsort(dim=-1)

    def inverse(self, g):
        return torch.as_tensor(g).argsort(dim=-1)

    def _permute(self, g, t: torch.Tensor, what: str) -> torch.Tensor:
        t = check_tensor(t, what, floating=False)
        if t.ndim == 0 or t.shape[-1] != self.n:
            raise ValueError(
                f"{self!r} permutes a last dimension of size {self.n}; got {what} of shape {tuple(t.shape)}"
            )
        index = torch.as_tensor(g)
        if index.ndim == 0 or index.shape[-1] != self.n:
            # Indexing with a shorter index would silently return a narrower tensor.
            raise ValueError(
                f"an element of {self!r} is an index tensor of shape (..., {self.n}); "
                f"got shape {tuple(index.shape)}"
            )
        if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
            raise TypeError(f"an element of {self!r} is an integer index tensor; got dtype {index.dtype}")
        # Checked where the element lives (usually the CPU), before it moves to t's device.
        if values_readable(index):
            ordered = torch.arange(self.n, device=index.device).expand(index.shape)
            if not torch.equal(index.sort(dim=-1).values, ordered):
                raise ValueError(
                    f"an element of {self!r} holds each index 0..{self.n - 1} once (a permutation); got {_few(index)}"
                )
        index = index.to(t.device)
        if index.ndim == 1:
            return t[..., index]
        return t.gather(-1, index.expand(t.shape))

    def act_input(self, g, x):
        return self._permute(g, x, "x")

    def act_output(self, g, y):
        return self._permute(g, y, "y") if self.equivariant else check_tensor(y, "y", floating=False)

    def polynomial_constraints(self, symbols: Sequence[Any]) -> list[PolynomialConstraint]:
        if self.equivariant:
            raise ValueError("a scalar polynomial cannot be permutation-equivariant; use Permutation(n)")
        if self.n != len(symbols):
            raise ValueError(
                f"{self!r} permutes {self.n} columns but there are {len(symbols)} symbols "
                f"{_names(symbols)}; for a subset write ('symmetric', [...])"
            )
        return [permutation_constraint(symbols, +1)]

    def __repr__(self) -> str:
        extra = ", equivariant=True" if self.equivariant else ""
        return f"Permutation({self.n}{extra})"


class Scaling(Symmetry):
    r"""Positive rescaling :math:`x \mapsto s\,x` with :math:`y \mapsto s^k y`.

    Models with this symmetry are homogeneous of degree :math:`k`:
    :math:`f(s x) = s^k f(x)` for all :math:`s > 0`.  Random scales are drawn
    log-uniformly from ``scale_range``.  Acts on inputs ``(..., d)`` and outputs
    ``(..., k)`` of any sizes; an element is a positive scalar tensor (or one per row).

    Parameters
    ----------
    degree : float
        The degree :math:`k` of homogeneity (2 for an area from lengths).
    scale_range : (float, float)
        The interval random scales are drawn from, both ends positive.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.Scaling(degree=2)
    >>> sym.act_output(torch.tensor(3.0), torch.tensor([[1.0]]))
    tensor([[9.]])
    """

    def __init__(self, degree: float = 1.0, scale_range: tuple[float, float] = (0.5, 2.0)) -> None:
        self.degree = check_number(degree, "degree")
        if not isinstance(scale_range, Sequence) or isinstance(scale_range, str) or len(scale_range) != 2:
            raise TypeError(
                f"scale_range must be a pair of numbers (low, high), e.g. (0.5, 2.0); "
                f"got {type(scale_range).__name__} {scale_range!r}"
            )
        low, high = (check_positive_float(v, "each end of scale_range") for v in scale_range)
        if not low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high < inf; got {scale_range!r}")
        self.scale_range = (low, high)

    def sample_rows(self, batch_shape, generator=None) -> torch.Tensor:
        low, high = (math.log(v) for v in self.scale_range)
        u = torch.rand(_batch_shape(batch_shape), generator=generator, dtype=torch.float64)
        return torch.exp(low + (high - low) * u)

    def inverse(self, g):
        return 1.0 / _as_scalar_element(g)

    def _element(self, g) -> torch.Tensor:
        """``g`` as a tensor, after checking it holds finite positive scales."""
        g = _as_scalar_element(g)
        if values_readable(g) and not bool(((g > 0) & torch.isfinite(g)).all()):
            raise ValueError(f"an element of {self!r} is a finite scale > 0 (or one per row); got {_few(g)}")
        return g

    def act_input(self, g, x):
        return _scale_rows(self._element(g), check_scalable(x, "x", self))

    def act_output(self, g, y):
        return _scale_rows(self._element(g) ** self.degree, check_scalable(y, "y", self))

    def polynomial_constraints(self, symbols: Sequence[Any]) -> list[PolynomialConstraint]:
        raise ValueError(
            "declare scaling (dimension) through derive's degree and homogeneous=True, "
            "not as a symmetry: a form homogeneous of degree k is the Scaling(degree=k) one"
        )

    def __repr__(self) -> str:
        return f"Scaling(degree={self.degree:g}, scale_range={self.scale_range})"


class Rotation(Symmetry):
    r"""Rotations :math:`R \in SO(3)`, or :math:`O(3)` with ``improper=True``, acting through e3nn irreps.

    The input transforms as :math:`x \mapsto D_\text{in}(R)\,x` and the output as
    :math:`y \mapsto D_\text{out}(R)\,y`, with :math:`D` the Wigner matrices of the
    given irreps (in e3nn's basis).  Elements are ``(3, 3)`` orthogonal matrices,
    drawn uniformly (Haar measure) from normalized Gaussian quaternions, times a
    random sign :math:`\pm 1` when ``improper=True``.  Inputs are
    ``(..., irreps_in.dim)`` and outputs ``(..., irreps_out.dim)``.

    Improper elements (:math:`\det R = -1`) act through e3nn's parity convention,
    whatever ``improper`` says (it chooses which group is *sampled*): writing
    :math:`R = dQ` with :math:`d = \det R`, an irrep :math:`(l, p)` transforms by
    :math:`p^{[d=-1]} D_l(Q)`, so ``1o`` (a position) by :math:`R` and ``1e`` (an
    angular momentum) by :math:`\det(R)\,R`.

    Either side may instead be a Cartesian tensor given by e3nn's index formula
    (``"i"``, ``"ij"``, ``"ij=ji"``, ``"ijk=jik"``): it is stored flattened row-major
    as :math:`3^r` numbers and transforms with :math:`R` on every index, e.g.
    :math:`Y \mapsto R\,Y R^\top` for ``"ij"`` (an inertia or stress tensor), so
    no conversion to irreps is needed.  ``irreps_in`` / ``irreps_out`` then hold
    the parsed formula (its ``.dim`` is :math:`3^r`; its ``.irreps`` are e3nn's).

    symnn computes :math:`D` itself in the input's dtype to rounding (e3nn's own
    ``D_from_matrix`` is accurate to about 1e-6 only, which would hide errors in a
    float64 equivariance check); it agrees with e3nn's to that accuracy.

    Parameters
    ----------
    irreps_in, irreps_out : str or e3nn.o3.Irreps
        E.g. ``"1o"`` for a vector, ``"0e"`` for a scalar, ``"2x1o + 0e"``; or a
        Cartesian formula such as ``"ij=ji"``.
    improper : bool
        Sample :math:`O(3)` (rotations and reflections) instead of :math:`SO(3)`.

    Examples
    --------
    >>> import torch, symnn
    >>> sym = symnn.Rotation("1o", "0e")   # a vector in, a scalar out
    >>> R = sym.sample(1, torch.Generator().manual_seed(0))[0]
    >>> x = torch.randn(5, 3, dtype=torch.float64)
    >>> torch.allclose(sym.act_input(R, x).norm(dim=-1), x.norm(dim=-1))
    True

    Five masses and positions in, an inertia tensor out, under O(3):

    >>> sym = symnn.Rotation("5x0e + 5x1o", "ij=ji", improper=True)
    >>> R = -torch.eye(3, dtype=torch.float64)          # the inversion
    >>> Y = torch.arange(9.0, dtype=torch.float64).reshape(1, 9)
    >>> torch.equal(sym.act_output(R, Y), Y)             # R Y R^T = Y
    True
    """

    def __init__(self, irreps_in: Any, irreps_out: Any, improper: bool = False) -> None:
        self.irreps_in = parse_rep(irreps_in)
        self.irreps_out = parse_rep(irreps_out)
        if not isinstance(improper, bool):
            raise TypeError(f"improper must be a bool; got {type(improper).__name__}")
        self.improper = improper

    def sample_rows(self, batch_shape, generator=None) -> torch.Tensor:
        from e3nn.o3 import quaternion_to_matrix

        shape = _batch_shape(batch_shape)
        # A normalized 4D Gaussian is uniform on S^3, i.e. a Haar-random rotation.
        q = torch.randn((*shape, 4), generator=generator, dtype=torch.float64)
        rotation = quaternion_to_matrix(q / q.norm(dim=-1, keepdim=True))
        if not self.improper:
            return rotation
        # Haar measure on O(3): a Haar rotation times an independent fair sign.
        coin = torch.rand(shape, generator=generator, dtype=torch.float64)
        return rotation * torch.where(coin < 0.5, -1.0, 1.0).to(torch.float64)[..., None, None]

    def inverse(self, g):
        return torch.as_tensor(g).transpose(-1, -2)

    def act_input(self, g, x):
        return apply_rep_rotation(self.irreps_in, g, check_scalable(x, "x", self), "x")

    def act_output(self, g, y):
        return apply_rep_rotation(self.irreps_out, g, check_scalable(y, "y", self), "y")

    def __repr__(self) -> str:
        extra = ", improper=True" if self.improper else ""
        return f'Rotation("{self.irreps_in}", "{self.irreps_out}"{extra})'


class ProductSymmetry(Symmetry):
    r"""Several symmetries acting together: :math:`g = (g_1, \dots, g_m)`.

    Written ``sym1 * sym2``.  The element acts by applying each factor's action
    in turn, on the input and on the output; the factors should commute (they do
    for the built-in ones, e.g. ``Permutation(3) * Scaling(degree=2)``).  The
    product is finite when every factor is, and lists the Cartesian product of
    their elements.  Inputs and outputs are shaped as every factor expects, e.g.
    ``(..., 3)`` in and ``(..., 1)`` out for the triangle's symmetry.

    Examples
    --------
    >>> import symnn
    >>> sym = symnn.Permutation(3) * symnn.Parity(-1)
    >>> sym.order
    12
    """

    def __init__(self, *factors: Symmetry) -> None:
        flat: list[Symmetry] = []
        for f in factors:
            if not isinstance(f, Symmetry):
                raise TypeError(f"a product takes Symmetry objects; got {type(f).__name__}")
            flat.extend(f.factors if isinstance(f, ProductSymmetry) else [f])
        if not flat:
            raise ValueError("a product needs at least one symmetry")
        self.factors: tuple[Symmetry, ...] = tuple(flat)

    @property
    def is_finite(self) -> bool:
        return all(f.is_finite for f in self.factors)

    @property
    def order(self) -> int | float:
        return math.prod(f.order for f in self.factors)

    def elements(self) -> list[tuple]:
        if not self.is_finite:
            return super().elements()
        if self.order > _MAX_LISTED_ELEMENTS:
            raise ValueError(f"{self!r} has {self.order} elements, too many to list")
        return list(itertools.product(*(f.elements() for f in self.factors)))

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[tuple]:
        n = _check_count(n)
        return list(zip(*(f.sample(n, generator) for f in self.factors)))

    def sample_rows(self, batch_shape, generator=None) -> tuple:
        return tuple(f.sample_rows(batch_shape, generator) for f in self.factors)

    def _split(self, g) -> tuple:
        if not isinstance(g, tuple) or len(g) != len(self.factors):
            raise ValueError(
                f"an element of {self!r} is a tuple of {len(self.factors)} factor elements; got {g!r}"
            )
        return g

    def inverse(self, g):
        return tuple(f.inverse(gi) for f, gi in zip(self.factors, self._split(g)))

    def act_input(self, g, x):
        for f, gi in zip(self.factors, self._split(g)):
            x = f.act_input(gi, x)
        return x

    def act_output(self, g, y):
        for f, gi in zip(self.factors, self._split(g)):
            y = f.act_output(gi, y)
        return y

    def polynomial_constraints(self, symbols: Sequence[Any]) -> list[PolynomialConstraint]:
        # The product group is generated by its factors' generators.
        return [c for f in self.factors for c in f.polynomial_constraints(symbols)]

    def __repr__(self) -> str:
        return " * ".join(repr(f) for f in self.factors)


def factors_of(sym: Symmetry | None) -> tuple[Symmetry, ...]:
    """The factors of a product, ``(sym,)`` for one symmetry, ``()`` for None."""
    if sym is None:
        return ()
    return sym.factors if isinstance(sym, ProductSymmetry) else (sym,)


def product_of(factors: Sequence[Symmetry]) -> Symmetry | None:
    """The product of ``factors``: None for none, the symmetry itself for one."""
    if not factors:
        return None
    return factors[0] if len(factors) == 1 else ProductSymmetry(*factors)


def layer_symmetry(own: Symmetry | None, net: Any, keeps: tuple[type[Symmetry], ...]) -> Symmetry | None:
    """What a layer wrapping ``net`` guarantees: the wrapped net's symmetries it keeps, then its own.

    A layer keeps an inner symmetry when its own construction commutes with that
    symmetry's action (e.g. ``ScaleNormalize`` keeps an inner permutation invariance,
    because its scale is permutation invariant); ``keeps`` lists those types.
    """
    inner = getattr(net, "symmetry", None)
    kept = [f for f in factors_of(inner if isinstance(inner, Symmetry) else None) if isinstance(f, keeps)]
    return product_of([*kept, *factors_of(own)])
