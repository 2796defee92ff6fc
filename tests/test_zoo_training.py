"""The shared training loop: it trains, records its history and times only the steps."""

import math
import time

import pytest
import torch

import symnn
from symnn_zoo._training import checkpoint_epochs, timed_fit, train


def _line_problem():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 64).unsqueeze(-1)
    model = symnn.MLP(1, 1, hidden=(16,))
    return model, x, 3 * x - 1


def test_train_lowers_the_loss_and_records_every_epoch():
    model, x, y = _line_problem()
    history = train(
        model, lambda: ((model(x) - y) ** 2).mean(), epochs=200, lr=1e-2, final_lr=1e-4, progress=False
    )
    assert len(history.loss) == 200
    assert history.loss[-1] < 1e-2 * history.loss[0]
    assert history.seconds > 0


def test_the_learning_rate_decays_along_a_cosine_to_final_lr(monkeypatch):
    model, x, y = _line_problem()
    rates = []
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    train(model, lambda: ((model(x) - y) ** 2).mean(), epochs=10, lr=1e-2, final_lr=1e-4, progress=False)
    assert rates[0] == pytest.approx(1e-2)
    assert rates == sorted(rates, reverse=True)
    assert rates[5] == pytest.approx(1e-4 + (1e-2 - 1e-4) * 0.5 * (1 + math.cos(math.pi * 5 / 10)))


def test_monitor_runs_at_the_checkpoints_in_eval_mode_and_outside_the_clock():
    model, x, y = _line_problem()
    modes = []

    def monitor():
        modes.append(model.training)
        time.sleep(0.05)
        return 1.0

    history = train(
        model,
        lambda: ((model(x) - y) ** 2).mean(),
        epochs=20,
        lr=1e-3,
        final_lr=1e-4,
        monitor=monitor,
        n_checkpoints=4,
        progress=False,
    )
    assert history.monitor_epochs == [0, 5, 10, 15, 20]
    assert history.monitor_values == [1.0] * 5
    assert modes == [False] * 5 and model.training
    assert history.seconds < 5 * 0.05  # the sleeps are not training time


def test_only_trainable_parameters_move():
    model, x, y = _line_problem()
    frozen = model.layers[0].weight
    frozen.requires_grad_(False)
    before = frozen.clone()
    train(model, lambda: ((model(x) - y) ** 2).mean(), epochs=5, lr=1e-2, final_lr=1e-3, progress=False)
    assert torch.equal(frozen, before)


@pytest.mark.parametrize(
    ("epochs", "n", "expected"), [(10, 4, [0, 2, 5, 8, 10]), (3, 40, [0, 1, 2, 3]), (1, 1, [0, 1])]
)
def test_checkpoint_epochs_spread_from_start_to_end(epochs, n, expected):
    assert checkpoint_epochs(epochs, n) == expected


def test_timed_fit_returns_the_model_and_its_time():
    module = torch.nn.Linear(1, 1)
    trained = timed_fit(lambda: module)
    assert trained.model is module and trained.history.seconds >= 0 and trained.history.loss == []


def test_alignment_is_recorded_at_the_checkpoints_outside_the_clock_and_changes_no_number():
    def run(with_alignment):
        model, x, y = _line_problem()

        def alignment():
            time.sleep(0.05)
            report = symnn.diagnostics.gradient_alignment(model, torch.nn.functional.mse_loss, x[:8], y[:8])
            return {"fraction": report.fraction, "loss": report.loss}

        history = train(
            model,
            lambda: ((model(x) - y) ** 2).mean(),
            epochs=20,
            lr=1e-2,
            final_lr=1e-4,
            n_checkpoints=4,
            progress=False,
            alignment=alignment if with_alignment else None,
        )
        return model, history

    plain_model, plain = run(False)
    model, history = run(True)
    assert history.alignment_epochs == [0, 5, 10, 15, 20] and len(history.alignment) == 5
    assert all(0 <= a["fraction"] <= 1 for a in history.alignment)
    assert history.monitor_epochs == [] and plain.alignment == []
    assert history.loss == plain.loss  # bit for bit: recording moves nothing
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), plain_model.parameters()))
    assert history.seconds < 5 * 0.05  # the sleeps are not training time
