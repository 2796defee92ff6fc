"""The spring problem: its data, and a quick run that shows which levels predict x < 0."""

import pytest
import torch
from _zoo_quick import by_level, run_quick

import symnn
from zoo import spring


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("spring")
    results = by_level(run_quick("spring", out))
    assert (out / "force_curves.png").exists()
    return results


def test_training_data_are_positive_only_and_test_sets_cover_both_sides():
    data = spring.make_data(spring.FULL, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert bool((data.x > 0).all()) and data.x.shape == (spring.FULL.n_train, 1)
    noise = data.y64 - spring.true_force(data.x64, spring.FULL)
    assert 0.5 * spring.FULL.noise < float(noise.std()) < 1.5 * spring.FULL.noise
    signs = {name: (bool((x > 0).all()), bool((x < 0).all())) for name, (x, _) in data.tests.items()}
    assert sorted(signs.values()) == [(False, True), (False, True), (True, False), (True, False)]


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
def test_quick_level_0_does_not_predict_x_below_zero_and_levels_1_to_4_do(quick):
    mirror = {
        key: next(v for k, v in level["errors"].items() if k.startswith("mirror"))
        for key, level in quick.items()
    }
    assert mirror["0"] > 0.3
    for key in ("1", "2", "3", "4a", "4b"):
        assert mirror[key] < 0.5 * mirror["0"], key


@pytest.mark.slow
def test_quick_levels_3_and_4_are_exactly_odd_and_the_others_are_not(quick):
    for key in ("3", "4a", "4b"):
        assert quick[key]["metrics"]["oddness error (largest relative)"] == 0.0, key
        assert quick[key]["symmetry_error_final"] == 0.0, key
    for key in ("0", "1", "2"):
        assert quick[key]["symmetry_error_final"] > 0.0, key
    assert quick["0"]["symmetry_error_final"] > 10 * quick["1"]["symmetry_error_final"]


@pytest.mark.slow
def test_quick_level_4b_recovers_the_spring_constants(quick):
    metrics = quick["4b"]["metrics"]
    assert metrics["fitted C1"] == pytest.approx(spring.QUICK.k1, rel=0.05)
    assert metrics["fitted C2"] == pytest.approx(spring.QUICK.k2, rel=0.05)
