"""Prototype of the zoo's `elasticity` problem (issue 13): keep the equation, learn sigma(eps).

A bar on [0, 1], u(0) = u(1) = 0, -(sigma(u'))' = f, true law sigma = E eps + beta eps^3.
Data: displacements at 19 sensors (x = k/20) for 50 loads a sin(pi x) + b x + c, a little
noise, generated on a 4x finer mesh than the models' solver. Test sets: held-out in-range
loads, the same loads x2.5 (strains beyond training), a new shape d sin(2 pi x) + e x^2.

Levels: 0 MLP (a, b, c, x) -> u; 3 the same made odd in the load (symnn.Odd, x fed as |x|);
4 symnn.solve.newton with sigma = k eps + Odd(MLP)(eps) inside, trained through the solver;
4b sigma = C1 eps + C2 eps^3 from symnn.priors.derive (odd, degree <= 3), fitted through the
solver. Records symnn.diagnostics.gradient_alignment on a probe batch during training.

Run: OMP_NUM_THREADS=1 python scratch/elasticity.py [--full] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import sympy
import torch
from torch import nn

import symnn
from symnn import priors
from symnn.diagnostics import gradient_alignment
from symnn.solve import newton

torch.set_default_dtype(torch.float64)
E_TRUE, BETA_TRUE = 2.0, 4.0
ELEMENTS = 120  # model mesh; the data mesh has 4x as many
SENSORS = torch.arange(1, 20) / 20  # 19 sensors, nodes of both meshes


class Bar:
    """Linear finite elements on a uniform mesh; loads given by a function of (params, x)."""

    def __init__(self, elements: int, shape):
        self.h = 1.0 / elements
        self.x = torch.arange(1, elements) * self.h
        self.shape = shape
        self.sensor_index = torch.round(SENSORS * elements).long() - 1

    def residual(self, law):
        def r(u: torch.Tensor, load: torch.Tensor, *_: torch.Tensor) -> torch.Tensor:
            strain = torch.diff(nn.functional.pad(u, (1, 1)), dim=-1) / self.h
            stress = law(strain)
            return stress[..., :-1] - stress[..., 1:] - self.h * self.shape(load, self.x)

        return r

    def solve(self, law, load, params=(), u0=None):
        u0 = torch.zeros(load.shape[0], self.x.numel()) if u0 is None else u0
        return newton(self.residual(law), u0, (load, *params), bandwidth=1)

    def strains(self, u):
        return torch.diff(nn.functional.pad(u, (1, 1)), dim=-1) / self.h


def family(load, x):  # a sin(pi x) + b x + c
    return load[..., :1] * torch.sin(math.pi * x) + load[..., 1:2] * x + load[..., 2:3]


def new_shape(load, x):  # d sin(2 pi x) + e x^2 (load columns 0 and 1; column 2 unused)
    return load[..., :1] * torch.sin(2 * math.pi * x) + load[..., 1:2] * x**2


def true_law(eps):
    return E_TRUE * eps + BETA_TRUE * eps**3


def make_data(seed: int, noise: float):
    g = torch.Generator().manual_seed(seed)
    scale = torch.tensor([4.0, 2.0, 2.0])

    def draw(n):
        return (2 * torch.rand(n, 3, generator=g) - 1) * scale

    train, held = draw(50), draw(30)
    large = held * 2.5
    shaped = torch.cat([(2 * torch.rand(30, 2, generator=g) - 1) * torch.tensor([6.0, 6.0]), torch.zeros(30, 1)], 1)
    sets = {}
    fine = {"family": Bar(4 * ELEMENTS, family), "new shape": Bar(4 * ELEMENTS, new_shape)}
    for name, loads, kind in [
        ("train", train, "family"),
        ("held-out", held, "family"),
        ("larger amplitude", large, "family"),
        ("new shape", shaped, "new shape"),
    ]:
        bar = fine[kind]
        u = bar.solve(true_law, loads)
        clean = u[:, bar.sensor_index]
        sets[name] = {
            "loads": loads,
            "kind": kind,
            "u": clean,
            "max_strain": float(bar.strains(u).abs().max()),
        }
    u_scale = sets["train"]["u"].std()
    sets["train"]["u_noisy"] = sets["train"]["u"] + noise * u_scale * torch.randn(sets["train"]["u"].shape, generator=g)
    return sets, float(u_scale)


# --------------------------------------------------------------------------- models


LOAD_POINTS = torch.linspace(0, 1, 9)  # levels 0/3 see the load as its values here: any shape is expressible


class AbsX(nn.Module):
    """(f_1..f_9, x) -> (f_1..f_9, |x|): even in x, so Odd over the whole input is odd in the load only."""

    def forward(self, z):
        return torch.cat([z[..., :-1], z[..., -1:].abs()], dim=-1)


class PointNet(nn.Module):
    """Levels 0 and 3: u(load values, x) at the sensors."""

    def __init__(self, odd: bool, width: int, shape=family):
        super().__init__()
        core = symnn.MLP(LOAD_POINTS.numel() + 1, 1, hidden=(width, width, width))
        self.net = symnn.Odd(nn.Sequential(AbsX(), core)) if odd else core
        self.shape = shape

    def forward(self, loads):  # (B, 3) -> (B, sensors)
        b, k = loads.shape[0], LOAD_POINTS.numel()
        f = self.shape(loads, LOAD_POINTS) / 4  # load values, O(1)
        z = torch.cat([f[:, None, :].expand(b, SENSORS.numel(), k), SENSORS.expand(b, -1)[..., None]], dim=-1)
        return self.net(z).squeeze(-1)


class Law(nn.Module):
    """sigma(eps) from a module on (..., 1)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, eps):
        return self.net(eps.unsqueeze(-1)).squeeze(-1)


class SolverModel(nn.Module):
    """Levels 4 and 4b: loads -> the solver's displacements at the sensors with the learned law."""

    def __init__(self, law: nn.Module, shape=family):
        super().__init__()
        self.law = law
        self.bar = Bar(ELEMENTS, shape)
        self.warm: dict[int, torch.Tensor] = {}

    def forward(self, loads):
        key = loads.shape[0]
        u0 = self.warm.get(key)
        if u0 is None or u0.shape[0] != key:
            u0 = None
        u = self.bar.solve(self.law, loads, tuple(self.law.parameters()), u0)
        self.warm[key] = u.detach()
        return u[:, self.bar.sensor_index]


class Monotone(nn.Module):
    """g(eps) = sum_j softplus(v_j) tanh(softplus(w_j) eps + b_j): increasing in eps for every parameter value."""

    def __init__(self, width: int):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(width, generator=g))
        self.b = nn.Parameter(2 * torch.randn(width, generator=g))
        self.v = nn.Parameter(torch.full((width,), -6.0))  # starts near 0

    def forward(self, eps):  # (..., 1) -> (..., 1)
        t = torch.tanh(nn.functional.softplus(self.w) * eps + self.b)
        return (nn.functional.softplus(self.v) * t).sum(-1, keepdim=True)


class PositiveLinear(nn.Module):
    def __init__(self, initial: float):
        super().__init__()
        self.raw = nn.Parameter(torch.tensor(math.log(math.expm1(initial))))

    def forward(self, eps):
        return nn.functional.softplus(self.raw) * eps


def level4_law(width: int):
    """sigma = k eps + Odd(g)(eps), k > 0 and g increasing: monotone for every parameter value, so every
    trial point of the optimizer has a solution (a plain Odd(MLP) made L-BFGS's line search try
    non-monotone laws, where the bar has no equilibrium: NewtonError)."""
    return Law(symnn.PhysicsResidual(PositiveLinear(1.0), symnn.Odd(Monotone(width))))


def level4b_law():
    eps = sympy.Symbol("eps")
    derivation = priors.derive([eps], 3, homogeneous=False, symmetries=[symnn.Parity(-1)])
    module = priors.SympyModule(derivation, initial=1.0)
    with torch.no_grad():  # start from sigma = eps: C1 = 1, C2 = 0
        for name, p in module.named_parameters():
            p.fill_(1.0 if "1" in name else 0.0)
    return Law(module), derivation


# --------------------------------------------------------------------------- training


def relative_error(pred, true):
    return float(torch.sqrt(((pred - true) ** 2).mean() / (true**2).mean()))


def train(model, sets, u_scale, steps, lr, probe, record_every, optimizer="adam"):
    loads, target = sets["train"]["loads"], sets["train"]["u_noisy"]

    def loss_fn(pred, y):
        return ((pred - y) ** 2).mean() / u_scale**2

    params = [p for p in model.parameters() if p.requires_grad]
    alignment = []
    solver = isinstance(model, SolverModel)

    def record(step):
        start = time.process_time()
        report = gradient_alignment(
            model, loss_fn, loads[probe], target[probe], method="exact", vectorize=not solver
        )
        alignment.append(
            {"step": step, "fraction": report.fraction, "loss": report.loss, "grad_norm": report.grad_norm,
             "rank": report.rank, "outputs": report.outputs, "parameters": report.parameters,
             "seconds": time.process_time() - start}
        )

    start = time.process_time()
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for step in range(steps):
            if step % record_every == 0:
                record(step)
            opt.zero_grad()
            loss = loss_fn(model(loads), target)
            loss.backward()
            opt.step()
            sched.step()
    else:
        opt = torch.optim.LBFGS(params, lr=1, max_iter=record_every, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-12, tolerance_change=1e-15, history_size=20)

        def closure():
            opt.zero_grad()
            loss = loss_fn(model(loads), target)
            loss.backward()
            return loss

        for chunk in range(steps // record_every):  # the history carries over between calls
            record(chunk * record_every)
            opt.step(closure)
    train_seconds = time.process_time() - start - sum(a["seconds"] for a in alignment)
    record(steps)
    return train_seconds, alignment


def predict(model, sets, name):
    s = sets[name]
    with torch.no_grad():
        if isinstance(model, SolverModel):
            m = SolverModel(model.law, family if s["kind"] == "family" else new_shape)
            return m(s["loads"])
        model.shape = family if s["kind"] == "family" else new_shape
        try:
            return model(s["loads"])
        finally:
            model.shape = family


def law_errors(law, sets):
    out = {}
    train_max = sets["train"]["max_strain"]
    for name, lo, hi in [("train strains", 0.0, train_max),
                         ("beyond (to larger-amplitude max)", train_max, sets["larger amplitude"]["max_strain"])]:
        eps = torch.linspace(lo, hi, 401)
        with torch.no_grad():
            pred = law(eps)
        true = true_law(eps)
        out[name] = float((pred - true).abs().max() / true.abs().max())
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.002)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    total = time.process_time()
    sets, u_scale = make_data(args.seed, args.noise)
    print({k: round(v["max_strain"], 3) for k, v in sets.items()}, "u scale", round(u_scale, 4))
    eps_max = sets["train"]["max_strain"]
    print(f"cubic share of stress at the largest training strain: "
          f"{BETA_TRUE * eps_max**3 / true_law(torch.tensor(eps_max)).item():.2f}")
    probe = torch.arange(10)
    cfg = (
        {"net_steps": 3000, "net_width": 64, "l4_steps": 500, "l4_width": 32, "every": 300}
        if args.full else
        {"net_steps": 1500, "net_width": 32, "l4_steps": 200, "l4_width": 16, "every": 150}
    )
    results = {}
    for level in ["0", "3", "4", "4b"]:
        torch.manual_seed(args.seed)
        if level in ("0", "3"):
            model = PointNet(odd=level == "3", width=cfg["net_width"])
            seconds, alignment = train(model, sets, u_scale, cfg["net_steps"], 3e-3, probe, cfg["every"])
        elif level == "4":
            model = SolverModel(level4_law(cfg["l4_width"]))
            seconds, alignment = train(model, sets, u_scale, cfg["l4_steps"], None, probe, cfg["l4_steps"] // 5,
                                       optimizer="lbfgs")
        else:
            law, derivation = level4b_law()
            model = SolverModel(law)
            seconds, alignment = train(model, sets, u_scale, 50, None, probe, 10, optimizer="lbfgs")
        errors = {name: relative_error(predict(model, sets, name), sets[name]["u"]) for name in sets if name != "train"}
        errors["train"] = relative_error(predict(model, sets, "train"), sets["train"]["u"])
        entry = {"seconds": seconds, "errors": errors, "alignment": alignment}
        if level in ("4", "4b"):
            entry["law_error"] = law_errors(model.law, sets)
        if level == "4b":
            constants = {n: float(p.detach()) for n, p in model.law.net.named_parameters()}
            entry["constants"] = constants
            entry["derived"] = str(derivation.expr)
        results[level] = entry
        print(f"level {level}: {seconds:.1f} s CPU", {k: f"{v:.2e}" for k, v in errors.items()})
        if "law_error" in entry:
            print("   law error (max |dsigma| / max |sigma|):", {k: f"{v:.2%}" for k, v in entry["law_error"].items()})
        if "constants" in entry:
            print("   ", entry["derived"], entry["constants"])
        print("   alignment:", [(a["step"], round(a["fraction"], 3), f"{a['loss']:.1e}", f"{a['grad_norm']:.1e}",
                                  a["rank"]) for a in alignment])
    results["total_cpu_seconds"] = time.process_time() - total
    print(f"total CPU {results['total_cpu_seconds']:.1f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
