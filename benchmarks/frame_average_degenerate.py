"""Equivariance error of ``FrameAverage`` at degenerate clouds (the numbers in its docstring).

Three vectors in (``3x1o``); a scalar, vector and rank-2 Cartesian output; ``MLP(9, k,
hidden=(32, 32))`` backbones from seeds 0-2; ``symnn.testing.equivariance_error`` over 16
random rotations, float64; the worst over seeds is printed.  Run:
``python benchmarks/frame_average_degenerate.py`` (seconds).
"""

import torch

import symnn
from symnn.testing import equivariance_error

c, s = 3**0.5 / 2, 0.5
cases = {
    "equilateral": [1.0, 0, 0, -s, c, 0, -s, -c, 0],
    "axis-tie diag(1,1,4)": [1.0, 0, 0, 0, 1, 0, 0, 0, 2],
    "collinear": [1.0, 2, 3, -2, -4, -6, 0.5, 1, 1.5],
    "single vector": [0.0, 0, 0, 0.3, -1, 2, 0, 0, 0],
    "zero": [0.0] * 9,
    "orthonormal": [1.0, 0, 0, 0, 1, 0, 0, 0, 1],
    "near tie 1e-6": [1.0, 0, 0, 0, 1 + 1e-6, 0, 0, 0, 2],
}
for out in ["0e", "1o", "ij"]:
    sym = symnn.Rotation("3x1o", out)
    row = []
    for name, v in cases.items():
        errs = []
        for seed in range(3):
            torch.manual_seed(seed)
            m = symnn.FrameAverage(symnn.MLP(9, sym.irreps_out.dim, hidden=(32, 32)), sym).double()
            errs.append(equivariance_error(m, sym, torch.tensor([v], dtype=torch.float64), n_elements=16))
        row.append(f"{name}: {max(errs):.1e}")
    print(out, "; ".join(row))
