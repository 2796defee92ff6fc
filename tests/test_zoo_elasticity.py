"""The elasticity problem: its finite elements, its data, and a quick run whose findings hold.

The implicit gradient of the solver against finite differences (to 1e-6, float64) is
tested with the solver itself, in tests/test_solve.py.
"""

from dataclasses import replace

import pytest
import torch
from _zoo_quick import assert_quick_findings_hold, by_level, run_quick

from symnn_zoo import elasticity

# fewer loads than the quick run: the 480-element solves of the data dominate these tests' time
SETTINGS = replace(elasticity.QUICK, n_train=12, n_test=6)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("elasticity")
    results = run_quick("elasticity", out)
    assert (out / "stress_strain.png").exists()
    return out, results


@pytest.fixture(scope="module")
def data():
    return elasticity.make_data(SETTINGS, torch.Generator().manual_seed(0), torch.device("cpu"))


def test_a_linear_law_under_a_uniform_load_gives_the_exact_parabola_at_the_nodes():
    # linear elements with a lumped uniform load are nodally exact: u = c x (1 - x) / (2 E)
    bar = elasticity.Bar(40, 19)
    loads = torch.tensor([[0.0, 0.0, 3.0, 0.0, 0.0], [0.0, 0.0, -1.5, 0.0, 0.0]], dtype=torch.float64)
    u = bar.solve(lambda strain: 2.0 * strain, loads)
    exact = loads[:, 2:3] * bar.x * (1 - bar.x) / (2 * 2.0)
    torch.testing.assert_close(u, exact, rtol=0, atol=1e-12)
    assert bar.sensor_index.tolist() == [2 * k - 1 for k in range(1, 20)]


def test_the_nonlinear_solve_satisfies_the_equation_and_is_odd_in_the_load():
    bar = elasticity.Bar(120, 19)
    loads = torch.tensor([[4.0, -2.0, 1.0, 0.0, 0.0]], dtype=torch.float64)

    def law(strain):
        return elasticity.true_law(strain, SETTINGS)

    u = bar.solve(law, loads)
    stress = law(bar.strains(u))
    forcing = bar.h * elasticity.load_values(loads, bar.x)
    assert float((stress[..., :-1] - stress[..., 1:] - forcing).abs().max()) < 1e-12
    torch.testing.assert_close(bar.solve(law, -loads), -u, rtol=0, atol=1e-14)


def test_test_sets_are_the_family_its_larger_copies_and_a_new_shape(data):
    by_kind = {test.kind: test for test in data.tests}
    assert list(by_kind) == ["train", "held-out", "larger", "new shape"]
    assert [test.in_distribution for test in data.tests] == [True, True, False, False]
    for kind in ("train", "held-out", "larger"):
        assert bool((by_kind[kind].x[:, 3:] == 0).all())  # the family: a sin πx + b x + c
    assert bool((by_kind["new shape"].x[:, :3] == 0).all())
    torch.testing.assert_close(by_kind["larger"].x, SETTINGS.larger_factor * by_kind["held-out"].x)
    assert data.x.shape == (SETTINGS.n_train, 5) and data.y.shape == (SETTINGS.n_train, SETTINGS.n_sensors)
    noise = (data.y - by_kind["train"].y) / data.u_scale
    assert 0.5 * SETTINGS.noise < float(noise.std()) < 1.5 * SETTINGS.noise
    assert data.u_scale == pytest.approx(float(by_kind["train"].y.std()))
    # the larger loads reach strains beyond the training range, where the cubic term dominates
    assert data.max_strain["larger"] > 1.3 * data.max_strain["train"]
    cubic = SETTINGS.beta * data.max_strain["train"] ** 2
    assert 0.3 < cubic / (SETTINGS.E + cubic) < 0.6


def test_the_data_come_from_a_finer_mesh_than_the_models_solver(data):
    coarse = elasticity.Bar(SETTINGS.elements, SETTINGS.n_sensors)
    train = data.tests[0]
    u = coarse.solve(lambda strain: elasticity.true_law(strain, SETTINGS), train.x)
    mesh_error = float((u[:, coarse.sensor_index] - train.y).norm() / train.y.norm())
    assert 0 < mesh_error < 1e-3


@pytest.mark.slow
def test_quick_findings_hold(quick):
    assert_quick_findings_hold(quick[1])


@pytest.mark.slow
def test_quick_run_records_the_law_its_constants_and_the_alignment_through_the_solver(quick):
    levels = by_level(quick[1])
    for key in ("4", "4b"):
        metrics = levels[key]["metrics"]
        assert metrics["oddness in the load (relative RMS)"] == 0.0
        beyond = [name for name in metrics if name.startswith("law error beyond")]
        assert len(beyond) == 1 and metrics[beyond[0]] >= 0
        assert {a["method"] for a in levels[key]["history"]["alignment"]} == {"exact"}
    assert levels["3"]["metrics"]["oddness in the load (relative RMS)"] == 0.0
    assert levels["0"]["metrics"]["oddness in the load (relative RMS)"] > 0.0
    assert levels["4b"]["history"]["alignment"][0]["parameters"] == 2
