"""sympy expressions evaluated with torch operations, so autograd sees every step.

``sympy.lambdify`` with the numpy printer would hand numpy functions torch tensors
(breaking autograd); this walks the expression tree once and builds a chain of torch
calls instead.  Common subexpressions are shared (``sympy.cse``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence

import sympy
import torch

from symnn.priors._safe_power import safe_power

__all__ = ["TorchProgram", "SUPPORTED_FUNCTIONS"]

Value = torch.Tensor | float
Node = Callable[[list[Value]], Value]


def _reciprocal_of(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda t: 1 / fn(t)


_UNARY: dict[type, Callable[[torch.Tensor], torch.Tensor]] = {
    sympy.exp: torch.exp,
    sympy.log: torch.log,
    sympy.sin: torch.sin,
    sympy.cos: torch.cos,
    sympy.tan: torch.tan,
    sympy.cot: _reciprocal_of(torch.tan),
    sympy.sec: _reciprocal_of(torch.cos),
    sympy.csc: _reciprocal_of(torch.sin),
    sympy.asin: torch.asin,
    sympy.acos: torch.acos,
    sympy.atan: torch.atan,
    sympy.sinh: torch.sinh,
    sympy.cosh: torch.cosh,
    sympy.tanh: torch.tanh,
    sympy.asinh: torch.asinh,
    sympy.acosh: torch.acosh,
    sympy.atanh: torch.atanh,
    sympy.Abs: torch.abs,
    sympy.sign: torch.sign,
    sympy.floor: torch.floor,
    sympy.ceiling: torch.ceil,
    sympy.erf: torch.erf,
    sympy.erfc: torch.erfc,
}
_BINARY: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {sympy.atan2: torch.atan2}
_NARY: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    sympy.Min: torch.minimum,
    sympy.Max: torch.maximum,
}

#: Names of the sympy functions :class:`TorchProgram` translates, besides ``+ * **``,
#: numbers (``pi``, ``E``, rationals, ...) and symbols.
SUPPORTED_FUNCTIONS: tuple[str, ...] = tuple(sorted(f.__name__ for f in (*_UNARY, *_BINARY, *_NARY)))


def _first_tensor(values: Sequence[Value]) -> Value:
    return next((v for v in values if isinstance(v, torch.Tensor)), values[0])


def _number(node: sympy.Expr) -> float:
    """A symbol-free sympy expression (``pi``, ``sqrt(2)``, ``exp(3)/7``) as a float."""
    value = complex(node.evalf(20))
    if value.imag != 0:
        raise ValueError(f"cannot translate the complex number {node} to a real torch value")
    return value.real


def _unsupported(node: sympy.Basic, why: str) -> ValueError:
    return ValueError(
        f"cannot translate {why} (in {node}) to torch; supported: symbols, numbers, +, *, ** "
        f"and the functions {', '.join(SUPPORTED_FUNCTIONS)}"
    )


class TorchProgram:
    r"""Evaluate sympy expressions with torch ops, all sharing common subexpressions.

    Supported: symbols; numbers including ``pi``, ``E`` and any symbol-free real
    expression (evaluated once, to double precision); ``Add``, ``Mul`` (negative
    powers become a division), ``Pow`` (integer powers are plain powers; non-integer
    constant powers such as ``sqrt`` are finite with finite derivatives at 0 (the
    derivative there is set to 0, see :doc:`/guides/numerical-safety`) and NaN below; a symbolic exponent uses
    ``torch.pow``, so its base should be positive); the functions in
    :data:`SUPPORTED_FUNCTIONS`.  Anything else (``Piecewise``, relations,
    derivatives, integrals, undefined functions, complex numbers) raises a
    ``ValueError`` naming it.

    Parameters
    ----------
    exprs : sequence of sympy.Expr
    symbols : sequence of sympy.Symbol
        The order in which values are passed to :meth:`__call__`.
    cse : bool
        Share common subexpressions (results agree with ``cse=False`` to rounding).

    Examples
    --------
    >>> import sympy, torch
    >>> from symnn.priors._translate import TorchProgram
    >>> x, y = sympy.symbols("x y")
    >>> program = TorchProgram([x * sympy.sqrt(y), x + 1], [x, y])
    >>> program([torch.tensor([2.0]), torch.tensor([9.0])])
    [tensor([6.]), tensor([3.])]
    """

    def __init__(self, exprs: Sequence[sympy.Expr], symbols: Sequence[sympy.Symbol], *, cse: bool = True):
        exprs = [sympy.sympify(e) for e in exprs]
        self.symbols = tuple(symbols)
        known = set(self.symbols)
        unknown = set().union(*(e.free_symbols for e in exprs)) - known if exprs else set()
        if unknown:
            raise ValueError(
                f"the expressions use symbols {sorted(map(str, unknown))} that are not among "
                f"{[str(s) for s in self.symbols]}"
            )
        if cse:
            temporaries = sympy.numbered_symbols("_cse", cls=sympy.Dummy)
            replacements, reduced = sympy.cse(exprs, symbols=temporaries)
        else:
            replacements, reduced = [], exprs
        self._index = {s: i for i, s in enumerate(self.symbols)}
        self._steps: list[Node] = []
        for temporary, sub in replacements:
            self._steps.append(self._compile(sub))
            self._index[temporary] = len(self._index)
        self._outputs = [self._compile(e) for e in reduced]

    def __call__(self, values: Sequence[Value]) -> list[Value]:
        """Values of the expressions, given one tensor (or float) per symbol, in order."""
        if len(values) != len(self.symbols):
            raise ValueError(f"expected {len(self.symbols)} values (one per symbol); got {len(values)}")
        env = list(values)
        for step in self._steps:
            env.append(step(env))
        return [out(env) for out in self._outputs]

    # -- translation, once per expression ---------------------------------------------------
    def _compile(self, node: sympy.Basic) -> Node:
        if not isinstance(node, sympy.Expr) or isinstance(node, sympy.Piecewise):
            raise _unsupported(node, type(node).__name__)
        if node.is_Symbol:
            index = self._index[node]
            return lambda env: env[index]
        if not node.free_symbols:
            value = _number(node)
            return lambda env: value
        if node.is_Add:
            return self._compile_sum(node)
        if node.is_Mul:
            return self._compile_product(node)
        if node.is_Pow:
            return self._compile_power(node)
        return self._compile_function(node)

    def _compile_sum(self, node: sympy.Add) -> Node:
        terms = [self._compile(t) for t in node.args]
        return lambda env: functools.reduce(operator.add, [t(env) for t in terms])

    def _compile_product(self, node: sympy.Mul) -> Node:
        coefficient = 1.0
        numerator: list[Node] = []
        denominator: list[Node] = []
        for factor in node.args:
            if not factor.free_symbols:
                coefficient *= _number(factor)
            elif factor.is_Pow and factor.exp.is_number and factor.exp.is_negative:
                # a / b rather than a * b**-1: one rounding fewer, and the same as sympy's a/b.
                denominator.append(self._compile(sympy.Pow(factor.base, -factor.exp)))
            else:
                numerator.append(self._compile(factor))

        def product(nodes: list[Node], env: list[Value], start: Value) -> Value:
            return functools.reduce(operator.mul, [n(env) for n in nodes], start)

        if not denominator:
            if coefficient == 1.0:
                return lambda env: functools.reduce(operator.mul, [n(env) for n in numerator])
            return lambda env: product(numerator, env, coefficient)
        if not numerator:
            return lambda env: coefficient / functools.reduce(operator.mul, [d(env) for d in denominator])
        return lambda env: (
            product(numerator, env, coefficient)
            / functools.reduce(operator.mul, [d(env) for d in denominator])
        )

    def _compile_power(self, node: sympy.Pow) -> Node:
        base = self._compile(node.base)
        if node.exp.free_symbols:
            exponent = self._compile(node.exp)
            return lambda env: torch.pow(*_both_tensors(base(env), exponent(env)))
        p = _number(node.exp)
        if p.is_integer() and p < 0:
            return lambda env: 1 / base(env) ** int(-p)
        return lambda env: safe_power(_tensor(base(env)), p)

    def _compile_function(self, node: sympy.Expr) -> Node:
        func = type(node)
        if func not in _UNARY and func not in _BINARY and func not in _NARY:
            name = getattr(func, "__name__", type(node).__name__)
            raise _unsupported(node, f"the function {name!r}")
        args = [self._compile(a) for a in node.args]
        if func in _UNARY and len(args) == 1:
            fn, (arg,) = _UNARY[func], args
            return lambda env: fn(_tensor(arg(env)))
        if func in _BINARY and len(args) == 2:
            fn2 = _BINARY[func]
            return lambda env: fn2(*_both_tensors(args[0](env), args[1](env)))
        if func in _NARY:
            fn_n = _NARY[func]

            def reduce_all(env: list[Value]) -> Value:
                values = [a(env) for a in args]
                like = _first_tensor(values)
                return functools.reduce(fn_n, [_tensor(v, like) for v in values])

            return reduce_all
        raise _unsupported(node, f"{func.__name__} with {len(args)} arguments")


def _tensor(value: Value, like: Value = 0.0) -> torch.Tensor:
    """``value`` as a tensor: itself, or a float in ``like``'s dtype and device (float64, the
    precision of a Python float, when ``like`` is a float too, e.g. all symbols given as floats)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return torch.as_tensor(value, dtype=torch.float64)


def _both_tensors(a: Value, b: Value) -> tuple[torch.Tensor, torch.Tensor]:
    return _tensor(a, b), _tensor(b, a)
