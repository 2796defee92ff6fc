"""Cost of the observation and learning biases against one plain training step.

Every case is a full training step (forward, backward, Adam) of the lecture's 3x128
ReLU MLP at batch 4000 on triangles (edges in (0.2, 1.0), target the area), timed
interleaved with the plain step in this one run; the table prints the ratios
(times alone are noise on a shared machine):

- stochastic penalty, ``symmetry_penalty(..., n_elements=k)`` for
  ``Permutation(3) * Scaling(2)``, k = 1, 2, 3: against the labels (the lecture's
  form), and without labels reusing the data loss's ``model(x)`` (``output=``);
  bound 1.1 x (1 + k) plain steps.  For information: without labels and without
  ``output=``, which costs one more forward pass;
- full-orbit permutation penalty against the labels (the 5 non-identity
  permutations; the identity's term is the data loss): symnn's default (one call
  per copy), one call on all copies (``chunk_size=5N``), and the lecture's loop of
  separate calls ``sum(mse(model(x[:, p]), y) for p in perms)``; bound: the default
  costs no more than the loop (it makes the same five model calls, so up to 5 %
  timing noise); for information, the bookkeeping alone, timed with a
  ``Linear(3, 1)`` model in place of the MLP; and, for information, the default with
  every copy's call checkpointed (``checkpoint=True``: one more forward pass per copy,
  the price of bounded memory, see ``bench_memory.py``);
- online augmentation: ``RandomAction`` on the batch before a plain step, and a
  ``DataLoader`` over ``AugmentedDataset`` against one over the plain tensors;
  bound 1.1x.

Run: ``python benchmarks/bench_biases.py [--repeats N] [--threads T]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from _timing import benchmark_parser, interleaved_medians, parse_benchmark_args

import symnn

N = 4000


def triangles(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = 0.2 + 0.8 * torch.rand(n, 3, generator=generator)
    a, b, c = x.unbind(-1)
    s = (a + b + c) / 2
    area = torch.sqrt((s * (s - a) * (s - b) * (s - c)).clamp_min(0))
    return x, area.unsqueeze(-1)


def training_step(
    model: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn: Callable[[], torch.Tensor]
) -> Callable[[], None]:
    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()

    return step


def main() -> None:
    args = parse_benchmark_args(benchmark_parser(__doc__, repeats=25))

    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x, y = triangles(N, gen)
    model = symnn.MLP(3, 1, hidden=(128, 128, 128), activation="relu")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sym = symnn.Permutation(3) * symnn.Scaling(degree=2)
    perm = symnn.Permutation(3)
    perms = perm.elements()[1:]

    def data_loss() -> torch.Tensor:
        return F.mse_loss(model(x), y)

    steps: dict[str, Callable[[], None]] = {"plain step": training_step(model, opt, data_loss)}
    bounds: dict[str, float] = {}

    for k in (1, 2, 3):

        def with_labels(k: int = k) -> torch.Tensor:
            return data_loss() + symnn.symmetry_penalty(model, x, sym, y, n_elements=k, generator=gen)

        def with_output(k: int = k) -> torch.Tensor:
            out = model(x)
            return F.mse_loss(out, y) + symnn.symmetry_penalty(
                model, x, sym, output=out, n_elements=k, generator=gen
            )

        steps[f"stochastic penalty k={k}, labels"] = training_step(model, opt, with_labels)
        steps[f"stochastic penalty k={k}, output="] = training_step(model, opt, with_output)
        bounds[f"stochastic penalty k={k}, labels"] = 1.1 * (1 + k)
        bounds[f"stochastic penalty k={k}, output="] = 1.1 * (1 + k)

    def unlabelled_k1() -> torch.Tensor:
        return data_loss() + symnn.symmetry_penalty(model, x, sym, n_elements=1, generator=gen)

    steps["stochastic penalty k=1, recomputes f(x)"] = training_step(model, opt, unlabelled_k1)

    def orbit_default() -> torch.Tensor:
        return data_loss() + symnn.symmetry_penalty(model, x, perm, y, elements="all")

    def orbit_one_pass() -> torch.Tensor:
        return data_loss() + symnn.symmetry_penalty(
            model, x, perm, y, elements="all", chunk_size=len(perms) * N
        )

    def orbit_lecture_loop() -> torch.Tensor:
        penalty = sum(F.mse_loss(model(x[:, p]), y) for p in perms) / len(perms)
        return data_loss() + penalty

    def orbit_checkpointed() -> torch.Tensor:
        return data_loss() + symnn.symmetry_penalty(model, x, perm, y, elements="all", checkpoint=True)

    steps["full orbit, chunks (default)"] = training_step(model, opt, orbit_default)
    steps["full orbit, checkpoint=True"] = training_step(model, opt, orbit_checkpointed)
    steps["full orbit, one pass"] = training_step(model, opt, orbit_one_pass)
    steps["full orbit, lecture loop"] = training_step(model, opt, orbit_lecture_loop)

    # The default and the loop make the same five forward calls; what symnn adds is
    # bookkeeping (acting on x, stacking, one loss).  A linear model makes it visible.
    tiny = torch.nn.Linear(3, 1)
    tiny_opt = torch.optim.Adam(tiny.parameters(), lr=1e-3)

    def tiny_default() -> torch.Tensor:
        return symnn.symmetry_penalty(tiny, x, perm, y, elements="all")

    def tiny_loop() -> torch.Tensor:
        return sum(F.mse_loss(tiny(x[:, p]), y) for p in perms) / len(perms)

    steps["orbit bookkeeping (Linear), default"] = training_step(tiny, tiny_opt, tiny_default)
    steps["orbit bookkeeping (Linear), loop"] = training_step(tiny, tiny_opt, tiny_loop)

    action = symnn.RandomAction(sym, generator=gen)

    def online_loss() -> torch.Tensor:
        gx, gy = action(x, y)
        return F.mse_loss(model(gx), gy)

    steps["online RandomAction"] = training_step(model, opt, online_loss)
    bounds["online RandomAction"] = 1.1

    def loader_step(loader: torch.utils.data.DataLoader) -> Callable[[], None]:
        def step() -> None:
            for xb, yb in loader:  # one batch of N
                opt.zero_grad(set_to_none=True)
                F.mse_loss(model(xb), yb).backward()
                opt.step()

        return step

    plain_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=N)
    augmented_loader = torch.utils.data.DataLoader(
        symnn.AugmentedDataset((x, y), sym, generator=gen), batch_size=N
    )
    steps["DataLoader, plain tensors"] = loader_step(plain_loader)
    steps["DataLoader, AugmentedDataset"] = loader_step(augmented_loader)

    # A cheap step is timed over about 50 ms of calls in a row (see interleaved_medians).
    times = interleaved_medians(steps, args.repeats, min_sample_seconds=0.05)
    plain = times["plain step"]
    loop = times["full orbit, lecture loop"]
    # Same model calls as the loop: equal up to timing noise, which is a few per cent here.
    bounds["full orbit, chunks (default)"] = 1.05 * loop / plain
    bounds["DataLoader, AugmentedDataset"] = 1.1 * times["DataLoader, plain tensors"] / plain

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {N}, 3x128 ReLU MLP, Adam")
    print(f"median of {args.repeats} interleaved steps; ratio = time / plain step ({plain * 1e3:.1f} ms)\n")
    name_width = max(len(name) for name in steps)
    print(f"{'case':<{name_width}}  {'ms/step':>8}  {'ratio':>6}  {'bound':>6}  ok")
    print("-" * (name_width + 32))
    failures = 0
    for name, seconds in times.items():
        ratio = seconds / plain
        bound = bounds.get(name)
        if bound is None:
            verdict, shown = "", ""
        else:
            ok = ratio <= bound
            failures += not ok
            verdict, shown = ("yes" if ok else "NO"), f"{bound:6.2f}"
        print(f"{name:<{name_width}}  {seconds * 1e3:8.1f}  {ratio:6.2f}  {shown:>6}  {verdict}")
    print(
        "\nbounds: stochastic k -> 1.1 (1 + k); full orbit default -> the lecture loop's ratio "
        "(+5% timing noise: the same five model calls); "
        "online -> 1.1x its plain counterpart"
    )
    print(
        f"full orbit: chunks / loop = {times['full orbit, chunks (default)'] / loop:.3f}, "
        f"one pass / loop = {times['full orbit, one pass'] / loop:.3f}, "
        f"checkpoint=True / default = {times['full orbit, checkpoint=True'] / times['full orbit, chunks (default)']:.3f}"
    )
    print("all bounds met" if failures == 0 else f"{failures} bound(s) missed")


if __name__ == "__main__":
    main()
