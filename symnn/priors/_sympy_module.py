"""A torch module from a sympy expression: inputs are tensor columns, constants are parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sympy
import torch
from torch import nn

from symnn._checks import check_tensor
from symnn.priors._derive import Derivation, as_symbol_tuple
from symnn.priors._translate import TorchProgram

__all__ = ["SympyModule"]


def _initial_values(
    initial: float | Mapping[Any, float] | None, constants: tuple[sympy.Symbol, ...]
) -> list[float]:
    if initial is None:
        return [1.0] * len(constants)
    if isinstance(initial, Mapping):
        by_name = {str(s): s for s in constants}
        values = dict.fromkeys(constants, 1.0)
        for key, value in initial.items():
            symbol = key if isinstance(key, sympy.Symbol) else by_name.get(key)
            if symbol not in values:
                raise ValueError(
                    f"initial names {key!r}, which is not one of the constants {[str(s) for s in constants]}"
                )
            values[symbol] = float(value)
        return list(values.values())
    if isinstance(initial, bool) or not isinstance(initial, (int, float)):
        raise TypeError(
            f"initial must be a number or a mapping from constant to number; got {type(initial).__name__}"
        )
    return [float(initial)] * len(constants)


class SympyModule(nn.Module):
    r"""A module that evaluates a sympy expression: :math:`y = f(x;\, C)`.

    Column :math:`i` of the input is the symbol ``inputs[i]``; every constant is an
    ``nn.Parameter`` (stored in float64 by default so fitted values keep full
    precision, and cast to the input's dtype and device in ``forward``: the output
    follows the input).  The expression is translated once into torch operations
    (not through ``lambdify``), so autograd reaches both the inputs and the
    constants.

    Supported sympy: symbols, numbers (``pi``, ``E``, rationals, any symbol-free
    real expression), ``+``, ``*``, ``/``, ``**`` (integer, rational and real
    constant powers, and symbolic exponents over a positive base) and the functions
    in ``symnn.priors.SUPPORTED_FUNCTIONS`` (exp, log, trigonometric and hyperbolic
    functions and their inverses, Abs, sign, Min, Max, floor, ceiling, erf, erfc,
    atan2).  Anything else raises a ``ValueError`` naming it.

    Edge of the domain: a non-integer power such as :math:`\sqrt{u}` is
    :math:`0^p` at :math:`u = 0` with derivative 0 there (the true derivative is
    :math:`+\infty` for :math:`p < 1`), and NaN for :math:`u < 0`; so a degenerate
    triangle (:math:`A^2 = 0`) gives :math:`A = 0` with finite gradients, and an
    invalid one (:math:`A^2 < 0`) gives NaN.  Values are computed as written, so an
    expression that should be exactly 0 may round slightly negative and give NaN.

    Parameters
    ----------
    expr : sympy.Expr or Derivation
        The expression (a :class:`~symnn.priors.Derivation` gives its ``expr``).
    inputs : sympy.Symbol or sequence of sympy.Symbol
        The symbols read from the last dimension of ``x``, in order; optional for a
        ``Derivation`` (default: its ``symbols``).
    constants : sequence of sympy.Symbol, optional
        The learnable constants; default: every other free symbol of ``expr``, sorted
        by name.  Given explicitly, they must cover the free symbols not in ``inputs``.
    initial : float or mapping, optional
        Starting values: one number for all, or ``{symbol or name: value}``; 1.0
        where not given.
    dtype : torch.dtype
        Storage dtype of the constants.
    cse : bool
        Share common subexpressions when evaluating.

    Shapes
    ------
    ``(..., len(inputs)) -> (..., 1)``, like an ``MLP(len(inputs), 1)``, so it can be
    the baseline of a :class:`~symnn.PhysicsResidual`.

    Examples
    --------
    >>> import sympy, torch
    >>> from symnn.priors import SympyModule
    >>> x, k = sympy.symbols("x k")
    >>> spring = SympyModule(k * x + x**3, [x], initial={k: 2.0})
    >>> spring(torch.tensor([[1.0], [2.0]]))
    tensor([[ 3.],
            [12.]], grad_fn=<UnsqueezeBackward0>)
    >>> spring.constant_values()
    {'k': 2.0}
    """

    def __init__(
        self,
        expr: Any,
        inputs: Any = None,
        constants: Sequence[sympy.Symbol] | None = None,
        *,
        initial: float | Mapping[Any, float] | None = None,
        dtype: torch.dtype = torch.float64,
        cse: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(expr, Derivation):
            inputs = expr.symbols if inputs is None else inputs
            expr = expr.expr
        elif inputs is None:
            raise TypeError("inputs are required unless expr is a Derivation (which knows its symbols)")
        if not isinstance(expr, sympy.Expr):
            raise TypeError(f"expr must be a sympy expression; got {type(expr).__name__}")
        self.expr: sympy.Expr = expr
        self.inputs = as_symbol_tuple(inputs, "inputs")
        free = expr.free_symbols
        if constants is None:
            self.constant_symbols = tuple(sorted(free - set(self.inputs), key=str))
        else:
            self.constant_symbols = as_symbol_tuple(constants, "constants")
            both = set(self.constant_symbols) & set(self.inputs)
            if both:
                raise ValueError(f"{sorted(map(str, both))} listed both as inputs and as constants")
            unbound = free - set(self.inputs) - set(self.constant_symbols)
            if unbound:
                raise ValueError(
                    f"expr uses {sorted(map(str, unbound))}, which are neither inputs "
                    f"{[str(s) for s in self.inputs]} nor constants {[str(s) for s in self.constant_symbols]}"
                )
        names = [str(s) for s in self.constant_symbols]
        if len(set(names) | {str(s) for s in self.inputs}) != len(names) + len(self.inputs):
            raise ValueError(
                f"two different symbols share a name among inputs {[str(s) for s in self.inputs]} and "
                f"constants {names} (symbols with other assumptions are other symbols); rename one"
            )
        for n in names:
            if "." in n or not n:
                raise ValueError(f"constant name {n!r} cannot name a parameter (no '.' allowed); rename it")
        values = _initial_values(initial, self.constant_symbols)
        self.constants = nn.ParameterDict(
            {n: nn.Parameter(torch.tensor(v, dtype=dtype)) for n, v in zip(names, values)}
        )
        self.cse = bool(cse)
        self._program = TorchProgram([expr], self.inputs + self.constant_symbols, cse=self.cse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x)
        if x.ndim == 0 or x.shape[-1] != len(self.inputs):
            raise ValueError(
                f"x must have shape (..., {len(self.inputs)}), one column per input "
                f"({', '.join(map(str, self.inputs))}); got {tuple(x.shape)}"
            )
        values = [*x.unbind(-1), *(p.to(dtype=x.dtype, device=x.device) for p in self.constants.values())]
        (out,) = self._program(values)
        if not isinstance(out, torch.Tensor):
            out = torch.tensor(out, dtype=x.dtype, device=x.device)
        # A form that ignores the inputs (a constant) still gives one value per row.
        return torch.broadcast_to(out, x.shape[:-1]).unsqueeze(-1)

    def __getstate__(self) -> dict[str, Any]:
        # The compiled program is a chain of closures, which pickle cannot store;
        # it is rebuilt from the expression on loading.
        state = self.__dict__.copy()
        state.pop("_program", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._program = TorchProgram([self.expr], self.inputs + self.constant_symbols, cse=self.cse)

    def constant_values(self) -> dict[str, float]:
        """The current constants, ``{name: value}``."""
        return {n: float(p.detach()) for n, p in self.constants.items()}

    def fitted_expr(self) -> sympy.Expr:
        """``expr`` with the current constant values substituted (as sympy Floats)."""
        return self.expr.subs(
            {
                s: sympy.Float(float(p.detach()), 17)
                for s, p in zip(self.constant_symbols, self.constants.values())
            }
        )

    def extra_repr(self) -> str:
        constants = ", ".join(f"{n}={v:.6g}" for n, v in self.constant_values().items())
        inputs = ", ".join(map(str, self.inputs))
        return f"{self.expr}, inputs=({inputs}), constants=({constants})"
