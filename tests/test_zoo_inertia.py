"""The inertia problem: its data and models, and a quick run whose quick findings must hold."""

import pytest
import torch
from _zoo_quick import assert_quick_findings_hold, by_level, run_quick

import symnn
from symnn_zoo import inertia


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("inertia")
    results = run_quick("inertia", out)
    assert "published_comparison.png" in results["files"]
    return out, results


def _data(seed=0):
    return inertia.make_data(inertia.QUICK, torch.Generator().manual_seed(seed), torch.device("cpu"))


def test_the_splits_and_the_inputs_follow_finzi_et_al():
    data = _data()
    settings = inertia.QUICK
    assert data.x.shape == (settings.n_train, 20) and data.y.shape == (settings.n_train, 9)
    assert data.val.x.shape[0] == settings.n_val
    assert [(t.kind, t.x.shape[0]) for t in data.tests] == [
        ("train", settings.n_train),
        ("test", settings.n_test),
    ]
    masses = torch.cat([data.x, data.val.x, data.tests[1].x])[:, :5]
    assert bool((masses > 0).all())  # softplus of a Gaussian
    positions = torch.cat([data.x, data.val.x, data.tests[1].x])[:, 5:]
    assert abs(float(positions.mean())) < 0.05 and abs(float(positions.std()) - 1) < 0.05
    assert data.probe.shape == (settings.n_probe, 20) and data.probe_elements.shape == (
        settings.n_probe,
        3,
        3,
    )


def test_the_target_is_the_inertia_tensor_plus_the_z_axis_term():
    # One unit mass at (1, 0, 0) and four massless points: I = diag(0, 1, 1); the
    # extra term adds 0.1 * I e_z to the last column.
    x = torch.zeros(1, 20, dtype=torch.float64)
    x[0, 0] = 1.0
    x[0, 5] = 1.0
    torch.testing.assert_close(
        inertia.inertia(x).reshape(3, 3), torch.diag(torch.tensor([0.0, 1.0, 1.0]).double())
    )
    expected = torch.diag(torch.tensor([0.0, 1.0, 1.1], dtype=torch.float64))
    torch.testing.assert_close(inertia.modified_inertia(x, inertia.FULL).reshape(3, 3), expected)


def test_the_target_is_not_o3_equivariant_but_the_inertia_tensor_is():
    x = torch.randn(64, 20, dtype=torch.float64)
    formula = inertia.InertiaFormula()
    assert symnn.testing.equivariance_error(formula, inertia.SYMMETRY, x) < 1e-12
    assert (
        symnn.testing.equivariance_error(
            lambda t: inertia.modified_inertia(t, inertia.FULL), inertia.SYMMETRY, x
        )
        > 1e-3
    )


def test_the_exact_floor_is_below_the_plain_formula_and_the_group_average_is_equivariant():
    data = _data()
    x, y = data.tests[1].x.double(), data.tests[1].y.double()
    plain = float((inertia.inertia(x) - y).square().mean())
    assert 0 < data.floor < plain
    average = lambda t: inertia.best_equivariant(t, inertia.FULL)  # noqa: E731
    assert symnn.testing.equivariance_error(average, inertia.SYMMETRY, x[:64]) < 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_e3nn_network_is_o3_equivariant_and_outputs_a_symmetric_matrix(dtype):
    torch.manual_seed(0)
    net = inertia.E3nnInertia(scalars=4, gated=2).to(dtype)
    x = torch.randn(32, 20, dtype=dtype)
    out = net(x).reshape(-1, 3, 3)
    torch.testing.assert_close(out, out.transpose(-1, -2))
    # e3nn's CartesianTensor change of basis is computed in float32, whatever the
    # network's dtype: 4e-8 measured in float64, the float32 rounding of that basis.
    tolerance = 1e-5 if dtype == torch.float32 else 1e-6
    assert symnn.testing.equivariance_error(net, inertia.SYMMETRY, x) < tolerance


def test_the_equivariance_error_is_zero_for_the_formula_and_large_for_an_mlp():
    data = _data()
    assert inertia.equivariance_error(inertia.InertiaFormula(), data.probe, data.probe_elements) < 1e-6
    torch.manual_seed(0)
    mlp = inertia.backbone(inertia.QUICK)
    assert inertia.equivariance_error(mlp, data.probe, data.probe_elements) > 1e-2


@pytest.mark.slow
def test_quick_findings_hold(quick):
    assert_quick_findings_hold(quick[1])


@pytest.mark.slow
def test_quick_run_reports_the_three_columns_for_every_level(quick):
    out, results = quick
    levels = by_level(results)
    assert list(levels) == ["0", "1", "2", "3a", "3b", "3r", "4"]
    for level in levels.values():
        assert set(level["errors"]) == {"train MSE", "test MSE"}
        assert "O(3) equivariance error" in level["metrics"]
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "published RPP (soft): 0.07 / 0.15 / 0.08" in table
