"""Fixtures shared by the layer tests.

CUDA: the development machine has no GPU, so every ``device``-parametrised test has only
run on the CPU there.  They are written to run on CUDA unchanged and do so wherever
``torch.cuda.is_available()``; elsewhere the CUDA cases are skipped, not passed.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import torch

# The zoo lives in the folder zoo/ and installs as the package symnn_zoo: the tests
# import this checkout's folder under that name (as PYTHONPATH does for symnn).
_ZOO = pathlib.Path(__file__).resolve().parents[1] / "zoo"
if _ZOO.is_dir():
    _spec = importlib.util.spec_from_file_location(
        "symnn_zoo", _ZOO / "__init__.py", submodule_search_locations=[str(_ZOO)]
    )
    sys.modules["symnn_zoo"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["symnn_zoo"])

DTYPES = [torch.float32, torch.float64]

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not torch.cuda.is_available(),
            reason="no CUDA device (CUDA is untested on the CPU-only dev machine)",
        ),
    ),
]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request) -> torch.dtype:
    return request.param


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    return request.param


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def num_threads(request):
    """Run the test with torch's intra-op thread count set to 1, then 2 (GEMM blocking differs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def _tied_rows(n: int, d: int, generator: torch.Generator, positive: bool) -> torch.Tensor:
    """``(n, d)`` float64 rows, a quarter of them generic and the rest with ties and zeros."""
    if positive:
        generic = torch.rand(n, d, generator=generator, dtype=torch.float64) + 1e-3
    else:
        generic = torch.randn(n, d, generator=generator, dtype=torch.float64)
    rows = generic.clone()
    kind = torch.arange(n) % 8
    pick = torch.randint(0, d, (n,), generator=generator)
    for i in range(n):
        r = rows[i]
        k = int(kind[i])
        if k == 1 and d > 1:  # two entries equal
            r[(int(pick[i]) + 1) % d] = r[int(pick[i])]
        elif k == 2:  # all entries equal
            r[:] = r[0]
        elif k == 3:  # one zero
            r[int(pick[i])] = 0.0
        elif k == 4:  # all zero
            r[:] = 0.0
        elif k == 5 and not positive:  # signed zeros, tied with each other
            r[:] = 0.0
            r[int(pick[i])] = -0.0
        elif k == 6:  # tiny and large magnitudes, tied
            r[:] = r[0] * (1e-30 if i % 2 else 1e3)
    return rows[torch.randperm(n, generator=generator)]


@pytest.fixture
def tied_inputs():
    """``make(n, d, dtype, seed=0, positive=False)``: random rows with ties, zeros and -0.0.

    Built in float64 and rounded once, so ties survive the cast to float32.
    """

    def make(
        n: int, d: int, dtype: torch.dtype = torch.float64, seed: int = 0, positive: bool = False
    ) -> torch.Tensor:
        rows = _tied_rows(n, d, torch.Generator().manual_seed(seed), positive)
        return rows.to(dtype)

    return make
