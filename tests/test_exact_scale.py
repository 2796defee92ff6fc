"""Exact power-of-two scaling: binary_exponent and ldexp over the whole float range."""

import math

import pytest
import torch

from symnn._exact_scale import binary_exponent, ldexp, reciprocal_power_of_two


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_binary_exponent_matches_math_frexp_including_subnormals(dtype):
    info = torch.finfo(dtype)
    values = torch.tensor(
        [info.max, info.tiny, info.tiny / 2**10, info.smallest_normal * 3, 1.0, -0.75], dtype=dtype
    )
    expected = [math.frexp(v)[1] for v in values.tolist()]
    assert binary_exponent(values).tolist() == expected
    specials = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan], dtype=dtype)
    assert binary_exponent(specials).tolist() == [0] * 5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_ldexp_is_exact_wherever_the_result_is_normal(dtype):
    info = torch.finfo(dtype)
    low, high = math.frexp(info.tiny)[1], math.frexp(info.max)[1]
    x = torch.tensor([0.75, -0.5078125], dtype=dtype)
    for n in range(2 * low - 60, 2 * high + 60, 7):
        for value in x.tolist():
            # Scale a number of exponent e by 2^k so that the result's exponent stays normal.
            k = max(min(n, high - 1), low + 1)
            got = float(ldexp(torch.tensor(value, dtype=dtype), torch.tensor(k)))
            assert got == math.ldexp(value, k)
    # Exponents past a single power's range: the pieces carry it.
    tiny = torch.tensor(info.tiny, dtype=dtype) / 4  # subnormal
    assert float(ldexp(ldexp(tiny, torch.tensor(2 * high - 10)), torch.tensor(10 - 2 * high))) == float(tiny)


def test_ldexp_gradient_is_the_same_power_of_two():
    x = torch.tensor([3.0, -2.0], dtype=torch.float64, requires_grad=True)
    y = ldexp(x, torch.tensor([-1000, 1000]))
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert grad.tolist() == [2.0**-1000, 2.0**1000]


def test_ldexp_keeps_half_precision_dtypes():
    for dtype in (torch.float16, torch.bfloat16):
        y = ldexp(torch.tensor([3.0], dtype=dtype), torch.tensor([2]))
        assert y.dtype == dtype and float(y) == 12.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_reciprocal_power_of_two_brings_every_finite_scale_to_a_normal_number(dtype):
    info = torch.finfo(dtype)
    s = torch.tensor([info.max, info.tiny, info.tiny / 8, info.smallest_normal * 3, 1.0, 0.3], dtype=dtype)
    p = reciprocal_power_of_two(s)
    assert p.dtype == dtype and not p.requires_grad
    mantissa = torch.frexp(p.double()).mantissa
    assert (mantissa == 0.5).all()  # exact powers of two
    scaled = (s * p).double()
    assert (scaled >= info.tiny).all() and (scaled < 4).all()  # normal, and at most 4
    normal = (s >= info.tiny) & (s < info.max / 2)  # where 2^-e itself is normal
    assert ((scaled[normal] >= 0.5) & (scaled[normal] < 1)).all()
    specials = torch.tensor([math.inf, -math.inf, math.nan], dtype=dtype)
    assert reciprocal_power_of_two(specials).tolist() == [1.0, 1.0, 1.0]
