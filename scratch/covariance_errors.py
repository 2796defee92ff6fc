"""The largest relative covariance error of Dimensionless(MLP) over 1,000 random unit changes
(each base-dimension factor log-uniform in 1e-5..1e5), 64 positive inputs (log-uniform e^-2..e^2),
measured by symnn.testing.equivariance_error (action and comparison in float64)."""

import torch

import symnn
from symnn.testing import equivariance_error
from symnn.units import pi_groups

CASES = {
    "pendulum": ({"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}, ("T", "s")),
    "drag": ({"rho": "kg/m**3", "v": "m/s", "L": "m", "mu": "Pa*s"}, ("F", "N")),
    "triangle": ({"a": "m", "b": "m", "c": "m"}, ("A", "m**2")),
}
torch.set_num_threads(1)
for name, (inputs, output) in CASES.items():
    for dtype in (torch.float64, torch.float32):
        torch.manual_seed(0)
        k = len(pi_groups(inputs, output).groups)
        model = symnn.Dimensionless(symnn.MLP(k, 2, hidden=(32, 32)), inputs, output).to(dtype)
        sym = symnn.UnitScaling(inputs, output, scale_range=(1e-5, 1e5))
        g = torch.Generator().manual_seed(1)
        x = torch.exp(torch.empty(64, len(inputs), dtype=torch.float64).uniform_(-2, 2, generator=g)).to(
            dtype
        )
        elements = sym.sample(1000, torch.Generator().manual_seed(2))
        print(
            f"{name:9s} {dtype!s:14s} max rel. error {equivariance_error(model, sym, x, elements=elements):.2e}"
        )
