"""The triangle problem: its data, and a quick run that shows the lecture's findings' direction."""

import pytest
import torch
from _zoo_quick import by_level, run_quick

from zoo import triangle


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return by_level(run_quick("triangle", tmp_path_factory.mktemp("triangle")))


def test_random_triangles_are_valid_and_in_range():
    edges = triangle.random_triangles(2000, (0.2, 1.0), torch.Generator().manual_seed(0))
    assert edges.shape == (2000, 3) and edges.dtype == torch.float64
    assert bool(((edges > 0.2) & (edges < 1.0)).all())
    longest = edges.amax(-1)
    assert bool((longest < edges.sum(-1) - longest).all())
    assert bool((triangle.true_area(edges) > 0).all())


def test_test_sets_are_the_base_set_permuted_and_rescaled():
    settings = triangle.TriangleSettings(n_train=10, n_test=300, n_probe=8)
    data = triangle.make_data(settings, torch.Generator().manual_seed(1), torch.device("cpu"))
    for where in ("ID", "OOD"):
        base_x, base_y = data.tests[f"base {where}"]
        permuted_x, permuted_y = data.tests[f"permuted {where}"]
        scaled_x, scaled_y = data.tests[f"scaled {where}"]
        torch.testing.assert_close(permuted_x.sort(-1).values, base_x.sort(-1).values, rtol=0, atol=0)
        assert torch.equal(permuted_y, base_y)
        s = scaled_x[:, 0] / base_x[:, 0]
        assert bool(((s > 0.6 - 1e-12) & (s < 1.7 + 1e-12)).all())
        torch.testing.assert_close(scaled_y, triangle.true_area(scaled_x), rtol=1e-12, atol=0)
    low, high = settings.ood_edge_range
    ood = data.tests["base OOD"][0]
    assert bool(((ood > low) & (ood < high)).all())


@pytest.mark.slow
def test_quick_run_writes_every_level(quick):
    assert list(quick) == ["0", "1a", "1b", "2a", "2b", "3", "3s", "4"]
    for level in quick.values():
        assert set(level["errors"]) == {
            f"{s} {w}" for s in ("base", "permuted", "scaled") for w in ("ID", "OOD")
        }
    assert quick["0"]["cost_ratio_to_baseline"] == 1.0


@pytest.mark.slow
def test_quick_level_0_is_off_out_of_distribution(quick):
    errors = quick["0"]["errors"]
    assert errors["base OOD"] > 3 * errors["base ID"]
    assert errors["scaled ID"] > errors["base ID"]  # larger triangles than it was trained on


@pytest.mark.slow
def test_quick_levels_1_and_2_fix_scaled_in_distribution_but_not_out(quick):
    for key in ("1a", "1b", "2a", "2b"):
        errors = quick[key]["errors"]
        assert errors["scaled ID"] < quick["0"]["errors"]["scaled ID"], key
        assert errors["base OOD"] > 3 * errors["base ID"], key


@pytest.mark.slow
def test_quick_level_3_generalises_and_is_exactly_symmetric(quick):
    worst_ood = max(v for k, v in quick["3"]["errors"].items() if k.endswith("OOD"))
    assert worst_ood < 0.5 * min(v for k, v in quick["0"]["errors"].items() if k.endswith("OOD"))
    for key in ("3", "3s"):
        assert quick[key]["symmetry_error_final"] < 1e-5  # float32 rounding of the rescaling
        errors = quick[key]["errors"]
        assert errors["permuted ID"] == pytest.approx(errors["base ID"], rel=1e-5)
    assert quick["0"]["symmetry_error_final"] > 1e-2


@pytest.mark.slow
def test_quick_level_4_is_exact_and_recovers_herons_constant(quick):
    assert max(quick["4"]["errors"].values()) <= 1e-12
    assert quick["4"]["metrics"]["fitted C (Heron: 1/16)"] == pytest.approx(1 / 16, rel=1e-12)
    assert quick["4"]["train_seconds"] < 1.0
