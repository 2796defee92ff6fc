"""Property-based fuzzing of the functional forms and the layers around a small net.

Hypothesis draws batch shapes (an empty batch and extra leading dimensions included),
dtypes (float16, bfloat16, float32, float64) and values (signed zeros, ties, and
magnitudes from 1e-30 to 1e30), and checks what the docstrings promise: exact symmetry
where it is exact, finite results where the true result is representable, NaN in gives
NaN out.  Derandomized, so CI sees the same examples every run; the whole file takes
well under a minute.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symnn
from symnn.functional import even_part, heron_area, input_scale, odd_part, scale_normalize, sort_canonical

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0]


@st.composite
def tensors(draw, last: int | None = None, positive: bool = False, dtypes=DTYPES):
    """A tensor of shape (*batch, d): batch of 0-2 dims of size 0-3, values with ties."""
    dtype = draw(st.sampled_from(dtypes))
    batch = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
    d = last if last is not None else draw(st.integers(1, 4))
    # Log-uniform from 1e-30 to 1e30: every decade is as likely as any other.
    magnitude = st.builds(lambda m, k: m * 10.0**k, st.floats(1.0, 9.99), st.integers(-30, 29))
    value = st.one_of(st.sampled_from(SPECIAL), magnitude, magnitude.map(lambda v: -v))
    # A small pool of values, drawn from with repetition, makes ties common.
    pool = draw(st.lists(value, min_size=1, max_size=4))
    n = math.prod(batch) * d
    flat = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    x = torch.tensor(flat, dtype=torch.float64).reshape(*batch, d)
    if positive:
        x = x.abs()
    return x.to(dtype)


def _nets():
    torch.manual_seed(0)
    net = symnn.MLP(3, 2, hidden=(8,), activation="tanh")
    return {dtype: net.to(dtype) if dtype == torch.float64 else _copy(net, dtype) for dtype in DTYPES}


def _copy(net, dtype):
    clone = symnn.MLP(3, 2, hidden=(8,), activation="tanh")
    clone.load_state_dict(net.state_dict())
    return clone.to(dtype)


NETS = _nets()


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise-equal values (NaN equal to NaN, -0.0 equal to 0.0)."""
    return a.shape == b.shape and a.dtype == b.dtype and bool(((a == b) | (a.isnan() & b.isnan())).all())


def with_nan_row(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.reshape(-1, x.shape[-1])[0, 0] = math.nan
    return x


def first_row(y: torch.Tensor, batch_ndim: int) -> torch.Tensor:
    return y.reshape(-1, *y.shape[batch_ndim:])[0]


def permutations_of(x: torch.Tensor):
    d = x.shape[-1]
    return [torch.arange(d).roll(1), torch.arange(d).flip(0)]


# --- odd_part / even_part, Odd / Even --------------------------------------------------


@FUZZ
@given(tensors(last=3))
def test_odd_and_even_parts_are_exactly_odd_and_even(x):
    net = NETS[x.dtype]
    assert same(odd_part(net, -x), -odd_part(net, x))
    assert same(even_part(net, -x), even_part(net, x))
    assert same(symnn.Odd(net)(x), odd_part(net, x))
    assert odd_part(net, x).shape == (*x.shape[:-1], 2)
    if x.numel():
        nan_x = with_nan_row(x)
        assert first_row(odd_part(net, nan_x), x.ndim - 1).isnan().all()
        assert first_row(even_part(net, nan_x), x.ndim - 1).isnan().all()


# --- sort_canonical, PermutationSort ------------------------------------------------------


@FUZZ
@given(tensors())
def test_sort_canonical_is_a_sorted_permutation_and_exactly_invariant(x):
    y = sort_canonical(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    if x.numel():
        assert not torch.signbit(y[y == 0]).any()  # -0.0 became +0.0
        finite = y[..., :-1].isfinite() & y[..., 1:].isfinite()
        assert (y[..., :-1] >= y[..., 1:])[finite].all()
    for p in permutations_of(x):
        assert same(sort_canonical(x[..., p]), y)
    assert same(y.sort(-1).values, (x + 0.0).sort(-1).values)  # the same multiset


@FUZZ
@given(tensors(last=3))
def test_permutation_sort_layer_is_exactly_invariant(x):
    layer = symnn.PermutationSort(NETS[x.dtype])
    out = layer(x)
    for p in permutations_of(x):
        assert same(layer(x[..., p]), out)
    if x.numel():
        assert first_row(layer(with_nan_row(x)), x.ndim - 1).isnan().all()


# --- input_scale, scale_normalize, ScaleNormalize -----------------------------------------


def _representable(value: float, dtype: torch.dtype) -> bool:
    info = torch.finfo(dtype)
    return value == 0 or info.tiny <= value <= info.max / 2


@FUZZ
@given(tensors(), st.sampled_from(["sum", "norm", "max"]))
def test_input_scale_is_invariant_finite_where_representable_and_nan_safe(x, scale):
    s = input_scale(x, scale)
    assert s.shape == x.shape[:-1] and s.dtype == x.dtype
    for p in permutations_of(x):
        assert same(input_scale(x[..., p], scale), s)
    assert same(input_scale(-x, scale), s)
    x64 = x.double()
    true = {"sum": x64.abs().sum(-1), "norm": x64.norm(dim=-1), "max": x64.abs().amax(-1)}[scale]
    finite = x.isfinite().all(-1).reshape(-1).tolist()
    for value, got, ok in zip(true.reshape(-1).tolist(), s.reshape(-1).tolist(), finite):
        if ok and _representable(value, x.dtype):
            assert math.isfinite(got) and got >= 0
            assert (got == 0) == (value == 0)
            if value and scale != "sum":  # the sum may round its terms; norm and max do not lose range
                assert abs(got / value - 1) <= 8 * torch.finfo(x.dtype).eps
    if x.numel():
        assert first_row(input_scale(with_nan_row(x), scale), x.ndim - 1).isnan().all()


@FUZZ
@given(tensors(last=3), st.sampled_from(["sum", "norm", "max"]), st.sampled_from([2, 1, 0]))
def test_scale_normalize_is_finite_where_promised_and_exactly_permutation_invariant(x, scale, degree):
    layer = symnn.ScaleNormalize(symnn.PermutationSort(NETS[x.dtype]), degree=degree, scale=scale)
    x = x.clone().requires_grad_(True)
    y = layer(x)
    assert y.shape == (*x.shape[:-1], 2)
    for p in permutations_of(x):
        assert same(layer(x.detach()[..., p]), y.detach())
    # Finite where s^k is: the net sees only inputs of unit scale (tanh keeps g bounded).
    s = input_scale(x.detach().double(), scale)
    promised = ((s**degree).abs() < torch.finfo(x.dtype).max / 16) & x.detach().isfinite().all(-1)
    assert y.detach()[promised].isfinite().all()
    if x.dtype in (torch.float32, torch.float64) and x.numel():
        (grad,) = torch.autograd.grad(y.sum(), x)
        assert not grad.isnan().any()
    if x.numel():
        assert first_row(layer(with_nan_row(x.detach())), x.ndim - 1).isnan().all()


@FUZZ
@given(tensors(last=3), st.integers(-20, 20), st.sampled_from([2, 1, 0]))
def test_scale_normalize_is_homogeneous_under_powers_of_two(x, k, degree):
    net = NETS[x.dtype]
    lam = 2.0**k
    y = scale_normalize(net, x, degree)
    y_scaled = scale_normalize(net, x * lam, degree)
    ok = y.isfinite() & y_scaled.isfinite() & (y.abs() > torch.finfo(x.dtype).tiny * 2**25)
    ok &= (y_scaled.abs() > torch.finfo(x.dtype).tiny * 2**25) & ((x * lam).isfinite().all(-1, keepdim=True))
    ok &= (x.abs() > torch.finfo(x.dtype).tiny).all(-1, keepdim=True) | (x == 0).all(-1, keepdim=True)
    # u = x / s is the same bit for bit; s^k then rounds once more.
    tol = 4 * torch.finfo(x.dtype).eps
    assert ((y_scaled[ok] - lam**degree * y[ok]).abs() <= tol * (lam**degree * y[ok]).abs()).all()


# --- heron_area --------------------------------------------------------------------------


def _classify(row: list[float]) -> tuple[str, Fraction]:
    a, b, c = sorted((Fraction(v) for v in row), reverse=True)
    product = (a + b + c) * (-a + b + c) * (a - b + c) * (a + b - c)
    if c < 0 or product < 0:
        return "invalid", product
    return ("flat" if product == 0 else "valid"), product


@st.composite
def triangles(draw, dtypes=DTYPES):
    """Valid (or flat) triangles ``s * (u1, u2, u3)``, u in [1/2, 1] with ties, s from 1e-30 to 1e30."""
    dtype = draw(st.sampled_from(dtypes))
    batch = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
    pool = draw(st.lists(st.sampled_from([0.5, 1.0]) | st.floats(0.5, 1.0), min_size=1, max_size=4))
    n = math.prod(batch) * 3
    unit = torch.tensor(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)), dtype=torch.float64)
    scale = draw(st.floats(1.0, 9.99)) * 10.0 ** draw(st.integers(-30, 29))
    return (unit * scale).reshape(*batch, 3).to(dtype)


@FUZZ
@given(tensors(last=3, positive=True) | triangles())
def test_heron_area_is_finite_where_representable_invariant_and_nan_safe(x):
    area = heron_area(x)
    assert area.shape == x.shape[:-1] and area.dtype == x.dtype
    for p in permutations_of(x):
        assert same(heron_area(x[..., p]), area)
    info = torch.finfo(x.dtype)
    for row, got in zip(x.reshape(-1, 3).double().tolist(), area.reshape(-1).tolist()):
        if not all(math.isfinite(v) for v in row):
            continue
        kind, product = _classify(row)
        if kind == "invalid":
            assert math.isnan(got)
        elif kind == "flat":
            assert got == 0
        elif Fraction(info.tiny) ** 2 * 16 <= product <= Fraction(info.max) ** 2:  # a normal area
            true = math.sqrt(product) / 4
            assert math.isfinite(got) and abs(got / true - 1) <= 4 * info.eps
    if x.numel():
        assert first_row(heron_area(with_nan_row(x)), x.ndim - 1).isnan().all()


@FUZZ
@given(triangles(dtypes=[torch.float32, torch.float64]), st.integers(-60, 60))
def test_heron_area_is_exactly_homogeneous_under_powers_of_two(x, k):
    lam = 2.0**k
    area, area_scaled = heron_area(x), heron_area(x * lam)
    info = torch.finfo(x.dtype)
    normal = (x >= info.tiny).all(-1) & (x * lam >= info.tiny).all(-1) & (x * lam <= info.max).all(-1)
    normal &= (area >= info.tiny) & (area_scaled >= info.tiny) & area.isfinite() & area_scaled.isfinite()
    assert same(area_scaled[normal], area[normal] * lam**2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fuzz_values_reach_every_dtype(dtype):
    # The strategy's own check: each dtype is drawn, and so are its extreme magnitudes.
    seen = []

    @settings(max_examples=30, deadline=None, derandomize=True)
    @given(tensors(dtypes=[dtype]))
    def collect(x):
        seen.append(x)

    collect()
    values = torch.cat([x.reshape(-1).double() for x in seen])
    assert all(x.dtype == dtype for x in seen)
    assert any(x.numel() == 0 for x in seen) and any(x.ndim == 3 for x in seen)
    assert values.abs().max() > 1e20 or dtype in (torch.float16,)
