"""Rotation's O(3) (parity) and Cartesian-tensor actions, against e3nn."""

from __future__ import annotations

import pytest
import torch

import symnn


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


def test_improper_sampling_gives_both_determinants(generator):
    rotations = symnn.Rotation("1o", "1o", improper=True).sample_rows(2000, generator)
    det = torch.linalg.det(rotations)
    torch.testing.assert_close(det.abs(), torch.ones_like(det), rtol=0, atol=1e-13)
    assert 0.45 < float((det < 0).double().mean()) < 0.55
    proper = symnn.Rotation("1o", "1o").sample_rows(200, generator)
    assert bool((torch.linalg.det(proper) > 0).all())


def test_parity_matches_e3nn_including_improper_elements(generator):
    from e3nn import o3

    irreps = o3.Irreps("0e + 0o + 1o + 1e + 2e + 2o + 3o")
    sym = symnn.Rotation(irreps, "0e", improper=True)
    x = torch.randn(4, irreps.dim, dtype=torch.float64)
    for R in [*sym.sample(6, generator), -torch.eye(3, dtype=torch.float64)]:
        expected = x @ irreps.D_from_matrix(R).T
        torch.testing.assert_close(sym.act_input(R, x), expected, rtol=0, atol=1e-5)


def test_inversion_flips_odd_irreps_only():
    sym = symnn.Rotation("1o + 1e + 0o + 0e + 2e", "0e")
    x = torch.randn(3, sym.irreps_in.dim, dtype=torch.float64)
    y = sym.act_input(-torch.eye(3, dtype=torch.float64), x)
    signs = torch.tensor([-1.0] * 3 + [1.0] * 3 + [-1.0, 1.0] + [1.0] * 5, dtype=torch.float64)
    torch.testing.assert_close(y, x * signs, rtol=0, atol=1e-14)


def test_o3_action_is_a_representation_to_rounding(generator):
    sym = symnn.Rotation("1e + 2o + 3e + 1o", "ijk=jik", improper=True)
    R1, R2 = sym.sample(2, generator)
    for act, dim in ((sym.act_input, sym.irreps_in.dim), (sym.act_output, 27)):
        x = torch.randn(5, dim, dtype=torch.float64)
        torch.testing.assert_close(act(R1 @ R2, x), act(R1, act(R2, x)), rtol=0, atol=1e-13)


@pytest.mark.parametrize("formula", ["ij", "ij=ji", "ij=-ji", "ijk=jik"])
def test_cartesian_tensor_matches_e3nn_cartesian_tensor(formula, generator):
    from e3nn.io import CartesianTensor

    sym = symnn.Rotation("1o", formula, improper=True)
    ct = CartesianTensor(formula)
    rank = len(formula.split("=")[0])
    assert sym.irreps_out.dim == 3**rank and str(sym.irreps_out.irreps) == str(ct)
    y = ct.to_cartesian(torch.randn(6, ct.dim, dtype=torch.float64)).reshape(6, -1)
    for R in sym.sample(3, generator):
        moved = sym.act_output(R, y)
        expected = ct.to_cartesian(ct.from_cartesian(y.reshape(6, *(3,) * rank)) @ ct.D_from_matrix(R).T)
        torch.testing.assert_close(moved.reshape(expected.shape), expected, rtol=0, atol=1e-5)


def test_rank_two_is_r_y_r_transpose(generator):
    sym = symnn.Rotation("ij", "ij=ji", improper=True)
    R = sym.sample(1, generator)[0]
    Y = torch.randn(4, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(
        sym.act_input(R, Y.reshape(4, 9)), (R @ Y @ R.T).reshape(4, 9), rtol=0, atol=1e-14
    )
    assert repr(sym) == 'Rotation("ij", "ij=ji", improper=True)'


def test_per_row_elements_broadcast_for_cartesian_and_irreps(generator):
    sym = symnn.Rotation("1e + 2e", "ij", improper=True)
    Rs = sym.sample_rows(7, generator)
    x = torch.randn(7, 8, dtype=torch.float64)
    y = torch.randn(7, 9, dtype=torch.float64)
    rowwise_x = torch.stack([sym.act_input(R, xi) for R, xi in zip(Rs, x)])
    rowwise_y = torch.stack([sym.act_output(R, yi) for R, yi in zip(Rs, y)])
    torch.testing.assert_close(sym.act_input(Rs, x), rowwise_x, rtol=0, atol=1e-14)
    torch.testing.assert_close(sym.act_output(Rs, y), rowwise_y, rtol=0, atol=1e-14)


def test_bad_specifications_and_widths_are_named():
    with pytest.raises(ValueError, match="Cartesian tensor formula"):
        symnn.Rotation("ij=jk", "0e")
    with pytest.raises(ValueError, match='"ij=ji" is stored flattened as 9 numbers'):
        symnn.Rotation("1o", "ij=ji").act_output(torch.eye(3, dtype=torch.float64), torch.zeros(2, 6))
    with pytest.raises(TypeError, match="improper must be a bool"):
        symnn.Rotation("1o", "1o", improper=1)
