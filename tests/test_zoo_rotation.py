"""The rotation problem: its heads and measures, and a quick run."""

import math

import pytest
import torch
from _zoo_quick import by_level, run_quick

import symnn
from zoo import rotation


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return by_level(run_quick("rotation", tmp_path_factory.mktemp("rotation")))


def test_gram_schmidt_head_outputs_rotations_in_float64():
    a = 10 * torch.randn(500, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    orthogonality, det = rotation.rotation_errors(rotation.GramSchmidt6D()(a))
    assert float(orthogonality.max()) < 1e-14 and float(det.max()) < 1e-14


def test_gram_schmidt_keeps_the_direction_of_the_first_vector():
    a = torch.tensor([[2.0, 0.0, 0.0, 1.0, 1.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(rotation.GramSchmidt6D()(a)[0], torch.eye(3, dtype=torch.float64))


def test_random_rotations_have_the_requested_angles():
    rotations = rotation.random_rotations(300, (90.0, 180.0), torch.Generator().manual_seed(1))
    angles = torch.rad2deg(symnn.functional.so3_log(rotations).norm(dim=-1))
    assert float(angles.min()) >= 90.0 - 1e-9 and float(angles.max()) <= 180.0 + 1e-9


def test_geodesic_angle_of_a_known_rotation_and_of_a_scaled_copy():
    true = symnn.functional.so3_exp(torch.tensor([[0.0, 0.0, math.radians(30)]], dtype=torch.float64))
    turned = symnn.functional.so3_exp(torch.tensor([[0.0, 0.0, math.radians(50)]], dtype=torch.float64))
    assert float(rotation.geodesic_angle_deg(turned, true)) == pytest.approx(20.0, abs=1e-9)
    # The raw head is judged by its nearest rotation: a uniformly scaled rotation is that rotation.
    assert float(rotation.geodesic_angle_deg(1.3 * true, true)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow
def test_quick_so3exp_and_gram_schmidt_output_rotations_and_the_raw_head_does_not(quick):
    for key, float32 in (("3", 2e-6), ("3g", 1e-5)):  # Gram-Schmidt: cancellation, see findings()
        errors, metrics = quick[key]["errors"], quick[key]["metrics"]
        assert errors["max ‖RᵀR − I‖ (float32)"] <= float32 and errors["max ‖det R − 1‖ (float32)"] <= float32
        assert metrics["max ‖RᵀR − I‖ (float64)"] <= 1e-12 and metrics["max ‖det R − 1‖ (float64)"] <= 1e-12
    raw = quick["0"]["metrics"]
    assert raw["arbitrary inputs: max ‖RᵀR − I‖ (float32)"] > 1e-2
    assert quick["0"]["errors"]["max ‖RᵀR − I‖ (float32)"] > 1e-3


@pytest.mark.slow
def test_quick_every_head_learns_in_distribution(quick):
    for key, level in quick.items():
        assert level["errors"]["angle ID (°, RMS)"] < 30.0, key
