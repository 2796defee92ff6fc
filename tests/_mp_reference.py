"""An independent high-precision reference for heron_area and input_scale(x, "norm").

mpmath (installed with sympy) evaluates the exact float inputs at 2,400 bits, enough for
every sum of two float64 numbers to be exact, so the reference is the true value of
the formula at the given inputs; the error of symnn's result is counted in ulps of that
true value in the tested dtype.

Run it to measure the worst error over the whole finite range (what the numerical-safety
guide quotes):

    PYTHONPATH=. python tests/_mp_reference.py --rows 20000
"""

from __future__ import annotations

import argparse

import mpmath
import numpy as np
import torch

PRECISION_BITS = 2400
_MANTISSA = {torch.float32: 24, torch.float64: 53}
# Normal exponents e (|v| = m 2^e, m in [1/2, 1)) of each dtype: [emin, emax].
_EXPONENTS = {torch.float32: (-125, 128), torch.float64: (-1021, 1024)}

# Kahan's needle-like triangles ("Miscalculating Area and Angles of a Needle-like Triangle",
# table 1); rows that round to flat or invalid triangles are skipped by the checks.
KAHAN_TRIANGLES = [
    (10.0, 10.0, 10.0),
    (3.0, 4.0, 5.0),
    (100000.0, 99999.99979, 0.00029),
    (100000.0, 100000.0, 1.00005),
    (99999.99996, 99999.99994, 0.00003),
    (99999.99996, 0.00003, 99999.99994),
    (10000.0, 5000.000001, 15000.0),
    (5278.64055, 94721.35941, 99999.99996),
    (100002.0, 100002.0, 200004.0),
    (31622.77662, 0.000023, 31622.77661),
    (31622.77662, 0.0155555, 31622.77661),
]


def ulps(computed: float, true: mpmath.mpf, dtype: torch.dtype) -> float:
    """|computed - true| in units in the last place of ``true`` in ``dtype``."""
    _, exponent = mpmath.frexp(true)
    ulp = mpmath.ldexp(1, int(exponent) - _MANTISSA[dtype])
    return float(abs(mpmath.mpf(computed) - true) / ulp)


def is_normal(value: mpmath.mpf, dtype: torch.dtype) -> bool:
    low, high = _EXPONENTS[dtype]
    if value == 0 or not mpmath.isfinite(value):
        return False
    _, exponent = mpmath.frexp(value)
    return low <= exponent <= high and float(value) < float(torch.finfo(dtype).max)


def heron_reference(a: float, b: float, c: float) -> tuple[mpmath.mpf, list[mpmath.mpf]]:
    """The area of the float edges and its gradient, or (nan, []) for an invalid triangle."""
    with mpmath.workprec(PRECISION_BITS):
        a, b, c = (mpmath.mpf(v) for v in (a, b, c))
        product = (a + b + c) * (-a + b + c) * (a - b + c) * (a + b - c)
        if product <= 0:
            return mpmath.nan, []
        area = mpmath.sqrt(product) / 4
        # dA/da = a (b^2 + c^2 - a^2) / (8 A), and cyclically.
        grad = [x * (y * y + z * z - x * x) / (8 * area) for x, y, z in ((a, b, c), (b, c, a), (c, a, b))]
        return +area, [+g for g in grad]


def norm_reference(row: list[float]) -> tuple[mpmath.mpf, list[mpmath.mpf]]:
    with mpmath.workprec(PRECISION_BITS):
        values = [mpmath.mpf(v) for v in row]
        norm = mpmath.sqrt(mpmath.fsum(v * v for v in values))
        return +norm, [v / norm for v in values]


def _in_dtype(values: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """Round float64 values to ``dtype`` (flushing nothing) and return them as float64."""
    return torch.from_numpy(values).to(dtype).double().numpy()


def random_exponents(rng: np.random.Generator, shape, dtype: torch.dtype, low=None, high=None):
    emin, emax = _EXPONENTS[dtype]
    return rng.integers(emin if low is None else low, (emax if high is None else high) + 1, size=shape)


def triangles(n: int, dtype: torch.dtype, seed: int = 0) -> np.ndarray:
    """``(n, 3)`` valid triangles over the whole range: a third same-scale, a third with
    independent exponents (needles of every shape), a third nearly flat; plus Kahan's."""
    rng = np.random.default_rng(seed)
    emin, emax = _EXPONENTS[dtype]
    third = n // 3
    # Same scale: area ~ s^2 spans the normal range.
    s = np.ldexp(1.0, random_exponents(rng, (third, 1), dtype, emin // 2 + 2, emax // 2 - 2))
    generic = s * rng.uniform(0.5, 1.0, (third, 3))
    # Independent exponents for the two longest; the third closes a valid triangle.
    big = np.ldexp(rng.uniform(0.5, 1.0, third), random_exponents(rng, third, dtype))
    small = np.ldexp(rng.uniform(0.5, 1.0, third), random_exponents(rng, third, dtype))
    x, y = np.maximum(big, small), np.minimum(big, small)
    with np.errstate(over="ignore"):  # x + y may leave the range: such rows are dropped
        z = x - y * rng.uniform(-1.0, 1.0, third)
    needles = np.stack([x, y, z], axis=-1)
    # Nearly flat: the longest edge a hair below the sum of the others.
    rest = n - 2 * third
    s = np.ldexp(1.0, random_exponents(rng, (rest, 1), dtype, emin // 2 + 30, emax // 2 - 2))
    bc = s * rng.uniform(0.5, 1.0, (rest, 2))
    hair = np.ldexp(1.0, -rng.integers(2, _MANTISSA[dtype] - 1, rest))
    flat = np.concatenate([bc, (bc.sum(-1) * (1 - hair))[:, None]], axis=-1)
    rows = _in_dtype(np.concatenate([generic, needles, flat, np.array(KAHAN_TRIANGLES)]), dtype)
    return rows[np.isfinite(rows).all(-1)]


def vectors(n: int, dtype: torch.dtype, seed: int = 0) -> list[np.ndarray]:
    """Rows of 1, 2, 3 and 5 entries with signs and independent exponents over the whole range."""
    rng = np.random.default_rng(seed)
    out = []
    for d in (1, 2, 3, 5):
        m = n // 4
        magnitudes = np.ldexp(rng.uniform(0.5, 1.0, (m, d)), random_exponents(rng, (m, d), dtype))
        # Half the rows keep their entries within a factor 2^20 of each other (all count).
        close = np.ldexp(1.0, random_exponents(rng, (m, 1), dtype, high=_EXPONENTS[dtype][1] - 3))
        magnitudes[: m // 2] = close[: m // 2] * np.ldexp(
            rng.uniform(0.5, 1.0, (m // 2, d)), -rng.integers(0, 20, (m // 2, d))
        )
        signs = rng.choice([-1.0, 1.0], (m, d))
        out.append(_in_dtype(signs * magnitudes, dtype))
    return out


def heron_errors(edges: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(error in ulps, normwise relative gradient error) per valid row with a normal area."""
    from symnn.functional import heron_area

    x = torch.from_numpy(edges).to(dtype).requires_grad_(True)
    area = heron_area(x)
    (grad,) = torch.autograd.grad(area.sum(), x)
    value_errors, grad_errors = [], []
    for row, computed, g in zip(edges.tolist(), area.tolist(), grad.double().tolist()):
        true, true_grad = heron_reference(*row)
        if not is_normal(true, dtype):
            continue
        value_errors.append(ulps(computed, true, dtype))
        scale = max(abs(t) for t in true_grad)
        if is_normal(scale, dtype) and scale < float(torch.finfo(dtype).max) / 4:
            grad_errors.append(float(max(abs(mpmath.mpf(gi) - t) for gi, t in zip(g, true_grad)) / scale))
    return np.array(value_errors), np.array(grad_errors)


def norm_errors(rows: np.ndarray, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    from symnn.functional import input_scale

    x = torch.from_numpy(rows).to(dtype).requires_grad_(True)
    norm = input_scale(x, "norm")
    (grad,) = torch.autograd.grad(norm.sum(), x)
    value_errors, grad_errors = [], []
    for row, computed, g in zip(rows.tolist(), norm.tolist(), grad.double().tolist()):
        true, true_grad = norm_reference(row)
        if not is_normal(true, dtype):
            continue
        value_errors.append(ulps(computed, true, dtype))
        grad_errors.append(float(max(abs(mpmath.mpf(gi) - t) for gi, t in zip(g, true_grad))))
    return np.array(value_errors), np.array(grad_errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for dtype in (torch.float32, torch.float64):
        eps = torch.finfo(dtype).eps
        v, g = heron_errors(triangles(args.rows, dtype, args.seed), dtype)
        print(
            f"heron_area  {dtype}: {v.size} rows, worst {v.max():.3f} ulp, mean {v.mean():.3f}; "
            f"gradient: worst {g.max() / eps:.2f} eps (normwise, {g.size} rows)"
        )
        errors = [norm_errors(rows, dtype) for rows in vectors(args.rows, dtype, args.seed)]
        v = np.concatenate([e[0] for e in errors])
        g = np.concatenate([e[1] for e in errors])
        print(
            f"input_scale {dtype}: {v.size} rows, worst {v.max():.3f} ulp, mean {v.mean():.3f}; "
            f"gradient: worst {g.max() / eps:.2f} eps (absolute, |grad| = 1)"
        )


if __name__ == "__main__":
    main()
