"""Observation bias: augment, RandomAction, AugmentedDataset."""

import pytest
import torch

import symnn

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-14)}


def heron(x):
    a, b, c = x.unbind(-1)
    s = (a + b + c) / 2
    return torch.sqrt((s * (s - a) * (s - b) * (s - c)).clamp_min(0)).unsqueeze(-1)


def triangles(n, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (0.2 + 0.8 * torch.rand(n, 3, generator=g, dtype=torch.float64)).to(dtype)
    return x, heron(x)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


class TimeReversal(symnn.Symmetry):
    """A user-defined symmetry without sample_rows: reverses x, negates y."""

    is_finite = True

    def elements(self):
        return [False, True]

    def sample(self, n, generator=None):
        return [bool(b) for b in torch.rand(n, generator=generator) < 0.5]

    def inverse(self, g):
        return g

    def act_input(self, g, x):
        return x.flip(-1) if g else x

    def act_output(self, g, y):
        return -y if g else y


@pytest.mark.parametrize("dtype", DTYPES)
def test_permutation_orbit_gives_six_copies_with_unchanged_targets(dtype):
    x, y = triangles(10, dtype)
    sym = symnn.Permutation(3)
    x_aug, y_aug = symnn.augment(x, y, sym)
    assert x_aug.shape == (60, 3) and y_aug.shape == (60, 1)
    assert x_aug.dtype == dtype and y_aug.dtype == dtype
    copies = x_aug.view(6, 10, 3)
    assert torch.equal(copies[0], x)  # the identity's copy is the original
    for c, p in enumerate(sym.elements()):
        assert torch.equal(copies[c], x[:, p])
    assert torch.equal(y_aug.view(6, 10, 1), y.expand(6, 10, 1))
    # The six copies of a sample are its six distinct orderings.
    assert len({tuple(copies[c, 0].tolist()) for c in range(6)}) == 6


@pytest.mark.parametrize("dtype", DTYPES)
def test_scaling_copies_scale_targets_by_s_squared_with_one_scale_per_row(dtype):
    x, y = triangles(50, dtype)
    x_aug, y_aug = symnn.augment(x, y, symnn.Scaling(degree=2), copies=2, generator=gen())
    assert x_aug.shape == (150, 3) and y_aug.shape == (150, 1)
    assert torch.equal(x_aug[:50], x) and torch.equal(y_aug[:50], y)
    s = (x_aug[50:] / x.repeat(2, 1)).to(torch.float64)
    torch.testing.assert_close(s, s[:, :1].expand(-1, 3), **TOL[dtype])  # one scale per row
    torch.testing.assert_close(y_aug[50:].to(torch.float64), y.repeat(2, 1) * s[:, :1] ** 2, **TOL[dtype])
    assert s[:, 0].unique().numel() == 100  # a fresh scale for every row of every copy
    assert bool(((s >= 0.5 - 1e-6) & (s <= 2.0 + 1e-6)).all())


@pytest.mark.parametrize("dtype", DTYPES)
def test_lecture_level_one_is_seven_times_the_data(dtype):
    x, y = triangles(20, dtype)
    level1 = [symnn.Permutation(3), (symnn.Scaling(degree=2), 1)]
    x7, y7 = symnn.augment(x, y, level1, generator=gen())
    assert x7.shape == (140, 3) and y7.shape == (140, 1)
    blocks_x, blocks_y = x7.view(7, 20, 3), y7.view(7, 20, 1)
    for c, p in enumerate(symnn.Permutation(3).elements()):
        assert torch.equal(blocks_x[c], x[:, p])
        assert torch.equal(blocks_y[c], y)
    s = blocks_x[6, :, :1] / x[:, :1]
    torch.testing.assert_close(blocks_x[6], s * x, **TOL[dtype])
    torch.testing.assert_close(blocks_y[6], s**2 * y, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_product_symmetry_permutes_and_scales_each_copy(dtype):
    x, y = triangles(30, dtype)
    sym = symnn.Permutation(3) * symnn.Scaling(degree=2)
    x_aug, y_aug = symnn.augment(x, y, sym, copies=3, generator=gen(1), include_original=False)
    assert x_aug.shape == (90, 3)
    x_rep, y_rep = x.repeat(3, 1), y.repeat(3, 1)
    # Sorted rows are permutation-free: they differ by the scale alone.
    s = x_aug.sum(-1, keepdim=True) / x_rep.sum(-1, keepdim=True)
    torch.testing.assert_close(x_aug.sort(-1).values, s * x_rep.sort(-1).values, **TOL[dtype])
    torch.testing.assert_close(y_aug, s**2 * y_rep, **TOL[dtype])
    assert not torch.equal(x_aug.sort(-1).values, x_aug)  # some rows really are permuted


def test_orbit_of_a_product_of_finite_groups_lists_every_pair():
    x, y = triangles(4, torch.float64)
    sym = symnn.Permutation(3) * symnn.Parity(-1)
    x_aug, y_aug = symnn.augment(x, y, sym)
    assert x_aug.shape == (48, 3)
    assert torch.equal(x_aug[:4], x) and torch.equal(y_aug[:4], y)
    assert torch.equal(y_aug.view(12, 4, 1).abs(), y.abs().expand(12, 4, 1))


def test_include_original_false_drops_the_identity_copy():
    x, y = triangles(5, torch.float64)
    x_aug, _ = symnn.augment(x, y, symnn.Permutation(3), include_original=False)
    assert x_aug.shape == (25, 3)
    assert not any(torch.equal(block, x) for block in x_aug.view(5, 5, 3))
    x_k, _ = symnn.augment(x, y, symnn.Scaling(2), copies=4, include_original=False, generator=gen())
    assert x_k.shape == (20, 3)


def test_user_symmetry_without_row_sampling_gets_one_element_per_copy():
    x = torch.arange(12.0).reshape(4, 3)
    y = torch.arange(4.0).unsqueeze(-1) + 1
    x_aug, y_aug = symnn.augment(x, y, TimeReversal(), copies=8, generator=gen(2))
    assert x_aug.shape == (36, 3)
    for xb, yb in zip(x_aug.view(9, 4, 3)[1:], y_aug.view(9, 4, 1)[1:]):
        flipped = torch.equal(xb, x.flip(-1))
        assert flipped or torch.equal(xb, x)
        assert torch.equal(yb, -y if flipped else y)
    x_orbit, y_orbit = symnn.augment(x, y, TimeReversal())
    assert torch.equal(x_orbit, torch.cat([x, x.flip(-1)]))
    assert torch.equal(y_orbit, torch.cat([y, -y]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_per_row_elements_on_one_dimensional_targets_stay_one_per_row(dtype):
    # Regression: a per-row scale times a (N,) target would broadcast to an (N, N) table.
    x, y = triangles(6, dtype)
    y = y.squeeze(-1)
    x_aug, y_aug = symnn.augment(x, y, symnn.Scaling(degree=2), copies=1, generator=gen())
    assert y_aug.shape == (12,)
    s = x_aug[6:, 0] / x[:, 0]
    torch.testing.assert_close(y_aug[6:], s**2 * y, **TOL[dtype])


def test_rotation_augmentation_keeps_lengths_and_invariant_targets():
    x = torch.randn(8, 3, dtype=torch.float64, generator=gen())
    y = x.norm(dim=-1, keepdim=True)
    x_aug, y_aug = symnn.augment(x, y, symnn.Rotation("1o", "0e"), copies=2, generator=gen(1))
    torch.testing.assert_close(x_aug.norm(dim=-1, keepdim=True), y_aug, rtol=1e-12, atol=0)
    assert not torch.allclose(x_aug[8:], x.repeat(2, 1))


def test_targets_are_optional():
    x, _ = triangles(3, torch.float64)
    x_aug, y_aug = symnn.augment(x, None, symnn.Permutation(3))
    assert x_aug.shape == (18, 3) and y_aug is None


def test_same_seed_same_copies():
    x, y = triangles(5, torch.float64)
    sym = symnn.Permutation(3) * symnn.Scaling(1)
    a = symnn.augment(x, y, sym, copies=2, generator=gen(7))
    b = symnn.augment(x, y, sym, copies=2, generator=gen(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# --------------------------------------------------------------------------- bad input


def test_a_symmetry_that_does_not_fit_x_is_named():
    x, y = triangles(5, torch.float64)
    with pytest.raises(ValueError, match=r"Permutation\(4\).*shape \(5, 3\)"):
        symnn.augment(x, y, symnn.Permutation(4))


def test_an_action_that_changes_the_shape_is_refused():
    class Truncate(TimeReversal):
        def act_input(self, g, x):
            return x[..., :2] if g else x

    x, y = triangles(5, torch.float64)
    with pytest.raises(ValueError, match="does not fit x"):
        symnn.augment(x, y, Truncate())


def test_targets_without_one_row_per_sample_are_refused():
    x, y = triangles(5, torch.float64)
    with pytest.raises(ValueError, match=r"y must have one row per sample.*\(5, \.\.\.\); got \(4, 1\)"):
        symnn.augment(x, y[:4], symnn.Permutation(3))


def test_an_output_action_that_does_not_fit_y_is_named():
    x, _ = triangles(5, torch.float64)
    y = torch.zeros(5, 2)
    with pytest.raises(ValueError, match=r"cannot act on y of shape \(5, 2\)"):
        symnn.augment(x, y, symnn.Permutation(3, equivariant=True))


@pytest.mark.parametrize("sym", [symnn.Scaling(2), symnn.Permutation(3) * symnn.Scaling(2)], ids=repr)
def test_orbit_of_an_infinite_group_is_a_clear_error(sym):
    x, y = triangles(5, torch.float64)
    with pytest.raises(symnn.InfiniteGroupError, match=r"infinite.*copies=k"):
        symnn.augment(x, y, sym, copies="orbit")


@pytest.mark.parametrize("copies", [0, -1, 1.5, True, "all"])
def test_bad_copies_are_refused(copies):
    x, y = triangles(5, torch.float64)
    with pytest.raises(ValueError, match="copies"):
        symnn.augment(x, y, symnn.Scaling(2), copies=copies)


def test_bad_symmetry_arguments_are_refused():
    x, y = triangles(5, torch.float64)
    with pytest.raises(TypeError, match="Symmetry"):
        symnn.augment(x, y, "permutation")
    with pytest.raises(TypeError, match="Symmetry"):
        symnn.augment(x, y, [symnn.Permutation(3), ("scaling", 1)])
    with pytest.raises(ValueError, match=r"shape \(N, d\)"):
        symnn.augment(x[:, 0], y, symnn.Parity())


# --------------------------------------------------------------------------- online


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_action_draws_a_fresh_element_per_row_and_per_call(dtype):
    x, y = triangles(200, dtype)
    act = symnn.RandomAction(symnn.Permutation(3) * symnn.Scaling(2), generator=gen())
    gx, gy = act(x, y)
    s = gx.sum(-1, keepdim=True) / x.sum(-1, keepdim=True)
    torch.testing.assert_close(gx.sort(-1).values, s * x.sort(-1).values, **TOL[dtype])
    torch.testing.assert_close(gy, s**2 * y, **TOL[dtype])
    assert s.unique().numel() == 200
    gx2, _ = act(x, y)
    assert not torch.equal(gx, gx2)


def test_random_action_on_inputs_alone_and_on_one_sample():
    act = symnn.RandomAction(symnn.Parity(-1), generator=gen())
    x = torch.arange(1.0, 101.0).unsqueeze(-1)
    gx = act(x)
    assert isinstance(gx, torch.Tensor) and torch.equal(gx.abs(), x)
    assert 0 < int((gx < 0).sum()) < 100  # row by row, not one sign for all
    one_x, one_y = act(torch.tensor([2.0]), torch.tensor(5.0))
    assert one_y.shape == () and torch.equal(one_y, 2.5 * one_x[0])


def test_random_action_falls_back_to_one_element_for_a_user_symmetry():
    act = symnn.RandomAction(TimeReversal(), generator=gen())
    x, y = torch.arange(6.0).reshape(2, 3), torch.ones(2, 1)
    gx, gy = act(x, y)
    assert (torch.equal(gx, x) and torch.equal(gy, y)) or (
        torch.equal(gx, x.flip(-1)) and torch.equal(gy, -y)
    )


def test_random_action_refuses_targets_of_another_batch():
    act = symnn.RandomAction(symnn.Parity(-1))
    with pytest.raises(ValueError, match="one row per row of x"):
        act(torch.ones(4, 1), torch.ones(3, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_augmented_dataset_transforms_each_item_afresh(dtype):
    x, y = triangles(64, dtype)
    data = symnn.AugmentedDataset((x, y), symnn.Scaling(degree=2), generator=gen())
    assert len(data) == 64
    x0, y0 = data[0]
    s = x0[0] / x[0, 0]
    torch.testing.assert_close(x0, s * x[0], **TOL[dtype])
    torch.testing.assert_close(y0, s**2 * y[0], **TOL[dtype])
    assert not torch.equal(data[0][0], x0)
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=False)
    batches = list(loader)
    assert len(batches) == 4
    xb, yb = batches[0]
    assert xb.shape == (16, 3) and yb.shape == (16, 1) and xb.dtype == dtype
    s = xb[:, :1] / x[:16, :1]
    torch.testing.assert_close(yb, s**2 * y[:16], **TOL[dtype])
    assert s.unique().numel() == 16


def test_augmented_dataset_wraps_any_dataset():
    x, y = triangles(10, torch.float64)
    base = torch.utils.data.TensorDataset(x, y)
    data = symnn.AugmentedDataset(base, symnn.Permutation(3), generator=gen())
    xb, yb = next(iter(torch.utils.data.DataLoader(data, batch_size=10)))
    assert torch.equal(xb.sort(-1).values, x.sort(-1).values)
    assert torch.equal(yb, y)
    with pytest.raises(TypeError, match="Dataset or a pair"):
        symnn.AugmentedDataset(x, symnn.Permutation(3))
    with pytest.raises(ValueError, match="one row per sample"):
        symnn.AugmentedDataset((x, y[:3]), symnn.Permutation(3))
