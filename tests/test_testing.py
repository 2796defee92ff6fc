"""symnn.testing: the error's definition, float64 action and comparison, messages, elements tried."""

import math

import pytest
import torch

import symnn
from symnn.testing import assert_equivariant, default_rtol, equivariance_error


class Spy(torch.nn.Module):
    """Wraps a function and records every input it is called with."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x.clone())
        return self.fn(x)


def shifted(x):
    """f(x) = x + 1/4: not odd; under x -> -x the violation at row i is 2c / |x_i + c|."""
    return x + 0.25


def test_the_error_is_the_largest_relative_violation_over_rows_and_elements():
    x = torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)
    expected = max(0.5 / abs(v + 0.25) for v in (1.0, -2.0, 0.5))  # the identity contributes 0
    assert equivariance_error(shifted, symnn.Parity(-1), x) == pytest.approx(expected, rel=1e-15)


def test_floor_judges_small_outputs_absolutely():
    x = torch.tensor([[-0.25 + 1e-9]], dtype=torch.float64)  # f(x) = 1e-9: relative error ~5e8
    assert equivariance_error(shifted, symnn.Parity(-1), x) > 1e8
    assert equivariance_error(shifted, symnn.Parity(-1), x, floor=1.0) == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(ValueError, match="floor must be a finite non-negative number"):
        equivariance_error(shifted, symnn.Parity(-1), x, floor=-1.0)


def test_zero_against_zero_is_no_violation_and_anything_against_zero_is_infinite():
    x = torch.rand(10, 2, dtype=torch.float64) + 0.1
    assert equivariance_error(torch.zeros_like, symnn.Parity(-1), x) == 0.0
    # relu(-x) is 0 at x > 0 but x at -x: a violation against an expected 0 is infinite.
    assert equivariance_error(lambda t: torch.relu(-t), symnn.Parity(-1), x) == math.inf


def test_equal_infinities_agree_and_a_lone_infinity_is_a_violation():
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    assert equivariance_error(lambda t: 1 / t.abs(), symnn.Parity(1), x) == 0.0
    assert equivariance_error(lambda t: 1 / t.clamp_min(0), symnn.Parity(1), x) == math.inf


def test_nan_outputs_fail_the_check_and_the_message_says_nan():
    x = torch.linspace(1, 2, 8, dtype=torch.float64).reshape(8, 1)

    def nan_at_row_5(t):
        out = t.abs()
        out[5] = math.nan
        return out

    assert math.isnan(equivariance_error(nan_at_row_5, symnn.Parity(1), x))
    with pytest.raises(AssertionError, match=r"NaN in the outputs[\s\S]*input row x\[5\]"):
        assert_equivariant(nan_at_row_5, symnn.Parity(1), x, rtol=math.inf)


def test_the_message_names_the_element_and_the_input_row():
    x = torch.ones(2, 4, 3, dtype=torch.float64)
    x[1, 2] = torch.tensor([1.0, 2.0, 3.0])  # every other row is tied, so invariant
    with pytest.raises(AssertionError) as failure:
        assert_equivariant(lambda t: t[..., :1], symnn.Permutation(3), x)
    message = str(failure.value)
    assert "is not equivariant under Permutation(3): relative error 2.000e+00 > rtol 1.0e-10" in message
    # The worst element is the first to move x_2 = 3 to the front: (2, 0, 1), element #4.
    assert "element #4: g = [2, 0, 1]" in message
    assert "input row x[1, 2] = [1.0, 2.0, 3.0]" in message
    assert "f(g·x)  = [3.0]" in message and "ρ(g)f(x) = [1.0]" in message


def test_the_action_runs_in_float64_and_is_rounded_once():
    spy = Spy(lambda t: t)
    x = torch.rand(1000, 1, generator=torch.Generator().manual_seed(0)) + 0.5
    scale = torch.tensor(1 / 3, dtype=torch.float64)
    equivariance_error(spy, symnn.Scaling(1), x, elements=[scale])
    assert torch.equal(spy.inputs[1], (x.double() * scale).float())
    # The check is live: acting in float32 would round twice and differ on some rows.
    assert not torch.equal(spy.inputs[1], x * scale.float())


def test_the_comparison_runs_in_float64():
    # In float32, f(-x) - (-f(x)) = 3e38 + 3e38 overflows to inf, and so does the norm.
    big = torch.full((4, 2), 3e38, dtype=torch.float32)
    error = equivariance_error(lambda t: torch.full_like(t, 3e38), symnn.Parity(-1), big)
    assert error == 2.0


def test_finite_groups_are_checked_on_every_element():
    spy = Spy(lambda t: t.sum(-1, keepdim=True))
    equivariance_error(spy, symnn.Permutation(3) * symnn.Parity(1), torch.rand(5, 3))
    assert len(spy.inputs) == 1 + 12
    images = {tuple(t[0].tolist()) for t in spy.inputs[1:]}
    assert len(images) == 12


def test_infinite_groups_are_sampled_reproducibly_by_default():
    spy = Spy(lambda t: t)
    x = torch.ones(3, 1, dtype=torch.float64)
    first = equivariance_error(spy, symnn.Scaling(2), x)
    assert len(spy.inputs) == 1 + 16
    scales = [t[0, 0].item() for t in spy.inputs[1:]]
    spy.inputs.clear()
    assert equivariance_error(spy, symnn.Scaling(2), x) == first
    assert [t[0, 0].item() for t in spy.inputs[1:]] == scales
    spy.inputs.clear()
    equivariance_error(spy, symnn.Scaling(2), x, generator=torch.Generator().manual_seed(0), n_elements=16)
    assert [t[0, 0].item() for t in spy.inputs[1:]] == scales  # the default is seed 0
    spy.inputs.clear()
    equivariance_error(spy, symnn.Scaling(2), x, generator=torch.Generator().manual_seed(1), n_elements=5)
    assert len(spy.inputs) == 1 + 5 and [t[0, 0].item() for t in spy.inputs[1:]] != scales[:5]


def test_a_finite_group_too_large_to_list_is_sampled():
    spy = Spy(lambda t: t.sort(-1).values)
    assert (
        equivariance_error(spy, symnn.Permutation(9, equivariant=False), torch.rand(4, 9), n_elements=7)
        == 0.0
    )
    assert len(spy.inputs) == 1 + 7


def test_elements_given_override_the_default():
    spy = Spy(lambda t: t)
    equivariance_error(spy, symnn.Permutation(3), torch.rand(2, 3), elements=[torch.tensor([2, 1, 0])])
    assert len(spy.inputs) == 2
    with pytest.raises(ValueError, match="no group elements"):
        equivariance_error(spy, symnn.Permutation(3), torch.rand(2, 3), elements=[])


def test_default_tolerances_follow_the_output_dtype():
    assert default_rtol(torch.float64) == 1e-10 and default_rtol(torch.float32) == 1e-4
    x = torch.rand(50, 1, generator=torch.Generator().manual_seed(1)) + 1.0
    wobble = lambda t: t * (1 + 1e-6 * torch.sin(1e3 * t))  # noqa: E731 - homogeneous to 1e-6 only
    error = assert_equivariant(wobble, symnn.Scaling(1), x)  # float32: 1e-4 is the default
    assert 0.0 < error < 1e-4
    with pytest.raises(AssertionError, match=r"rtol 1\.0e-10"):
        assert_equivariant(wobble, symnn.Scaling(1), x.double())
    with pytest.raises(AssertionError, match=r"rtol 0\.0e"):
        assert_equivariant(wobble, symnn.Scaling(1), x, rtol=0.0)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: equivariance_error(shifted, "parity", torch.ones(2, 1)), TypeError, r"symnn\.Symmetry"),
        (lambda: equivariance_error(shifted, symnn.Parity(-1), [1.0]), TypeError, r"torch\.Tensor"),
        (
            lambda: equivariance_error(lambda t: t, symnn.Permutation(2) * symnn.Parity(1), torch.ones(2, 3)),
            ValueError,
            r"size 2",
        ),
        (
            lambda: equivariance_error(
                lambda t: t[..., :2], symnn.Permutation(3, equivariant=True), torch.ones(2, 3)
            ),
            ValueError,
            r"size 3; got y of shape \(2, 2\)",
        ),
    ],
)
def test_bad_arguments_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_an_output_action_that_changes_the_shape_is_reported():
    class Broadcast(symnn.Symmetry):
        is_finite = True

        def elements(self):
            return [1.0]

        def act_input(self, g, x):
            return x

        def act_output(self, g, y):
            return y.unsqueeze(0)

    with pytest.raises(ValueError, match="the symmetry does not fit the model's output"):
        equivariance_error(lambda t: t, Broadcast(), torch.ones(2, 3))


def test_the_checker_reads_the_models_own_symmetry():
    torch.manual_seed(0)
    x = torch.rand(40, 3, dtype=torch.float64)
    model = symnn.ScaleNormalize(symnn.PermutationSort(symnn.MLP(3, 1)), degree=2).double()
    assert repr(model.symmetry) == repr(symnn.Permutation(3) * symnn.Scaling(2))
    assert symnn.testing.assert_equivariant(model, x, rtol=1e-12) <= 1e-12
    assert symnn.testing.equivariance_error(model, x) == symnn.testing.equivariance_error(
        model, model.symmetry, x
    )


def test_the_checker_without_a_symmetry_says_what_is_missing():
    with pytest.raises(TypeError, match=r"MLP has no \.symmetry.*pass the symmetry: \(model, sym, x\)"):
        symnn.testing.equivariance_error(symnn.MLP(3, 1), torch.rand(4, 3))
    with pytest.raises(TypeError, match="the inputs x are missing"):
        symnn.testing.assert_equivariant(symnn.MLP(3, 1), symnn.Permutation(3))


@pytest.mark.parametrize("shape", [(0, 3), (0,), (2, 0, 3)])
def test_equivariance_error_on_an_empty_batch_says_so(shape):
    # Regression: an empty batch raised ZeroDivisionError from a private helper.  A check
    # over no inputs cannot fail, so it is refused rather than passed as 0.0.
    model = symnn.Odd(symnn.MLP(3, 1))
    with pytest.raises(ValueError, match=r"x is an empty batch"):
        symnn.testing.equivariance_error(model, symnn.Parity(-1), torch.zeros(shape))
    with pytest.raises(ValueError, match=r"x is an empty batch"):
        symnn.testing.assert_equivariant(model, torch.zeros(shape))


def test_issue10_item9_assert_equivariant_rtol_as_a_string_is_named():
    net = symnn.PermutationSort(symnn.MLP(3, 1)).double()
    x = torch.rand(8, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="rtol must be a number; got str '1e-3'"):
        symnn.testing.assert_equivariant(net, symnn.Permutation(3), x, rtol="1e-3")
    for bad in (-1e-3, float("nan"), -float("inf")):
        with pytest.raises(ValueError, match="rtol must be a finite non-negative number"):
            symnn.testing.assert_equivariant(net, symnn.Permutation(3), x, rtol=bad)
    # rtol=0.0 demands exactness, and an exactly symmetric net passes it.
    assert symnn.testing.assert_equivariant(net, symnn.Permutation(3), x, rtol=0.0) == 0.0
    with pytest.raises(AssertionError, match=r"rtol 0\.0e"):
        symnn.testing.assert_equivariant(symnn.MLP(3, 1).double(), symnn.Permutation(3), x, rtol=0)


def test_issue10_item9_checker_names_model_floor_and_n_elements():
    x = torch.rand(8, 3)
    with pytest.raises(TypeError, match="model must be a callable"):
        symnn.testing.equivariance_error("net", symnn.Permutation(3), x)
    with pytest.raises(TypeError, match="floor must be a number; got str"):
        symnn.testing.equivariance_error(symnn.MLP(3, 1), symnn.Permutation(3), x, floor="0")
    with pytest.raises(ValueError, match="n_elements must be a positive int; got 0"):
        symnn.testing.equivariance_error(symnn.MLP(3, 1), symnn.Scaling(1), x, n_elements=0)
