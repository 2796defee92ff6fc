"""Wrap your own network in symnn layers and measure its symmetry error.

Run:  python examples/wrap_your_model.py

A plain MLP that predicts a triangle's area from its three edge lengths knows
nothing of the problem's symmetries.  Wrapped in ``PermutationSort`` (edge order
does not matter) and ``ScaleNormalize(degree=2)`` (area scales as length²), the
same network has both symmetries exactly, before any training.
"""

import torch

import symnn


class MyNet(torch.nn.Module):
    """Any network of yours: here a small MLP written by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(3, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def main() -> None:
    torch.manual_seed(0)
    edges = 0.2 + 0.8 * torch.rand(1000, 3, dtype=torch.float64)
    triangle = symnn.Permutation(3) * symnn.Scaling(degree=2)

    plain = MyNet().double()
    wrapped = symnn.ScaleNormalize(symnn.PermutationSort(MyNet()), degree=2).double()

    print("relative symmetry error, edge permutations x rescaling (area ~ length²), float64:")
    for name, model in [("plain MyNet", plain), ("ScaleNormalize(PermutationSort(MyNet))", wrapped)]:
        error = symnn.testing.equivariance_error(model, triangle, edges)
        print(f"  {name:40s} {error:.2e}")

    spring = symnn.Odd(symnn.MLP(1, 1)).double()
    x = torch.linspace(-2, 2, 101, dtype=torch.float64).unsqueeze(-1)
    print("relative oddness error of Odd(MLP), f(-x) = -f(x):")
    print(f"  {'Odd(MLP)':40s} {symnn.testing.equivariance_error(spring, symnn.Parity(-1), x):.2e}")


if __name__ == "__main__":
    main()
