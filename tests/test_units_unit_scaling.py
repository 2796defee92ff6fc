"""symnn.UnitScaling: a change of units as a Symmetry, for augment, penalties and checks."""

import math

import pytest
import torch

import symnn
from symnn.testing import assert_equivariant, equivariance_error

PENDULUM = {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}


def true_period(x: torch.Tensor) -> torch.Tensor:
    """The small-angle law 2π sqrt(L/g): covariant, so the augmented labels stay true."""
    return 2 * math.pi * torch.sqrt(x[..., :1] / x[..., 2:3])


class SmallAngleLaw(torch.nn.Module):
    def forward(self, x):
        return true_period(x)


@pytest.fixture
def sym():
    return symnn.UnitScaling(PENDULUM, ("T", "s"), scale_range=(0.01, 100.0))


def _x(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 4, generator=g, dtype=torch.float64) + 0.1


def test_actions_scale_each_column_by_its_units_factor(sym):
    assert sym.dimensions == ("length", "mass", "time")
    lam = torch.tensor([2.0, 3.0, 5.0], dtype=torch.float64)
    x = torch.ones(1, 4, dtype=torch.float64)
    torch.testing.assert_close(
        sym.act_input(lam, x), torch.tensor([[2.0, 3.0, 2.0 / 25.0, 1.0]], dtype=torch.float64)
    )
    torch.testing.assert_close(
        sym.act_output(lam, torch.ones(1, 2, dtype=torch.float64)),
        torch.full((1, 2), 5.0, dtype=torch.float64),
    )


def test_inverse_undoes_the_action_and_elements_are_per_row(sym):
    x = _x(6)
    rows = sym.sample_rows(6, torch.Generator().manual_seed(1))
    assert rows.shape == (6, 3)
    back = sym.act_input(sym.inverse(rows), sym.act_input(rows, x))
    torch.testing.assert_close(back, x, rtol=1e-15, atol=0)
    assert not sym.is_finite and sym.order == math.inf
    with pytest.raises(symnn.InfiniteGroupError):
        sym.elements()


def test_samples_are_log_uniform_in_the_range_and_reproducible(sym):
    a = torch.stack(sym.sample(4000, torch.Generator().manual_seed(3)))
    b = torch.stack(sym.sample(4000, torch.Generator().manual_seed(3)))
    assert torch.equal(a, b)
    logs = a.log10()
    assert logs.min() >= -2 and logs.max() <= 2
    assert abs(float(logs.mean())) < 0.05 and abs(float((logs < 0).double().mean()) - 0.5) < 0.03


def test_testing_accepts_it_and_tells_a_law_from_a_plain_mlp(sym):
    x = _x(32)
    assert_equivariant(SmallAngleLaw(), sym, x)
    torch.manual_seed(0)
    assert equivariance_error(symnn.MLP(4, 1).double(), sym, x) > 0.1
    with pytest.raises(AssertionError):
        assert_equivariant(symnn.MLP(4, 1).double(), sym, x)


def test_augment_gives_labels_that_the_law_satisfies(sym):
    x = _x(20)
    xa, ya = symnn.augment(x, true_period(x), sym, copies=3, generator=torch.Generator().manual_seed(0))
    assert xa.shape == (80, 4) and ya.shape == (80, 1)
    torch.testing.assert_close(ya, true_period(xa), rtol=1e-13, atol=0)
    # The copies really moved: lengths span far more than the data's range.
    assert xa[:, 0].max() / xa[:, 0].min() > 100


def test_symmetry_penalty_is_zero_for_the_law_and_positive_for_an_mlp(sym):
    x = _x(16)
    gen = torch.Generator().manual_seed(0)
    assert float(symnn.symmetry_penalty(SmallAngleLaw(), x, sym, n_elements=4, generator=gen)) < 1e-24
    torch.manual_seed(0)
    assert (
        float(symnn.symmetry_penalty(symnn.MLP(4, 1).double(), x, sym, n_elements=4, generator=gen).detach())
        > 1e-4
    )


def test_float32_inputs_keep_their_dtype(sym):
    x = _x(3).float()
    g = sym.sample(1, torch.Generator().manual_seed(0))[0]
    assert sym.act_input(g, x).dtype == torch.float32
    assert sym.act_output(g, x[:, :1]).dtype == torch.float32


def test_bad_arguments(sym):
    with pytest.raises(ValueError, match="scale_range"):
        symnn.UnitScaling(PENDULUM, ("T", "s"), scale_range=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        sym.act_input(torch.ones(2, dtype=torch.float64), _x(2))
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        sym.act_input(torch.ones(3, dtype=torch.float64), torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="non-negative int"):
        sym.sample(-1)
    with pytest.raises(ValueError, match="does not know"):
        symnn.UnitScaling({"L": "parsec_per_banana"}, ("T", "s"))
    assert "UnitScaling({'L': 'm'" in repr(sym)
