"""Laplace PINN: boundary conditions as a penalty, or built into the model.

Run:  ``python examples/laplace_pinn.py``

The lecture's physics-informed network: find u with u_xx + u_yy = 0 on the unit
square, u = e^x sin y on its boundary (the exact solution is e^x sin y itself).
The loss drives the residual ``symnn.pinn.laplacian(u, x)`` to zero at random
collocation points.  The boundary condition goes in one of two places:

* soft (learning bias): a second loss term, the squared mismatch at random
  boundary points, weighted against the residual;
* hard (inductive bias): ``symnn.pinn.HardBoundary``, u = g + d·N, where d is
  ``symnn.pinn.box_distance`` (zero on the boundary) and g any function with the
  boundary values.  The boundary condition then holds exactly, whatever the
  network N, and the loss is the residual alone.

For g the example uses the transfinite (Coons) interpolation of the four edges'
values, which matches them on the boundary but is not harmonic inside — so the
network still has the whole interior to learn.  Both models have the same
network and optimizer and train for the same number of steps; the table gives
the relative L² error against the exact solution on a grid, and the largest
error on the boundary; the first row is g by itself, what the hard model starts
from.
"""

import matplotlib
import matplotlib.pyplot as plt
import torch

import symnn
from symnn import pinn

STEPS = 300
BOUNDARY_WEIGHT = 10.0


def exact(x: torch.Tensor) -> torch.Tensor:
    return (torch.exp(x[:, 0]) * torch.sin(x[:, 1])).unsqueeze(-1)


def coons(x: torch.Tensor) -> torch.Tensor:
    """Equal to ``exact`` on the boundary, built from the edges only."""
    s, t = x[:, :1], x[:, 1:]

    def at(a, b):
        return exact(
            torch.cat(
                [
                    torch.as_tensor(a).expand_as(s),
                    torch.as_tensor(b).expand_as(t),
                ],
                -1,
            )
        )

    edges = (
        (1 - s) * at(0.0, t)
        + s * at(1.0, t)
        + (1 - t) * at(s, 0.0)
        + t * at(s, 1.0)
    )
    corners = (1 - s) * (1 - t) * at(0.0, 0.0) + s * (1 - t) * at(1.0, 0.0)
    corners = corners + (1 - s) * t * at(0.0, 1.0) + s * t * at(1.0, 1.0)
    return edges - corners


def boundary_points(n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` random points on each of the four edges of the unit square."""
    u = torch.rand(n, 1, generator=generator)
    zero, one = torch.zeros_like(u), torch.ones_like(u)
    return torch.cat(
        [torch.cat(p, -1) for p in ((zero, u), (one, u), (u, zero), (u, one))]
    )


def network() -> torch.nn.Module:
    return symnn.MLP(2, 1, hidden=(32, 32), activation="tanh")


def train(
    model: torch.nn.Module, soft: bool, generator: torch.Generator
) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(STEPS):
        x = torch.rand(128, 2, generator=generator).requires_grad_()
        loss = pinn.residual_loss(pinn.laplacian(model(x), x))
        if soft:
            xb = boundary_points(64, generator)
            loss = loss + BOUNDARY_WEIGHT * torch.nn.functional.mse_loss(
                model(xb), exact(xb)
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history


def main() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    models = {
        "soft boundary (penalty)": (network(), True),
        "hard boundary (HardBoundary)": (
            pinn.HardBoundary(
                network(), boundary_value=coons, distance=pinn.box_distance
            ),
            False,
        ),
    }
    side = torch.linspace(0, 1, 51)
    grid = torch.cartesian_prod(side, side)
    edge = boundary_points(200, generator)
    truth = exact(grid)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    print(
        f"{'model':30s} {'relative L2 error':>18s} {'max boundary error':>19s}"
    )
    coons_error = ((coons(grid) - truth).norm() / truth.norm()).item()
    coons_edge_error = (coons(edge) - exact(edge)).abs().max().item()
    print(
        f"{'g alone (no network)':30s} {coons_error:18.2e} "
        f"{coons_edge_error:19.2e}"
    )
    for k, (name, (model, soft)) in enumerate(models.items()):
        history = train(model, soft, generator)
        with torch.no_grad():
            predicted = model(grid)
            error = ((predicted - truth).norm() / truth.norm()).item()
            boundary_error = (model(edge) - exact(edge)).abs().max().item()
        print(f"{name:30s} {error:18.2e} {boundary_error:19.2e}")
        axes[0].semilogy(history, label=name, lw=1)
        image = axes[k + 1].imshow(
            (predicted - truth).reshape(51, 51).T.abs().numpy(),
            origin="lower",
            extent=(0, 1, 0, 1),
            cmap="viridis",
        )
        axes[k + 1].set(
            title=f"|u - exact|, {name.split(' (')[0]}", xlabel="x", ylabel="y"
        )
        fig.colorbar(image, ax=axes[k + 1])
    axes[0].set(
        xlabel="step",
        ylabel="training loss",
        title=f"u_xx + u_yy = 0, {STEPS} steps",
    )
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    # A window where there is a display; nothing to show under Agg.
    if matplotlib.get_backend().lower() != "agg":
        plt.show()


if __name__ == "__main__":
    main()
