"""Triangle ladder in brief: the lecture's five levels of bias on one problem.

Run:  ``python examples/triangle_ladder.py``

A network predicts a triangle's area from its edge lengths (a, b, c), trained on
edges in (0.2, 1.0).  Each level adds the same knowledge — the area does not
depend on the order of the edges and scales as length² — in a different place:

* level 0: nothing (a plain MLP);
* level 1, observation bias: the data.  The lecture adds the six orderings of
  every triangle and a rescaled copy (``symnn.augment(x, y, [Permutation(3),
  (Scaling(2), 1)])``, seven times the data); here symnn's online form,
  ``symnn.RandomAction``, reorders and rescales every triangle afresh each
  epoch, at the cost of the plain epoch;
* level 2, learning bias: the loss.  Permutation and scaling penalties against
  the labels, ``symnn.SymmetryPenalty``, each with one random element per
  triangle and step (the lecture's form uses every permutation every step);
* level 3, inductive bias: the model, ``ScaleNormalize(PermutationSort(MLP))``;
* level 4, physics bias: the form A² = C (a+b+c)(a+b−c)(a−b+c)(−a+b+c), derived
  by ``symnn.priors.heron()`` with its one constant fitted in closed form.

Every level is tested in distribution (edges in (0.2, 1.0)) and out of it (edges
in (1.5, 3.0)), on the base test set, on permuted edges and on rescaled
triangles (s in (0.6, 1.7), area × s²).  This is the zoo's ``triangle`` problem
cut down to run in seconds: a smaller network, fewer samples and epochs.
``symnn-zoo run triangle`` runs the lecture's full setting.
"""

import time

import matplotlib
import matplotlib.pyplot as plt
import torch

import symnn

EPOCHS = 300
WARM_UP_EPOCHS = 5  # untimed, once per level, before any level is timed
N_TRAIN, N_TEST = 1000, 1000
SCALING = symnn.Scaling(
    degree=2, scale_range=(0.6, 1.7)
)  # the lecture's scaled test set


def heron(edges: torch.Tensor) -> torch.Tensor:
    """The true area (clamped at 0 for rounding at degenerate triangles)."""
    a, b, c = edges.unbind(-1)
    s = (a + b + c) / 2
    return (s * (s - a) * (s - b) * (s - c)).clamp_min(0).sqrt().unsqueeze(-1)


def triangles(
    n: int, low: float, high: float, generator: torch.Generator
) -> torch.Tensor:
    """``n`` valid triangles with edges uniform in (low, high), by rejection."""
    kept = torch.empty(0, 3)
    while len(kept) < n:
        edges = low + (high - low) * torch.rand(2 * n, 3, generator=generator)
        longest = edges.amax(-1)
        kept = torch.cat([kept, edges[2 * longest < edges.sum(-1)]])
    return kept[:n]


def test_sets(
    generator: torch.Generator,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    sets = {}
    for where, (low, high) in {"ID": (0.2, 1.0), "OOD": (1.5, 3.0)}.items():
        base = triangles(N_TEST, low, high, generator)
        permuted = symnn.Permutation(3).act_input(
            symnn.Permutation(3).sample_rows(N_TEST, generator), base
        )
        scaled = base * (0.6 + 1.1 * torch.rand(N_TEST, 1, generator=generator))
        for name, edges in {
            "base": base,
            "permuted": permuted,
            "scaled": scaled,
        }.items():
            sets[f"{where} {name}"] = (edges, heron(edges))
    return sets


def mlp() -> torch.nn.Module:
    return symnn.MLP(3, 1, hidden=(64, 64, 64), activation="relu")


def fit(model, x, y, epochs, penalty=None) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        if penalty is not None:
            loss = loss + penalty(model, x, y)
        loss.backward()
        optimizer.step()


def level_0(x, y, generator, epochs=EPOCHS):
    model = mlp()
    fit(model, x, y, epochs)
    return model


def level_1(x, y, generator, epochs=EPOCHS):
    model = mlp()
    action = symnn.RandomAction(
        symnn.Permutation(3) * SCALING, generator=generator
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        # A fresh ordering and scale for every triangle.
        x_epoch, y_epoch = action(x, y)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x_epoch), y_epoch).backward()
        optimizer.step()
    return model


def level_2(x, y, generator, epochs=EPOCHS):
    model = mlp()
    penalty = symnn.SymmetryPenalty(
        symnn.Permutation(3), weight=1.0, generator=generator
    )
    penalty = penalty + symnn.SymmetryPenalty(
        SCALING, weight=1.0, generator=generator
    )
    fit(model, x, y, epochs, penalty)
    return model


def level_3(x, y, generator, epochs=EPOCHS):
    model = symnn.ScaleNormalize(symnn.PermutationSort(mlp()), degree=2)
    fit(model, x, y, epochs)
    return model


def level_4(x, y, generator, epochs=EPOCHS):
    # sqrt(C (a+b+c)(a+b-c)(a-b+c)(-a+b+c)), derived; C in closed form.
    model = symnn.priors.heron_module()
    symnn.priors.fit_constants(model, x.double(), y.double())
    return model


LEVELS = {
    "0 plain": level_0,
    "1 observation": level_1,
    "2 learning": level_2,
    "3 inductive": level_3,
    "4 physics": level_4,
}


def main() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = triangles(N_TRAIN, 0.2, 1.0, generator)
    y = heron(x)
    tests = test_sets(generator)

    # Timing: CPU time of this process (other jobs on a shared machine do
    # not count), after every level has run a few untimed steps, so that the
    # first level timed does not pay for PyTorch's one-off start-up costs.
    for build in LEVELS.values():
        build(x, y, torch.Generator().manual_seed(1), epochs=WARM_UP_EPOCHS)

    header = f"{'level':14s} {'train CPU s':>11s} " + " ".join(
        f"{name:>12s}" for name in tests
    )
    print("relative RMS error of the area on each test set")
    print(header)
    fig, axes = plt.subplots(
        1,
        len(LEVELS),
        figsize=(3 * len(LEVELS), 3.2),
        sharex=True,
        sharey=True,
    )
    for ax, (name, build) in zip(axes, LEVELS.items()):
        start = time.process_time()
        model = build(x, y, generator)
        seconds = time.process_time() - start
        errors = []
        with torch.no_grad():
            for edges, area in tests.values():
                errors.append(
                    (
                        (model(edges) - area).square().mean()
                        / area.square().mean()
                    )
                    .sqrt()
                    .item()
                )
            edges, area = tests["OOD base"]
            ax.plot(area, model(edges), ".", ms=2)
        ax.plot([0, 4], [0, 4], "k--", lw=1)
        ax.set(title=f"level {name}", xlabel="true area (OOD)")
        print(
            f"{name:14s} {seconds:11.2f} "
            + " ".join(f"{e:12.2e}" for e in errors)
        )
    axes[0].set_ylabel("predicted area")
    fig.tight_layout()
    # A window where there is a display; nothing to show under Agg.
    if matplotlib.get_backend().lower() != "agg":
        plt.show()


if __name__ == "__main__":
    main()
