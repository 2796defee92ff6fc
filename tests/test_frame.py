"""FrameAverage and frame_average: exact rotation equivariance for any backbone."""

from __future__ import annotations

import pytest
import torch

import symnn
from symnn.functional import cloud_frames, frame_average
from symnn.testing import equivariance_error

OUTPUTS = {"scalar": "0e", "vector": "1o", "matrix": "ij"}


def _model(sym: symnn.Rotation, dtype: torch.dtype, seed: int = 0, **kwargs) -> symnn.FrameAverage:
    torch.manual_seed(seed)
    net = symnn.MLP(sym.irreps_in.dim, sym.irreps_out.dim, hidden=(32, 32))
    return symnn.FrameAverage(net, sym, **kwargs).to(dtype)


def _clouds(n: int, width: int, dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


@pytest.mark.parametrize("improper", [False, True], ids=["SO3", "O3"])
@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize(
    ("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-5)], ids=["f64", "f32"]
)
def test_equivariant_on_1000_random_clouds(improper, output, dtype, tol):
    sym = symnn.Rotation("2x0e + 4x1o + 1x1e", OUTPUTS[output], improper=improper)
    model = _model(sym, dtype)
    x = _clouds(1000, sym.irreps_in.dim, dtype)
    gen = torch.Generator().manual_seed(2)
    err = equivariance_error(model, sym, x, n_elements=4, generator=gen)
    assert err <= tol


@pytest.mark.parametrize("output", ["0e", "ij=ji"])
def test_o3_model_is_equivariant_under_reflections_specifically(output):
    sym = symnn.Rotation("5x0e + 5x1o", output, improper=True)
    model = _model(sym, torch.float64)
    x = _clouds(200, 20, torch.float64)
    reflections = [
        -torch.eye(3, dtype=torch.float64),
        torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)),
    ]
    assert equivariance_error(model, sym, x, elements=reflections) <= 1e-12


def test_so3_model_is_not_reflection_equivariant_so_the_check_can_fail():
    proper = symnn.Rotation("3x1o", "1e")
    model = _model(proper, torch.float64)
    x = _clouds(50, 9, torch.float64)
    mirror = [torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))]
    assert equivariance_error(model, proper, x, elements=mirror) > 1e-3
    # and the raw backbone is far from equivariant under rotations
    assert equivariance_error(model.net, proper, x) > 1e-2


def test_translation_invariance_with_center():
    sym = symnn.Rotation("3x0e + 3x1o + 1x1e", "1o")
    model = _model(sym, torch.float64, center=True)
    x = _clouds(100, sym.irreps_in.dim, torch.float64)
    shift = torch.randn(3, dtype=torch.float64)
    moved = x.clone()
    moved[:, 3:12] += shift.repeat(3)  # the 1o block moves; scalars and the 1e block do not
    torch.testing.assert_close(model(moved), model(x), rtol=0, atol=1e-12)
    assert equivariance_error(model, sym, x) <= 1e-12
    # without centring the output does change
    plain = _model(sym, torch.float64)
    assert (plain(moved) - plain(x)).abs().max() > 1e-3


def test_batched_and_per_frame_calls_agree():
    sym = symnn.Rotation("2x0e + 3x1o", "ij", improper=True)
    model = _model(sym, torch.float64)
    x = _clouds(64, sym.irreps_in.dim, torch.float64)
    looped = frame_average(model.net, x, sym, batch_frames=False)
    torch.testing.assert_close(model(x), looped, rtol=0, atol=1e-13)


def test_any_leading_batch_shape():
    sym = symnn.Rotation("3x1o", "1o")
    model = _model(sym, torch.float64)
    x = _clouds(12, 9, torch.float64).reshape(3, 4, 9)
    torch.testing.assert_close(model(x), model(x.reshape(12, 9)).reshape(3, 4, 3), rtol=0, atol=1e-14)
    assert model(x[0, 0]).shape == (3,)


def test_gradcheck_and_gradgradcheck():
    sym = symnn.Rotation("1x0e + 3x1o", "ij=ji", improper=True)
    torch.manual_seed(0)
    model = symnn.FrameAverage(symnn.MLP(10, 9, hidden=(8,)), sym).double()
    x = _clouds(3, 10, torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(model, (x,))
    assert torch.autograd.gradgradcheck(model, (x,))


def _degenerate_clouds() -> dict[str, torch.Tensor]:
    """Three vectors (9 numbers) whose second moment has tied eigenvalues."""
    c, s = 3**0.5 / 2, 0.5
    return {
        "equilateral triangle (two tied eigenvalues)": torch.tensor([[1.0, 0, 0, -s, c, 0, -s, -c, 0]]),
        "collinear": torch.tensor([[1.0, 2, 3, -2, -4, -6, 0.5, 1, 1.5]]),
        "single nonzero vector": torch.tensor([[0.0, 0, 0, 0.3, -1, 2, 0, 0, 0]]),
        "zero cloud": torch.zeros(1, 9),
        "orthonormal (all tied)": torch.eye(3).reshape(1, 9),
    }


@pytest.mark.parametrize("output", ["0e", "1o", "ij"])
@pytest.mark.parametrize("case", sorted(_degenerate_clouds()))
def test_degenerate_clouds_give_finite_values_and_gradients(case, output):
    sym = symnn.Rotation("3x1o", output)
    model = _model(sym, torch.float64)
    x = _degenerate_clouds()[case].double().requires_grad_(True)
    y = model(x)
    assert torch.isfinite(y).all()
    (grad,) = torch.autograd.grad(y.square().sum(), x)
    assert torch.isfinite(grad).all()
    # the error there is not small in general; it is measured (and finite)
    err = equivariance_error(model, sym, x.detach(), n_elements=16)
    assert err == err and err < float("inf")


def test_degenerate_errors_are_what_the_docstring_says():
    """Exact where the docstring says exact (collinear, zero cloud), and not at a genuine tie."""
    clouds = {k: v.double() for k, v in _degenerate_clouds().items()}
    for out in ("0e", "1o"):
        model = _model(symnn.Rotation("3x1o", out), torch.float64)
        for case in ("collinear", "single nonzero vector", "zero cloud"):
            assert equivariance_error(model, model.sym, clouds[case], n_elements=16) <= 1e-12
    vec = _model(symnn.Rotation("3x1o", "1o"), torch.float64)
    assert vec(clouds["zero cloud"]).abs().max() == 0
    mat = _model(symnn.Rotation("3x1o", "ij"), torch.float64)
    for case in ("collinear", "zero cloud", "orthonormal (all tied)"):
        assert equivariance_error(mat, mat.sym, clouds[case], n_elements=16) > 1e-2
    tie = torch.tensor([[1.0, 0, 0, 0, 1, 0, 0, 0, 2]], dtype=torch.float64)
    assert equivariance_error(vec, vec.sym, tie, n_elements=16) > 1e-2


def test_nan_in_gives_nan_out():
    sym = symnn.Rotation("1x0e + 2x1o", "1o")
    model = _model(sym, torch.float64)
    x = _clouds(2, 7, torch.float64)
    x[0, 3] = float("nan")
    y = model(x)
    assert torch.isnan(y[0]).all() and torch.isfinite(y[1]).all()


def test_cloud_frames_are_orthogonal_and_move_with_the_cloud():
    v = torch.randn(50, 4, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sym = symnn.Rotation("1o", "1o", improper=True)
    R = sym.sample(1, torch.Generator().manual_seed(4))[0]
    for improper, m in [(False, 4), (True, 8)]:
        frames = cloud_frames(v, improper=improper)
        assert frames.shape == (m, 50, 3, 3)
        eye = torch.eye(3, dtype=torch.float64).expand_as(frames)
        torch.testing.assert_close(frames.transpose(-1, -2) @ frames, eye, rtol=0, atol=1e-13)
        moved = cloud_frames(v @ R.T, improper=improper)
        # as sets: each moved frame equals R F for some frame F of v
        target = R @ frames  # (m, 50, 3, 3)
        gap = (moved.unsqueeze(1) - target.unsqueeze(0)).abs().amax(dim=(-1, -2))  # (m, m, 50)
        if improper or torch.linalg.det(R) > 0:
            assert gap.amin(dim=1).max() < 1e-10


def test_rotation_whose_irreps_do_not_match_the_input_width():
    model = _model(symnn.Rotation("3x1o", "0e"), torch.float64)
    with pytest.raises(ValueError, match=r'"3x1o", 9 numbers wide; got x of shape \(2, 10\)'):
        model(torch.zeros(2, 10, dtype=torch.float64))


def test_net_whose_output_does_not_fit_irreps_out():
    sym = symnn.Rotation("3x1o", "ij=ji")
    model = symnn.FrameAverage(symnn.MLP(9, 6), sym).double()
    with pytest.raises(ValueError, match=r'"ij=ji", 9 numbers wide, but the network returned shape \(5, 6\)'):
        model(torch.randn(5, 9, dtype=torch.float64))


def test_cloud_with_no_vector_part():
    with pytest.raises(ValueError, match="no vector part"):
        symnn.FrameAverage(symnn.MLP(6, 1), symnn.Rotation("1x0e + 1x2e", "0e"))
    with pytest.raises(ValueError, match="no vector part"):
        frame_average(lambda x: x, torch.zeros(2, 9), symnn.Rotation("ij", "ij"))
    with pytest.raises(ValueError, match="polar vectors"):
        symnn.FrameAverage(symnn.MLP(3, 1), symnn.Rotation("1e", "0e"), center=True)(torch.ones(2, 3))


def test_rejects_other_symmetries_and_non_modules():
    with pytest.raises(TypeError, match="Rotation"):
        symnn.FrameAverage(symnn.MLP(3, 1), symnn.Parity(-1))
    with pytest.raises(TypeError, match=r"nn\.Module"):
        symnn.FrameAverage(lambda x: x, symnn.Rotation("1o", "1o"))


def test_symmetry_property_and_repr():
    sym = symnn.Rotation("2x1o", "0e", improper=True)
    model = symnn.FrameAverage(symnn.MLP(6, 1), sym)
    assert model.symmetry is sym
    assert "frames=8" in repr(model)


def test_dtype_follows_input():
    sym = symnn.Rotation("2x1o", "1o")
    model = _model(sym, torch.float32)
    assert model(torch.randn(3, 6)).dtype == torch.float32
