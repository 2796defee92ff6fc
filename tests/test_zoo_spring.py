"""The spring problem: its data, and a quick run that shows which levels predict x < 0."""

import pytest
import torch
from _zoo_quick import assert_quick_findings_hold, run_quick

import symnn
from symnn_zoo import spring


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("spring")
    results = run_quick("spring", out)
    assert (out / "force_curves.png").exists()
    return out, results


def test_training_data_are_positive_only_and_test_sets_cover_both_sides():
    data = spring.make_data(spring.FULL, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert bool((data.x > 0).all()) and data.x.shape == (spring.FULL.n_train, 1)
    noise = data.y64 - spring.true_force(data.x64, spring.FULL)
    assert 0.5 * spring.FULL.noise < float(noise.std()) < 1.5 * spring.FULL.noise
    signs = {t.kind: (bool((t.x > 0).all()), bool((t.x < 0).all())) for t in data.tests}
    assert signs == {
        "train range": (True, False),
        "mirror": (False, True),
        "beyond": (True, False),
        "beyond mirror": (False, True),
    }
    assert [t.kind for t in data.tests if t.in_distribution] == ["train range"]


def test_the_physics_baseline_is_the_known_linear_law_and_stays_fixed():
    model = symnn.PhysicsResidual(
        spring.linear_law(1.5), symnn.Odd(spring.backbone(spring.FULL)), train_baseline=False
    )
    x = torch.linspace(-2, 2, 9).unsqueeze(-1)
    torch.testing.assert_close(model.baseline(x), 1.5 * x)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert all(p.dtype == torch.float32 for p in trainable)
    assert not any(p.requires_grad for p in model.baseline.parameters())


@pytest.mark.slow
def test_quick_findings_hold(quick):
    assert_quick_findings_hold(quick[1])


@pytest.mark.slow
def test_quick_force_curves_come_before_the_scatter_grids(quick):
    out, results = quick
    table = (out / "results.md").read_text(encoding="utf-8")
    order = [
        table.index(f"]({name})")
        for name in ("0_summary.png", "force_curves.png", "pred_vs_true_level_0.png")
    ]
    assert order == sorted(order)
    assert results["files"].index("force_curves.png") < results["files"].index("pred_vs_true_level_0.png")
