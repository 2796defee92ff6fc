"""DistributedDataParallel on 2 local gloo ranks gives the single-process gradients.

Each rank takes its half of the batch; DDP averages the ranks' gradients, which for a
mean loss over equal halves is the gradient of the mean loss over the whole batch.  Runs
on 127.0.0.1 only, on a free port.  Per-rank generators: seeded by ``(seed, rank)`` as
the distributed guide recommends, the ranks draw different group elements.
"""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

import symnn

pytestmark = pytest.mark.slow

WORLD_SIZE = 2
SEED = 0


def exact_model() -> torch.nn.Module:
    """The structurally symmetric model that :func:`symnn.enforce` builds."""
    torch.manual_seed(SEED)
    return symnn.enforce(symnn.MLP(3, 1, hidden=(16, 16)), symnn.Permutation(3) * symnn.Scaling(2)).double()


def penalty_model() -> torch.nn.Module:
    torch.manual_seed(SEED)
    return symnn.MLP(3, 1, hidden=(16, 16)).double()


def exact_loss(model, x, y):
    return (model(x) - y).square().mean()


def penalty_loss(model, x, y):
    data = (model(x) - y).square().mean()
    return data + symnn.symmetry_penalty(model, x, symnn.Permutation(3), elements="all")


CASES = {"exact": (exact_model, exact_loss), "penalty": (penalty_model, penalty_loss)}


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(64, 3, generator=g, dtype=torch.float64) + 0.1
    return x, (x.prod(-1, keepdim=True) ** (2 / 3))


def rank_generator(seed: int, rank: int, world_size: int) -> torch.Generator:
    """The distributed guide's recipe: one stream per (seed, rank), distinct across ranks."""
    return torch.Generator().manual_seed(seed * world_size + rank)


def _gradients(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


def _worker(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE)
    try:
        torch.set_num_threads(1)
        x, y = _data()
        shard = slice(rank * len(x) // WORLD_SIZE, (rank + 1) * len(x) // WORLD_SIZE)
        out = {}
        for name, (make, loss_fn) in CASES.items():
            ddp = DistributedDataParallel(make())
            loss_fn(ddp, x[shard], y[shard]).backward()
            out[name] = _gradients(ddp.module)
        # Per-rank sampling: each rank's elements (here of Permutation(3)) from its own stream.
        sampled = symnn.Permutation(3).sample(8, generator=rank_generator(SEED, rank, WORLD_SIZE))
        out["sampled"] = torch.stack([torch.as_tensor(g) for g in sampled])
        results[rank] = out
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_on_two_gloo_ranks_gives_the_single_process_gradients():
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=WORLD_SIZE, join=True)
    x, y = _data()
    for name, (make, loss_fn) in CASES.items():
        model = make()
        loss_fn(model, x, y).backward()
        expected = _gradients(model)
        for rank in range(WORLD_SIZE):
            got = results[rank][name]
            assert len(got) == len(expected)
            for g, e in zip(got, expected):
                assert e.abs().max() > 0  # a gradient that is all zero would prove nothing
                torch.testing.assert_close(g, e, rtol=0, atol=1e-12)
    # Ranks seeded by (seed, rank) draw different elements.
    assert not torch.equal(results[0]["sampled"], results[1]["sampled"])
