"""PhysicsResidual: baseline plus correction, frozen or learnable baselines, shape errors."""

import pytest
import torch

import symnn


class Hooke(torch.nn.Module):
    """The known law F = k x, with k learnable."""

    def __init__(self, k: float = 2.0) -> None:
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(k))

    def forward(self, x):
        return self.k * x


def test_output_is_baseline_plus_correction(dtype):
    torch.manual_seed(0)
    baseline, correction = Hooke(), symnn.MLP(1, 1, hidden=(8,))
    model = symnn.PhysicsResidual(baseline, correction).to(dtype)
    x = torch.randn(4, 7, 1, dtype=dtype)
    assert torch.equal(model(x), baseline(x) + correction(x))
    assert model(x).dtype == dtype and model(x).shape == (4, 7, 1)


def test_an_odd_baseline_plus_an_odd_correction_is_exactly_odd(dtype, tied_inputs):
    # The lecture's spring at level 4: F = k* x + Odd(f)(x); IEEE negation keeps it exact.
    torch.manual_seed(1)
    model = symnn.PhysicsResidual(Hooke(), symnn.Odd(symnn.MLP(1, 1))).to(dtype)
    x = tied_inputs(1000, 1, dtype)
    assert symnn.testing.assert_equivariant(model, symnn.Parity(-1), x, rtol=0.0) == 0.0


def test_the_baseline_trains_unless_frozen():
    x = torch.randn(16, 1)
    free = symnn.PhysicsResidual(Hooke(), symnn.MLP(1, 1, hidden=(4,)))
    free(x).sum().backward()
    assert free.baseline.k.grad is not None
    frozen = symnn.PhysicsResidual(Hooke(), symnn.MLP(1, 1, hidden=(4,)), train_baseline=False)
    frozen(x).sum().backward()
    assert frozen.baseline.k.grad is None and not frozen.baseline.k.requires_grad
    assert all(p.grad is not None for p in frozen.correction.parameters())


def test_shape_mismatch_is_refused_rather_than_broadcast():
    class Flat(torch.nn.Module):
        def forward(self, x):
            return x[..., 0]  # (n,) where the correction gives (n, 1): broadcasting would give (n, n)

    model = symnn.PhysicsResidual(Flat(), symnn.MLP(1, 1, hidden=(4,)))
    with pytest.raises(ValueError, match=r"baseline output \(5,\) and correction output \(5, 1\) must match"):
        model(torch.randn(5, 1))


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match=r"baseline must be a torch\.nn\.Module"):
        symnn.PhysicsResidual(lambda x: 2 * x, symnn.MLP(1, 1))
    with pytest.raises(TypeError, match=r"correction must be a torch\.nn\.Module"):
        symnn.PhysicsResidual(Hooke(), None)
    model = symnn.PhysicsResidual(Hooke(), symnn.MLP(1, 1, hidden=(4,)))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        model([1.0])
    with pytest.raises(ValueError, match=r"\(\.\.\., 1\); got \(3, 2\)"):
        model(torch.ones(3, 2))


def test_repr_shows_the_settings():
    text = repr(symnn.PhysicsResidual(Hooke(), symnn.MLP(1, 1), train_baseline=False))
    assert "train_baseline=False" in text and "(baseline): Hooke()" in text


def test_physics_residual_states_the_symmetry_both_parts_share():
    odd_sorted = symnn.Odd(symnn.PermutationSort(symnn.MLP(3, 1)))
    model = symnn.PhysicsResidual(symnn.Odd(symnn.MLP(3, 1)), odd_sorted)
    assert repr(model.symmetry) == "Parity(sign=-1)"
    x = torch.randn(30, 3, dtype=torch.float64)
    assert symnn.testing.assert_equivariant(model.double(), x, rtol=0.0) == 0.0
    assert symnn.PhysicsResidual(symnn.MLP(3, 1), odd_sorted).symmetry is None
    assert symnn.MLP(3, 1).symmetry is None
