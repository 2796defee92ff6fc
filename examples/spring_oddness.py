"""Spring oddness: one fact as data, as a loss, as structure, as physics.

Run:  ``python examples/spring_oddness.py``

A nonlinear spring, F = k1 x + k2 x³, measured with noise for x > 0 only.
Physics says the force is odd, F(-x) = -F(x).  The lecture's four biases put
that one fact into the model in four places:

* 0: nothing, a plain MLP;
* 1, observation: the data, ``symnn.augment`` adds (-x, -F) for every (x, F);
* 2, learning: the loss, ``symnn.SymmetryPenalty`` adds mean ‖f(-x) + f(x)‖²;
* 3, inductive: the model, ``symnn.Odd(MLP)``;
* 4a, physics: a known law F ≈ k* x plus an odd learned correction,
  ``symnn.PhysicsResidual``;
* 4b, physics: the form C1 x + C2 x³ derived by ``symnn.priors.spring()``, its
  two constants fitted in closed form (no training).

Each network is trained the same way, then asked about x < 0, which it never
saw, and about ``|x|`` beyond the training range.  The last column is the
measured oddness error, ``symnn.testing.equivariance_error(model,
symnn.Parity(-1), x, floor=1.0)``: exactly 0 for levels 3 and 4.
"""

import time

import matplotlib
import matplotlib.pyplot as plt
import torch

import symnn

K1, K2 = 1.0, 0.5
# The known linear law F ≈ k* x (the physics baseline): the small-displacement
# slope, k* = k1, the same value as the zoo's spring problem (symnn-zoo run
# spring, setting k_star).
K_STAR = 1.0
EPOCHS = 300


def spring_force(x: torch.Tensor) -> torch.Tensor:
    return K1 * x + K2 * x**3


class LinearLaw(torch.nn.Module):
    """The baseline F = k* x, k* learnable, started at the known value."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * x


def report(name, model, seconds, x_neg, x_far, x_plot, ax) -> None:
    odd = symnn.Parity(sign=-1)
    with torch.no_grad():
        rms_neg = (model(x_neg) - spring_force(x_neg)).square().mean().sqrt()
        rms_far = (model(x_far) - spring_force(x_far)).square().mean().sqrt()
        # Relative where |F| >= 1, absolute below: near x = 0 a relative
        # error means little.
        oddness = symnn.testing.equivariance_error(
            model, odd, x_plot, floor=1.0
        )
        ax.plot(x_plot, model(x_plot), lw=1.5, label=name)
    print(
        f"{name:24s} {seconds:8.3f} {rms_neg:9.3f} {rms_far:10.3f} "
        f"{oddness:14.2e}"
    )


def train(
    model: torch.nn.Module, x: torch.Tensor, f: torch.Tensor, extra_loss=None
) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = time.process_time()
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), f)
        if extra_loss is not None:
            loss = loss + extra_loss(model, x)
        loss.backward()
        optimizer.step()
    return time.process_time() - start


def main() -> None:
    torch.manual_seed(0)
    x_train = 2.0 * torch.rand(200, 1)  # x in (0, 2): the positive side only
    f_train = spring_force(x_train) + 0.02 * torch.randn_like(x_train)
    odd = symnn.Parity(sign=-1)

    def mlp() -> symnn.MLP:
        return symnn.MLP(1, 1, hidden=(32, 32))

    x_aug, f_aug = symnn.augment(
        x_train, f_train, odd
    )  # (x, F) and (-x, -F): twice the data
    penalty = symnn.SymmetryPenalty(
        odd, weight=1.0, elements="all"
    )  # mean |f(-x) + f(x)|²
    models = {
        "0 plain MLP": (mlp(), x_train, f_train, None),
        "1 augment": (mlp(), x_aug, f_aug, None),
        "2 penalty": (mlp(), x_train, f_train, penalty),
        "3 Odd(MLP)": (symnn.Odd(mlp()), x_train, f_train, None),
        "4a k* x + Odd(MLP)": (
            symnn.PhysicsResidual(LinearLaw(K_STAR), symnn.Odd(mlp())),
            x_train,
            f_train,
            None,
        ),
    }

    x_neg = -2.0 * torch.rand(500, 1)
    x_far = torch.cat([2.0 + torch.rand(250, 1), -2.0 - torch.rand(250, 1)])
    x_plot = torch.linspace(-3, 3, 301).unsqueeze(-1)

    print(
        f"{'model':24s} {'CPU s':>8s} {'RMS x<0':>9s} {'RMS |x|>2':>10s} "
        f"{'oddness error':>14s}"
    )
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.axvspan(0, 2, color="0.92", label="training range")
    ax.plot(x_plot, spring_force(x_plot), "k--", lw=1.5, label="true F")
    ax.plot(x_train, f_train, ".", color="0.5", ms=3)
    for name, (model, x, f, penalty) in models.items():
        seconds = train(model, x, f, penalty)
        report(name, model, seconds, x_neg, x_far, x_plot, ax)

    # 4b: the derived odd cubic, C1 x + C2 x³, its two constants fitted in
    # closed form.
    prior = symnn.priors.SympyModule(symnn.priors.spring())
    start = time.process_time()
    symnn.priors.fit_constants(prior, x_train.double(), f_train.double())
    report(
        "4b derived C1 x + C2 x³",
        prior,
        time.process_time() - start,
        x_neg,
        x_far,
        x_plot,
        ax,
    )
    ax.set(
        xlabel="displacement x",
        ylabel="force F",
        ylim=(-18, 18),
        title="trained on x in (0, 2) only",
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    # A window where there is a display; nothing to show under Agg.
    if matplotlib.get_backend().lower() != "agg":
        plt.show()


if __name__ == "__main__":
    main()
