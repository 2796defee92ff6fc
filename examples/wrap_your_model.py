"""Wrap your own network in symnn layers and measure its symmetry error.

Run:  ``python examples/wrap_your_model.py``

A plain network that predicts a triangle's area from its three edge lengths
knows nothing of the problem's symmetries.  Wrapped in ``PermutationSort`` (edge
order does not matter) and ``ScaleNormalize(degree=2)`` (area scales as
length²), which ``symnn.enforce`` picks from the symmetry
``Permutation(3) * Scaling(2)``, the same network has both symmetries, before
any training: exactly for permutations, to rounding for scaling.  The figure
follows one triangle through all six orderings of its edges and through
rescalings from 1/10 to 10 times its size.
"""

import matplotlib
import matplotlib.pyplot as plt
import torch

import symnn


class MyNet(torch.nn.Module):
    """Any network of yours: here a small MLP written by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(3, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def main() -> None:
    torch.manual_seed(0)
    edges = 0.2 + 0.8 * torch.rand(1000, 3, dtype=torch.float64)
    triangle = symnn.Permutation(3) * symnn.Scaling(degree=2)

    plain = MyNet().double()
    # enforce picks the layers for the symmetry:
    # ScaleNormalize(PermutationSort(MyNet), degree=2).
    wrapped = symnn.enforce(MyNet(), triangle).double()
    models = {"plain MyNet": plain, "enforce(MyNet, triangle)": wrapped}

    print(
        "relative symmetry error, edge permutations x rescaling "
        "(area ~ length²), float64:"
    )
    for name, model in models.items():
        error = symnn.testing.equivariance_error(model, triangle, edges)
        print(f"  {name:40s} {error:.2e}")

    spring = symnn.Odd(symnn.MLP(1, 1)).double()
    x = torch.linspace(-2, 2, 101, dtype=torch.float64).unsqueeze(-1)
    print("relative oddness error of Odd(MLP), f(-x) = -f(x):")
    error = symnn.testing.equivariance_error(spring, symnn.Parity(-1), x)
    print(f"  {'Odd(MLP)':40s} {error:.2e}")

    # One triangle, (0.3, 0.5, 0.7): its six orderings, and rescalings λ x.
    one = torch.tensor([[0.3, 0.5, 0.7]], dtype=torch.float64)
    orderings = symnn.Permutation(3).elements()
    scales = torch.logspace(-1, 1, 41, dtype=torch.float64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    with torch.no_grad():
        for name, model in models.items():
            outputs = [model(one[:, p]).item() for p in orderings]
            left.plot(range(6), outputs, "o-", label=name)
            ratio = [
                (model(s * one) / (s**2 * model(one))).item() for s in scales
            ]
            right.semilogx(scales, ratio, label=name)
    left.set_xticks(
        range(6), ["".join("abc"[int(i)] for i in p) for p in orderings]
    )
    left.set(
        xlabel="order of the edges",
        ylabel="predicted area (untrained)",
        title="f(Px) should equal f(x)",
    )
    right.set(xlabel="scale λ", ylabel="f(λx) / (λ² f(x))", title="should be 1")
    right.legend(fontsize=8)
    fig.tight_layout()
    # A window where there is a display; nothing to show under Agg.
    if matplotlib.get_backend().lower() != "agg":
        plt.show()


if __name__ == "__main__":
    main()
