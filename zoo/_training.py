"""The training loop every zoo level shares, and the clock that times it.

Every trained level uses the same optimiser and schedule, so that the levels differ
only in where the knowledge goes (data, loss, model): Adam, full batch, with the
learning rate decayed along a cosine from ``lr`` to ``final_lr``.  The decay lets
the last epochs settle instead of rattling at the initial step size, which makes
the final errors (and the comparisons between levels) far less noisy.

The clock times only the training steps: the symmetry-error checkpoints and the
progress bar are outside it, so a level's time is its training cost alone.  On the CPU
the clock is the process's CPU time, not the wall clock: on a shared machine other
jobs stretch wall time unevenly from level to level, while the CPU seconds a level
consumes stay close to its own cost, so the ratios between levels stay honest.  On a
GPU it is the wall clock, read after the device has finished its queued work.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

__all__ = ["Settings", "History", "Trained", "train", "timed_fit", "synchronize", "clock", "clock_label"]


@dataclass(frozen=True)
class Settings:
    """The training settings every problem shares; each problem's settings extend it.

    A problem adds its own fields (data sizes, network widths, ...) in a frozen
    subclass, all with defaults, the defaults being the full (lecture's) setting::

        @dataclass(frozen=True)
        class SpringSettings(Settings):
            n_train: int = 200

    Attributes
    ----------
    epochs : int
        Full-batch optimiser steps per trained level.
    lr, final_lr : float
        The learning rate at the start and at the end of the cosine decay.
    n_checkpoints : int
        How many times during training the problem's monitor is recorded.
    """

    epochs: int = 2000
    lr: float = 1e-3
    final_lr: float = 1e-5
    n_checkpoints: int = 40


@dataclass
class History:
    """What happened during one level's training.

    Attributes
    ----------
    seconds : float
        Time of the training steps (or of the closed-form fit), monitoring excluded:
        CPU seconds of the process on the CPU, wall seconds on a GPU (see :func:`clock`).
    loss : list of float
        The training loss at every epoch (empty for a closed-form fit).
    monitor_epochs, monitor_values : list
        The problem's symmetry or constraint error, recorded at a few epochs (0 = at
        initialisation).
    extras : dict
        Anything else the level reports (a fitted constant, a fit's method).
    alignment_epochs, alignment : list
        The gradient alignment on the problem's probe batch (a dict per checkpoint:
        ``fraction``, ``loss``, ``grad_norm``, ... of
        :func:`symnn.diagnostics.gradient_alignment`), recorded at a few epochs
        outside the clock.
    """

    seconds: float
    loss: list[float] = field(default_factory=list)
    monitor_epochs: list[int] = field(default_factory=list)
    monitor_values: list[float] = field(default_factory=list)
    extras: dict[str, float | str] = field(default_factory=dict)
    alignment_epochs: list[int] = field(default_factory=list)
    alignment: list[dict[str, float | int | str]] = field(default_factory=list)


@dataclass
class Trained:
    """A level's final model and its training history."""

    model: nn.Module
    history: History


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read after it is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> float:
    """Seconds for timing work on ``device``: process CPU time on the CPU, wall time on a GPU.

    Differences of two readings time the work in between; :func:`synchronize` first on a GPU.
    """
    return time.perf_counter() if device.type == "cuda" else time.process_time()


def clock_label(device: torch.device) -> str:
    """What :func:`clock` measures on ``device``, for reports."""
    return "wall time" if device.type == "cuda" else "CPU time"


def checkpoint_epochs(epochs: int, n_checkpoints: int) -> list[int]:
    """About ``n_checkpoints`` epochs, evenly spread from 0 (initialisation) to the last."""
    n = max(1, min(n_checkpoints, epochs))
    return sorted({round(i * epochs / n) for i in range(n + 1)})


def train(
    model: nn.Module,
    loss_fn: Callable[[], torch.Tensor],
    *,
    epochs: int,
    lr: float,
    final_lr: float,
    monitor: Callable[[], float] | None = None,
    n_checkpoints: int = 40,
    description: str = "",
    progress: bool = True,
    device: torch.device | None = None,
    alignment: Callable[[], dict[str, float | int | str]] | None = None,
) -> History:
    """Train ``model`` by full-batch Adam on ``loss_fn()`` for ``epochs`` epochs.

    Parameters
    ----------
    model : nn.Module
        Its trainable parameters (``requires_grad``) are optimised.
    loss_fn : callable
        Returns the loss of one epoch; it may draw fresh random elements each call
        (online augmentation, stochastic penalties).
    epochs : int
        Number of optimiser steps (one per epoch: the batch is the whole set).
    lr, final_lr : float
        The learning rate at the start and at the end of the cosine decay.
    monitor : callable, optional
        Returns the model's symmetry or constraint error; called at the checkpoints,
        outside the clock.
    n_checkpoints : int
        How many times (besides initialisation) ``monitor`` is called.
    description : str
        The progress bar's label.
    progress : bool
        Whether to show the progress bar (epoch and loss), on stderr.
    device : torch.device, optional
        Where the model runs; the clock waits for a GPU before each reading.
    alignment : callable, optional
        Returns the gradient alignment on a probe batch (a dict); called at the same
        checkpoints as ``monitor``, outside the clock.  It must leave the training
        untouched: no parameter gradients accumulated, no draw from the global RNG.

    Returns
    -------
    History
    """
    device = device or torch.device("cpu")
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=final_lr)
    watched = monitor is not None or alignment is not None
    checkpoints = set(checkpoint_epochs(epochs, n_checkpoints)) if watched else set()
    history = History(seconds=0.0)

    def record(epoch: int) -> None:
        if epoch in checkpoints:
            model.eval()
            if monitor is not None:
                history.monitor_epochs.append(epoch)
                history.monitor_values.append(float(monitor()))
            if alignment is not None:
                history.alignment_epochs.append(epoch)
                history.alignment.append(alignment())
            model.train()

    record(0)
    # A bar refresh every epoch would cost more than a small model's step.
    postfix_every = max(1, epochs // 200)
    with tqdm(total=epochs, desc=description, unit="epoch", disable=not progress, leave=True) as bar:
        for epoch in range(1, epochs + 1):
            synchronize(device)
            start = clock(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            optimizer.step()
            schedule.step()
            value = loss.item()  # waits for the step, so the clock below reads its true cost
            history.seconds += clock(device) - start
            history.loss.append(value)
            record(epoch)
            bar.update(1)
            if epoch % postfix_every == 0 or epoch == epochs:
                bar.set_postfix_str(f"loss {value:.3e}" if math.isfinite(value) else f"loss {value}")
    return history


def timed_fit(fit: Callable[[], nn.Module], device: torch.device | None = None) -> Trained:
    """Run a closed-form fit and time it; the fitted model and a one-entry history."""
    device = device or torch.device("cpu")
    synchronize(device)
    start = clock(device)
    model = fit()
    synchronize(device)
    return Trained(model, History(seconds=clock(device) - start))
