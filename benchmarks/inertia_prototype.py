"""Prototype of the zoo problem `inertia` (issue 11): Finzi et al. 2021's modified-inertia task.

Not the zoo problem itself (that waits for the zoo refactor); a measured prototype using only
symnn's public API and e3nn, run as

    OMP_NUM_THREADS=1 nice python benchmarks/inertia_prototype.py --levels 0 3a 3r --seeds 0 --epochs 1000

Setting, checked against mfinzi/residual-pathway-priors (datasets.py: ModifiedInertia;
train_regression.py / trainer/model_trainer.py: RegressorPlus):

- 5 masses softplus(N(0,1)), positions N(0,1); x = 5 masses then 5 positions (20 numbers,
  float32); y = inertia + 0.1 (I e_z) e_z^T, flattened row-major to 9.
- 3000 samples: 1000 train / 1000 validation / 1000 test; Adam lr 3e-3, batch 500; MLPs of
  3 hidden layers of 384 (swish); no standardisation (their stats are 0, 1, 0, 1).
- MSE: mean over samples and all 9 entries.
- O(3) equivariance error as theirs (equivariance_err / scale_adjusted_rel_err): on the first
  test batch of 500, one Haar-random O(3) element per row,
  rms(f(g x) - g f(x)) / (rms(f(g x)) + rms(g f(x)) + mean|g - I|).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
from torch import nn

import symnn

SYM = symnn.Rotation("5x0e + 5x1o", "ij", improper=True)
PUBLISHED = {"MLP": (0.034, 4.78, 0.17), "EMLP": (0.235, 2.39, 2e-7), "RPP": (0.070, 0.15, 0.08)}


def inertia(x: torch.Tensor) -> torch.Tensor:
    """The inertia tensor sum_k m_k (|r_k|^2 I - r_k r_k^T), flattened to (..., 9)."""
    m = x[..., :5]
    r = x[..., 5:].unflatten(-1, (5, 3))
    eye = torch.eye(3, dtype=x.dtype, device=x.device)
    r2 = r.square().sum(-1)[..., None, None]
    return (m[..., None, None] * (r2 * eye - r[..., :, None] * r[..., None, :])).sum(-3).flatten(-2)


def make_data(seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3000, 20, generator=gen)
    x[:, :5] = nn.functional.softplus(x[:, :5])
    big = inertia(x).unflatten(-1, (3, 3))
    ez = torch.tensor([0.0, 0.0, 1.0])
    y = (big + 0.1 * (big @ ez)[..., :, None] * ez).flatten(-2)
    return {"train": (x[:1000], y[:1000]), "val": (x[1000:2000], y[1000:2000]), "test": (x[2000:], y[2000:])}


class InertiaFormula(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return inertia(x)


class E3nnInertia(nn.Module):
    """An O(3)-equivariant e3nn network: two tensor products (cubic in the input) and a gated layer."""

    def __init__(self) -> None:
        super().__init__()
        from e3nn import o3
        from e3nn.io import CartesianTensor
        from e3nn.nn import Gate

        irreps_in = o3.Irreps("5x0e + 5x1o")
        self.gate = Gate("32x0e", [nn.functional.silu], "32x0e", [torch.sigmoid], "16x1o + 16x2e")
        self.tp1 = o3.FullyConnectedTensorProduct(irreps_in, irreps_in, self.gate.irreps_in)
        self.tp2 = o3.FullyConnectedTensorProduct(self.gate.irreps_out, irreps_in, "32x0e + 32x2e")
        self.out = o3.Linear("32x0e + 32x2e", "0e + 2e")
        self.cartesian = CartesianTensor("ij=ji")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gate(self.tp1(x, x))
        irreps = self.out(self.tp2(h, x))
        return self.cartesian.to_cartesian(irreps).flatten(-2)


def mlp() -> nn.Module:
    return symnn.MLP(20, 9, hidden=(384, 384, 384), activation="silu")


def equivariance_err(model: nn.Module, x: torch.Tensor, seed: int) -> float:
    """Finzi et al.'s scale-adjusted relative error, one O(3) element per row."""
    g = SYM.sample_rows(x.shape[0], torch.Generator().manual_seed(10_000 + seed))
    with torch.no_grad():
        y1 = model(SYM.act_input(g, x.double()).to(x.dtype)).double()
        y2 = SYM.act_output(g, model(x).double())
    rms = lambda t: t.square().mean().sqrt()  # noqa: E731
    eye = torch.eye(3, dtype=torch.float64)
    return float(rms(y1 - y2) / (rms(y1) + rms(y2) + (g - eye).abs().mean()))


def mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x) - y).square().mean())


def build(level: str, free_decay: float) -> tuple[nn.Module, str]:
    if level in ("0", "1", "2"):
        return mlp(), "MLP"
    if level == "3a":
        return symnn.FrameAverage(mlp(), SYM), "FrameAverage(MLP)"
    if level == "3b":
        return E3nnInertia(), "e3nn"
    if level == "3r":
        return symnn.ResidualPathway(
            E3nnInertia(), mlp(), free_decay=free_decay
        ), "ResidualPathway(e3nn, MLP)"
    if level == "3rf":
        exact = symnn.FrameAverage(mlp(), SYM)
        return symnn.ResidualPathway(
            exact, mlp(), free_decay=free_decay
        ), "ResidualPathway(FrameAverage(MLP), MLP)"
    if level == "4":
        return symnn.PhysicsResidual(InertiaFormula(), mlp()), "PhysicsResidual(inertia, MLP)"
    raise ValueError(level)


def run(level: str, seed: int, epochs: int, penalty_weight: float, free_decay: float) -> dict:
    data = make_data(seed)
    torch.manual_seed(seed)
    model, name = build(level, free_decay)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = data["train"]
    gen = torch.Generator().manual_seed(seed + 1)
    action = symnn.RandomAction(SYM, generator=gen)
    start = time.process_time()
    for _ in range(epochs):
        order = torch.randperm(1000, generator=gen)
        for b in range(2):
            idx = order[b * 500 : (b + 1) * 500]
            xb, yb = x[idx], y[idx]
            if level == "1":
                xb, yb = action(xb, yb)
            out = model(xb)
            loss = (out - yb).square().mean()
            if level == "2":
                loss = loss + penalty_weight * symnn.symmetry_penalty(
                    model, xb, SYM, generator=gen, output=out
                )
            if isinstance(model, symnn.ResidualPathway):
                loss = loss + model.prior()
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.process_time() - start
    model.eval()
    return {
        "level": level,
        "model": name,
        "seed": seed,
        "epochs": epochs,
        "train_mse": mse(model, *data["train"]),
        "val_mse": mse(model, *data["val"]),
        "test_mse": mse(model, *data["test"]),
        "equivariance_error": equivariance_err(model, data["test"][0][:500], seed),
        "cpu_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", nargs="+", default=["0", "1", "2", "3a", "3b", "3r", "4"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--penalty-weight", type=float, default=1.0)
    parser.add_argument("--free-decay", type=float, default=1e-2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for level in args.levels:
        for seed in args.seeds:
            row = run(level, seed, args.epochs, args.penalty_weight, args.free_decay)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "w") as f:
                    json.dump(rows, f, indent=1)
    print("published (train / test / equivariance):", PUBLISHED)
    assert all(math.isfinite(r["test_mse"]) for r in rows)


if __name__ == "__main__":
    main()
