"""Rotation head: a network whose output is always a rotation matrix.

Run:  ``python examples/rotation_head.py``

Four template points are rotated by an unknown rotation R; from the observed
points a network must return R.  A head with nine raw outputs can return any 3×3
array, so after training its answers are close to rotations but never exactly
one.  With ``symnn.SO3Exp`` the network outputs a rotation vector v and the head
returns R = exp(v̂), which satisfies RᵀR = I and det R = 1 to rounding for every
input, trained or not.  Both are trained on rotation angles up to 2 rad and
tested on angles up to 2 rad and between 2 rad and π.

What the head guarantees is that every answer is a rotation, not that it is the
right one: the network behind ``SO3Exp`` must still learn the rotation vector,
and beyond the training range it has to produce vectors longer than any it was
trained on.  The table shows both sides; the figure shows the rotation error of
the raw head growing outside the training range while ``SO3Exp`` stays at
float32 rounding.
"""

import math

import matplotlib
import matplotlib.pyplot as plt
import torch

import symnn
from symnn.functional import so3_exp, so3_log

STEPS = 400
TRAIN_ANGLE = 2.0
FLOOR = 1e-9  # exact zeros are drawn here on the log axes


def random_rotations(
    n: int, low: float, high: float, generator: torch.Generator
) -> torch.Tensor:
    axis = torch.randn(n, 3, generator=generator)
    axis = axis / axis.norm(dim=-1, keepdim=True)
    angle = low + (high - low) * torch.rand(n, 1, generator=generator)
    return so3_exp(angle * axis)


def nearest_rotation(m: torch.Tensor) -> torch.Tensor:
    """The rotation closest to each matrix in the Frobenius norm (by SVD)."""
    u, _, vh = torch.linalg.svd(m)
    signs = torch.ones(*m.shape[:-2], 3, dtype=m.dtype)
    signs[..., 2] = torch.linalg.det(u @ vh)
    return u @ torch.diag_embed(signs) @ vh


class Raw9(torch.nn.Module):
    """Nine outputs reshaped to a 3×3 matrix: nothing makes it a rotation."""

    def __init__(self) -> None:
        super().__init__()
        self.net = symnn.MLP(12, 9, hidden=(64, 64))

    def forward(self, observed: torch.Tensor) -> torch.Tensor:
        return self.net(observed).unflatten(-1, (3, 3))


def main() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    template = torch.randn(4, 3, generator=generator)

    def observe(rotations: torch.Tensor) -> torch.Tensor:
        return (
            (rotations @ template.T).transpose(-1, -2).flatten(-2)
        )  # (n, 4 points × 3)

    heads = {
        "raw 9 outputs": Raw9(),
        "SO3Exp": torch.nn.Sequential(
            symnn.MLP(12, 3, hidden=(64, 64)), symnn.SO3Exp()
        ),
    }
    for model in heads.values():
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(STEPS):
            rotations = random_rotations(256, 0.0, TRAIN_ANGLE, generator)
            optimizer.zero_grad()
            loss = (model(observe(rotations)) - rotations).square().mean()
            loss.backward()
            optimizer.step()

    tests = {
        f"angles < {TRAIN_ANGLE:g}": random_rotations(
            2000, 0.0, TRAIN_ANGLE, generator
        ),
        f"{TRAIN_ANGLE:g} < angles < π": random_rotations(
            2000, TRAIN_ANGLE, math.pi, generator
        ),
    }
    eye = torch.eye(3)
    print(
        f"{'head':14s} {'test set':18s} {'max |RᵀR - I|':>14s} "
        f"{'max |det R - 1|':>16s} {'mean angle error':>17s}"
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for name, model in heads.items():
        with torch.no_grad():
            for test_name, truth in tests.items():
                predicted = model(observe(truth))
                orthogonality = (
                    (predicted.transpose(-1, -2) @ predicted - eye).abs().amax()
                )
                determinant = (torch.linalg.det(predicted) - 1).abs().amax()
                # The angle error needs a rotation: the raw output is
                # projected onto SO(3) first.
                angle_error = so3_log(
                    nearest_rotation(predicted).transpose(-1, -2) @ truth
                ).norm(dim=-1)
                print(
                    f"{name:14s} {test_name:18s} {orthogonality:14.2e} "
                    f"{determinant:16.2e} "
                    f"{angle_error.mean():14.3f} rad"
                )
            truth = tests[f"{TRAIN_ANGLE:g} < angles < π"]
            predicted = model(observe(truth))
            errors = (
                (predicted.transpose(-1, -2) @ predicted - eye)
                .flatten(-2)
                .norm(dim=-1)
            )
            axes[0].hist(
                torch.log10(errors.clamp_min(FLOOR)),
                bins=torch.linspace(-9, 0, 46),
                alpha=0.6,
                label=name,
            )
            true_angle = so3_log(truth).norm(dim=-1)
            det_error = (torch.linalg.det(predicted) - 1).abs().clamp_min(FLOOR)
            axes[1].plot(true_angle, det_error, ".", ms=2, label=name)
    axes[0].set(
        xlabel="log10 ‖RᵀR − I‖, angles beyond training", ylabel="count"
    )
    axes[1].set(
        xlabel="true rotation angle (rad)",
        ylabel="|det R − 1| (0 drawn at 1e-9)",
        yscale="log",
    )
    axes[1].axvline(TRAIN_ANGLE, color="0.5", ls=":")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    # A window where there is a display; nothing to show under Agg.
    if matplotlib.get_backend().lower() != "agg":
        plt.show()


if __name__ == "__main__":
    main()
