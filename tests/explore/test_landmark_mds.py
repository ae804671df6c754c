"""Landmark MDS and max-min landmarks."""

import numpy as np
import torch

from heatclust_core.explore.landmark_mds import landmark_gw_losses, landmark_mds
from heatclust_core.gw.engine import GWOptions, MetricMeasure


def _pairwise(points):
    return ((points[:, None] - points[None]) ** 2).sum(-1)


def test_landmark_mds_recovers_a_euclidean_configuration_up_to_rotation():
    points = np.random.default_rng(0).normal(size=(60, 3))
    landmarks = np.arange(0, 60, 6)
    squared = _pairwise(points)[:, landmarks]
    coords = landmark_mds(squared, landmarks, dims=10)
    assert coords.shape == (60, 3)  # the landmarks span three dimensions, no more
    np.testing.assert_allclose(_pairwise(coords), _pairwise(points), atol=1e-8)


def test_landmark_mds_keeps_the_largest_dimensions_first():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(40, 3)) * np.array([10.0, 1.0, 0.1])
    landmarks = np.arange(0, 40, 4)
    coords = landmark_mds(_pairwise(points)[:, landmarks], landmarks, dims=2)
    assert coords.shape == (40, 2)
    assert coords[:, 0].std() > 5 * coords[:, 1].std()


def _cloud(points):
    points = torch.as_tensor(points, dtype=torch.float64)
    distances = torch.cdist(points, points)
    return MetricMeasure(distances / distances.max(), torch.full((len(points),), 1 / len(points)))


def test_max_min_landmarks_reach_a_small_far_off_group():
    rng = np.random.default_rng(0)
    line = [_cloud(np.c_[np.arange(8.0), rng.normal(0, 0.05, 8)]) for _ in range(20)]
    square = [_cloud(rng.uniform(0, 1, (8, 2))) for _ in range(3)]
    losses, landmarks = landmark_gw_losses(line + square, 3, GWOptions(epsilon=0.01), "cpu", seed=0)
    assert losses.shape == (23, 3) and len(set(landmarks.tolist())) == 3
    assert any(index >= 20 for index in landmarks), "no landmark among the three squares"
    assert any(index < 20 for index in landmarks)
    assert (losses >= 0).all()
