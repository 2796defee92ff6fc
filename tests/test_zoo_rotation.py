"""The rotation problem: its heads and measures, and a quick run."""

import math

import pytest
import torch
from _zoo_quick import assert_quick_findings_hold, run_quick

import symnn
from symnn_zoo import rotation


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return run_quick("rotation", tmp_path_factory.mktemp("rotation"))


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
def test_quick_findings_hold(quick):
    assert_quick_findings_hold(quick)
    angles = [c for c in quick["columns"] if c["test_set"] is not None]
    assert [c["in_distribution"] for c in angles] == [True, False]
