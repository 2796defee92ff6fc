"""The triangle problem: its data, and a quick run that shows the lecture's findings' direction."""

import pytest
import torch
from _zoo_quick import assert_quick_findings_hold, by_level, run_quick

from symnn_zoo import triangle


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return run_quick("triangle", tmp_path_factory.mktemp("triangle"))


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
    assert [(t.kind, t.in_distribution) for t in data.tests] == [
        (kind, where) for where in (True, False) for kind in ("base", "permuted", "scaled")
    ]
    sets = {(t.kind, t.in_distribution): (t.x, t.y) for t in data.tests}
    for where in (True, False):
        base_x, base_y = sets["base", where]
        permuted_x, permuted_y = sets["permuted", where]
        scaled_x, scaled_y = sets["scaled", where]
        torch.testing.assert_close(permuted_x.sort(-1).values, base_x.sort(-1).values, rtol=0, atol=0)
        assert torch.equal(permuted_y, base_y)
        s = scaled_x[:, 0] / base_x[:, 0]
        assert bool(((s > 0.6 - 1e-12) & (s < 1.7 + 1e-12)).all())
        torch.testing.assert_close(scaled_y, triangle.true_area(scaled_x), rtol=1e-12, atol=0)
    low, high = settings.ood_edge_range
    ood = sets["base", False][0]
    assert bool(((ood > low) & (ood < high)).all())


@pytest.mark.slow
def test_quick_run_writes_every_level(quick):
    levels = by_level(quick)
    assert list(levels) == ["0", "1a", "1b", "2a", "2b", "3", "3s", "4"]
    for level in levels.values():
        assert set(level["errors"]) == {
            f"{s} {w}" for s in ("base", "permuted", "scaled") for w in ("ID", "OOD")
        }
    assert levels["0"]["cost_ratio_to_baseline"] == 1.0
    kinds = {(c["kind"], c["in_distribution"]) for c in quick["columns"]}
    assert kinds == {(k, w) for k in ("base", "permuted", "scaled") for w in (True, False)}


@pytest.mark.slow
def test_quick_findings_hold(quick):
    assert_quick_findings_hold(quick)
