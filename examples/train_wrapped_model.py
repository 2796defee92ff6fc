"""Train a wrapped model: the loss falls and the fit holds, symmetry kept.

Run:  ``python examples/train_wrapped_model.py``

The model of :doc:`../guides/getting-started`: any network mapping a triangle's
three edge lengths to its area, wrapped as
``ScaleNormalize(PermutationSort(net), degree=2)`` so that reordering the edges
changes nothing and scaling them by λ scales the area by λ².  Here it is trained
on Heron's formula, beside the same network unwrapped, on triangles with edges
in (0.2, 1.0), and tested on new triangles of that size and on larger ones
(edges in (1.5, 3.0)), which neither model saw.  The left panel is the training
loss, the others predicted against true area.  The wrapped model learns as
fast, and it carries what it learned to the larger triangles: its scaling is in
the structure, so the large triangles are small ones, scaled.
"""

import matplotlib
import matplotlib.pyplot as plt
import torch

import symnn

STEPS = 400


def heron(edges: torch.Tensor) -> torch.Tensor:
    """The true area (clamped at 0 for rounding at degenerate triangles)."""
    a, b, c = edges.unbind(-1)
    s = (a + b + c) / 2
    return (s * (s - a) * (s - b) * (s - c)).clamp_min(0).sqrt().unsqueeze(-1)


def triangles(n: int, low: float, high: float, generator) -> torch.Tensor:
    """``n`` valid triangles with edges uniform in (low, high)."""
    edges = low + (high - low) * torch.rand(3 * n, 3, generator=generator)
    return edges[2 * edges.amax(-1) < edges.sum(-1)][:n]


def train(model: torch.nn.Module, x, y) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = triangles(2000, 0.2, 1.0, generator)
    y = heron(x)
    tests = {
        "new triangles, edges in (0.2, 1)": triangles(500, 0.2, 1.0, generator),
        "larger triangles, edges in (1.5, 3)": triangles(
            500, 1.5, 3.0, generator
        ),
    }
    models = {
        "plain MLP": symnn.MLP(3, 1, hidden=(64, 64)),
        "ScaleNormalize(PermutationSort(MLP))": symnn.ScaleNormalize(
            symnn.PermutationSort(symnn.MLP(3, 1, hidden=(64, 64))), degree=2
        ),
    }
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    print(
        f"{'model':38s} {'final loss':>10s}   relative RMS error per test set"
    )
    for name, model in models.items():
        losses = train(model, x, y)
        axes[0].semilogy(losses, label=name)
        errors = []
        with torch.no_grad():
            for ax, edges in zip(axes[1:], tests.values()):
                area, predicted = heron(edges), model(edges)
                ax.plot(area, predicted, ".", ms=2, label=name)
                rms = (predicted - area).square().mean().sqrt()
                errors.append(
                    f"{(rms / area.square().mean().sqrt()).item():.1e}"
                )
        print(f"{name:38s} {losses[-1]:10.2e}   " + "  ".join(errors))
    axes[0].set(xlabel="training step", ylabel="training loss (MSE)")
    axes[0].legend(fontsize=7)
    for ax, (title, edges) in zip(axes[1:], tests.items()):
        top = heron(edges).max().item()
        ax.plot([0, top], [0, top], "k--", lw=1)
        ax.set(title=title, xlabel="true area", ylabel="predicted area")
        ax.title.set_fontsize(9)
    fig.tight_layout()
    # A window where there is a display; nothing to show under Agg.
    if matplotlib.get_backend().lower() != "agg":
        plt.show()


if __name__ == "__main__":
    main()
