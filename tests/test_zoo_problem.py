"""The harness: level selection, seeds, claims, measures, and a run of a toy problem."""

import importlib
from dataclasses import dataclass, replace

import pytest
import torch
from _zoo_quick import run_toy, toy_problem

import symnn
from symnn_zoo import PROBLEM_NAMES, PROBLEMS, get_problem
from symnn_zoo._problem import (
    Evaluation,
    Level,
    Problem,
    TestSet,
    claim,
    evaluate_regression,
    level_seed,
    model_dtype,
    relative_rms,
    relative_symmetry_error,
    run_problem,
    select_levels,
)
from symnn_zoo._training import Settings


@pytest.fixture(scope="module")
def toy_run():
    return run_toy(seed=3)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, ["0", "1a", "1b", "2a", "2b", "3", "3s", "4"]),
        ("all", ["0", "1a", "1b", "2a", "2b", "3", "3s", "4"]),
        ("3", ["3"]),
        ("3,3s", ["3", "3s"]),
        ("1", ["1a", "1b"]),
        ("4, 0 ,1b", ["0", "1b", "4"]),
        ("2,2b", ["2a", "2b"]),
    ],
)
def test_select_levels_keeps_the_ladder_order(spec, expected):
    assert select_levels(get_problem("triangle"), spec) == expected


def test_select_levels_bare_number_selects_variants_only_when_it_is_not_a_level():
    assert select_levels(get_problem("spring"), "4") == ["4a", "4b"]
    assert select_levels(get_problem("rotation"), "3") == ["3"]


@pytest.mark.parametrize("spec", ["5", "1c", "", "0,", "x"])
def test_select_levels_names_the_levels_that_exist(spec):
    with pytest.raises(
        ValueError, match=r"unknown level .* for triangle; choose from 0, 1a, 1b, 2a, 2b, 3, 3s, 4"
    ):
        select_levels(get_problem("triangle"), spec)


def test_level_seeds_differ_between_levels_and_seeds_but_repeat():
    seeds = {level_seed(s, k) for s in (0, 1) for k in ("0", "1a", "3")}
    assert len(seeds) == 6
    assert level_seed(0, "3") == level_seed(0, "3")


def test_relative_rms_and_model_dtype():
    assert relative_rms(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])) == 0.0
    assert relative_rms(torch.tensor([0.0, 0.0]), torch.tensor([3.0, 4.0])) == pytest.approx(1.0)
    model = symnn.PhysicsResidual(torch.nn.Linear(1, 1).double(), torch.nn.Linear(1, 1), train_baseline=False)
    assert model_dtype(model) == torch.float32  # the frozen float64 baseline does not count
    assert model_dtype(torch.nn.Linear(1, 1).double()) == torch.float64


def test_relative_symmetry_error_is_zero_for_odd_models_and_positive_otherwise():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 33).unsqueeze(-1)
    sym = symnn.Parity(-1)
    assert relative_symmetry_error(symnn.Odd(symnn.MLP(1, 1)), sym, x, [torch.tensor(-1.0)]) == 0.0
    even = symnn.Even(symnn.MLP(1, 1))  # f(-x) + f(x) = 2 f(x): relative error 2
    assert relative_symmetry_error(even, sym, x, [torch.tensor(-1.0)]) == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize("name", PROBLEM_NAMES)
def test_each_registered_module_declares_its_problem_explicitly(name):
    module, problem = importlib.import_module(PROBLEMS[name], "symnn_zoo"), get_problem(name)
    assert problem is module.PROBLEM and problem.name == name
    assert isinstance(problem, Problem) and type(problem.full_settings) is type(problem.quick_settings)
    assert isinstance(problem.full_settings, Settings)
    assert all(level.description for level in problem.levels), "every level's build has a docstring"


def test_get_problem_names_the_problems_that_exist():
    with pytest.raises(ValueError, match="unknown problem 'bicycle'; choose from triangle, spring"):
        get_problem("bicycle")


def test_settings_share_one_base_and_a_problem_checks_its_fields():
    toy = toy_problem()
    assert toy.quick_settings.epochs == 5 and isinstance(toy.quick_settings, Settings)

    @dataclass(frozen=True)
    class Loose:  # does not extend Settings
        epochs: int = 1

    with pytest.raises(TypeError, match="expected full_settings to extend"):
        replace(toy, full_settings=Loose())
    with pytest.raises(ValueError, match="level keys must be unique"):
        replace(toy, levels=(toy.levels[0], toy.levels[0]))
    with pytest.raises(ValueError, match="expected a bias in"):
        Level("0", "magic", "no such bias", toy.levels[0].build)


def test_test_sets_are_selected_by_their_fields_not_their_names():
    x = torch.zeros(2, 1)
    evaluation = Evaluation(
        {"a": 0.1, "b": 0.5, "c": 0.3, "boundary": 1.0},
        test_sets={
            "a": TestSet("a", x, x, in_distribution=True),
            "b": TestSet("b", x, x, in_distribution=False),
            "c": TestSet("c", x, x, in_distribution=False, kind="mirror"),
        },
    )
    assert evaluation.errors_on(in_distribution=False) == {"b": 0.5, "c": 0.3}
    assert evaluation.error_on(in_distribution=False, kind="mirror") == 0.3
    assert evaluation.worst() == 0.5 and evaluation.worst(in_distribution=True) == 0.1


def test_evaluate_regression_runs_the_model_in_its_dtype_and_compares_in_float64():
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.bias.fill_(0.0)
    x = torch.tensor([[1.0], [3.0]], dtype=torch.float64)
    tests = [
        TestSet("exact", x, 2 * x, in_distribution=True),
        TestSet("off", x, 4 * x, in_distribution=False),
    ]
    with torch.no_grad():  # as run_problem evaluates
        evaluation = evaluate_regression(model, tests)
    assert evaluation.test_sets == dict(zip(["exact", "off"], tests))
    assert evaluation.errors == {"exact": 0.0, "off": pytest.approx(0.5)}
    predicted, true = evaluation.predictions["off"]
    assert predicted.dtype == true.dtype == "float64" and predicted.tolist() == [2.0, 6.0]
    assert true.tolist() == [4.0, 12.0]


def test_run_problem_trains_fits_and_compares_costs(toy_run):
    results = toy_run.by_key()
    assert list(results) == ["0", "1a"]
    assert results["0"].cost_ratio == 1.0
    assert results["1a"].cost_ratio == pytest.approx(
        results["1a"].history.seconds / results["0"].history.seconds
    )
    assert len(results["0"].history.loss) == 5 and results["0"].history.monitor_epochs == [0, 2, 5]
    assert results["1a"].history.loss == [] and results["1a"].history.monitor_values == [0.5]
    # the gradient alignment on the default probe (the first training rows, MSE): at the
    # checkpoints for a trained level, once after a closed-form fit
    assert results["0"].history.alignment_epochs == [0, 2, 5] and results["1a"].history.alignment_epochs == [
        0
    ]
    for result in results.values():
        assert all(0 <= a["fraction"] <= 1 and a["method"] == "exact" for a in result.history.alignment)
    assert results["1a"].history.alignment[0]["loss"] == 0.0  # the closed form is exact: nothing asked
    assert [f.holds for f in toy_run.findings] == [True, None, False]


def test_same_seed_same_numbers_other_seed_other_numbers():
    problem = get_problem("spring")
    settings = type(problem.quick_settings)(epochs=15, n_train=50, n_test=40, n_probe=16, n_checkpoints=2)

    def run(seed):
        result = run_problem(
            problem,
            ["0", "2", "4b"],
            settings=settings,
            seed=seed,
            device=torch.device("cpu"),
            quick=True,
            progress=False,
        )
        return [(r.evaluation.errors, r.history.loss, r.history.monitor_values) for r in result.levels]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_claim_reports_unmeasured_claims():
    finding = claim({}, "x", ("0",), lambda r: True, lambda r: "", quick=True)
    assert finding.holds is None and finding.quick and "needs levels 0" in finding.detail
