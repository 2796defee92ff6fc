"""sympy -> torch translation: values and derivatives agree with sympy's own."""

import math

import pytest
import sympy
import torch

from symnn.priors import SUPPORTED_FUNCTIONS
from symnn.priors._translate import TorchProgram

u, v = sympy.symbols("u v")
# Each case is evaluated for u, v in (0.2, 0.9), inside every function's real domain.
CASES = [
    u**3 - 2 * u * v + sympy.Rational(1, 3),
    u / v - v / (u + 1),
    sympy.sqrt(u * v) + u ** sympy.Rational(3, 2) - v ** sympy.Rational(-1, 3),
    u**v + 2**u,
    sympy.pi * sympy.E * u + sympy.sqrt(2) * sympy.exp(3) / 7,
    sympy.exp(u) * sympy.log(v) + sympy.log(u, 2),
    sympy.sin(u) + sympy.cos(v) + sympy.tan(u * v),
    sympy.cot(u) + sympy.sec(v) + sympy.csc(u),
    sympy.asin(u) + sympy.acos(v) + sympy.atan(u - v),
    sympy.sinh(u) + sympy.cosh(v) + sympy.tanh(u - v),
    sympy.asinh(u) + sympy.acosh(1 + v) + sympy.atanh(u - v),
    sympy.Abs(u - v) * sympy.sign(u - 0.5) + sympy.floor(3 * u) + sympy.ceiling(2 * v),
    sympy.erf(u) + sympy.erfc(v) + sympy.atan2(u, v - 0.5),
    sympy.Min(u, v, 0.5) + sympy.Max(u, 2 * v),
    sympy.Float(0.1) * u + 1.5 * v**2,
]


def points(n, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (0.2 + 0.7 * torch.rand(n, 2, generator=g)).to(dtype)


def sympy_values(expr, uv):
    f = sympy.lambdify((u, v), expr, "mpmath")
    return torch.tensor([float(f(*row)) for row in uv.tolist()], dtype=torch.float64)


def test_every_supported_function_has_a_case():
    used = {type(node).__name__ for e in CASES for node in sympy.preorder_traversal(e)}
    assert set(SUPPORTED_FUNCTIONS) <= used


@pytest.mark.parametrize("expr", CASES, ids=str)
def test_values_agree_with_sympy_to_1e_12(expr):
    uv = points(20)
    (out,) = TorchProgram([expr], [u, v])(list(uv.unbind(-1)))
    torch.testing.assert_close(out, sympy_values(expr, uv), rtol=1e-12, atol=1e-12)


# sympy leaves the derivatives of floor, ceiling and sign unevaluated.
SMOOTH = [e for e in CASES if not e.has(sympy.floor, sympy.ceiling, sympy.sign)]


@pytest.mark.parametrize("expr", SMOOTH, ids=str)
def test_gradients_agree_with_sympy_derivatives(expr):
    uv = points(10).requires_grad_(True)
    (out,) = TorchProgram([expr], [u, v])(list(uv.unbind(-1)))
    (grad,) = torch.autograd.grad(out.sum(), uv)
    for i, s in enumerate((u, v)):
        expected = sympy_values(sympy.diff(expr, s), uv.detach())
        torch.testing.assert_close(grad[:, i], expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_the_input(dtype):
    program = TorchProgram([sympy.sqrt(u) * sympy.pi + v**2, sympy.Max(u, 0.5)], [u, v])
    for out in program(list(points(4, dtype).unbind(-1))):
        assert out.dtype == dtype


def test_shared_subexpressions_do_not_change_values():
    expr = sympy.sqrt((u + v) ** 2 + 1) * sympy.exp(-((u + v) ** 2))
    uv = list(points(8).unbind(-1))
    shared, plain = TorchProgram([expr], [u, v])(uv)[0], TorchProgram([expr], [u, v], cse=False)(uv)[0]
    torch.testing.assert_close(shared, plain, rtol=1e-14, atol=0)


def test_a_number_stays_a_float():
    assert TorchProgram([sympy.pi / 2], [u])([torch.ones(3)]) == [math.pi / 2]


@pytest.mark.parametrize(
    ("expr", "name"),
    [
        (sympy.Piecewise((u, u > 0), (0, True)), "Piecewise"),
        (sympy.Function("f")(u), "'f'"),
        (sympy.besselj(0, u), "'besselj'"),
        (sympy.gamma(u), "'gamma'"),
        (sympy.Derivative(sympy.Function("g")(u), u), "'Derivative'"),
        (sympy.I * u, "complex"),
    ],
)
def test_unsupported_expressions_are_named(expr, name):
    with pytest.raises(ValueError, match=name):
        TorchProgram([expr], [u])


def test_unknown_symbols_are_named():
    with pytest.raises(ValueError, match=r"\['v'\]"):
        TorchProgram([u + v], [u])


def test_wrong_number_of_values():
    with pytest.raises(ValueError, match="expected 2 values"):
        TorchProgram([u + v], [u, v])([torch.ones(2)])
