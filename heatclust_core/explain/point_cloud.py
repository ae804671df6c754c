"""Relevance point clouds: the pixels that hold the top share of a heatmap's positive mass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.distance import pdist, squareform

from heatclust_core.errors import ConfigError
from heatclust_core.gw.engine import MetricMeasure


@dataclass(frozen=True)
class PointCloud:
    """coords: (n, 2) pixel (row, col); weights: (n,) relevance mass summing to 1."""

    coords: np.ndarray
    weights: np.ndarray

    @property
    def size(self) -> int:
        return len(self.weights)

    def distance_matrix(self) -> np.ndarray:
        """(n, n) Euclidean distances between the pixels, divided by their maximum."""
        distances = squareform(pdist(self.coords.astype(np.float64)))
        top = distances.max()
        return distances / top if top > 0 else distances

    def metric_measure(self, distance_dtype: torch.dtype = torch.float64) -> MetricMeasure:
        """The cloud as a GW space; `distance_dtype` of its (n, n) distances (the weights stay
        float64)."""
        distances = torch.from_numpy(self.distance_matrix()).to(distance_dtype)
        return MetricMeasure(distances, torch.from_numpy(self.weights))


def point_cloud(heatmap: np.ndarray, share: float = 0.99) -> PointCloud:
    """Keep pixels in descending positive relevance until their mass reaches `share` of the total.

    heatmap: (H, W). A heatmap with no positive relevance falls back to its absolute values.
    """
    if not 0 < share <= 1:
        raise ConfigError("relevance_share", f"must be in (0, 1], got {share}")
    mass = np.clip(heatmap, 0, None).astype(np.float64).ravel()
    if mass.sum() <= 0:
        mass = np.abs(heatmap).astype(np.float64).ravel()
    if mass.sum() <= 0:  # an all-zero heatmap: every pixel alike
        mass = np.ones_like(mass)
    order = np.argsort(-mass, kind="stable")
    cumulative = np.cumsum(mass[order])
    keep = int(np.searchsorted(cumulative, share * cumulative[-1] * (1 - 1e-12))) + 1
    chosen = order[:keep]
    chosen = chosen[mass[chosen] > 0] if (mass[chosen] > 0).any() else chosen
    rows, cols = np.unravel_index(chosen, heatmap.shape)
    weights = mass[chosen] / mass[chosen].sum()
    return PointCloud(np.stack([rows, cols], axis=1), weights)


def pooled_heatmaps(heatmaps: np.ndarray, pool: int) -> np.ndarray:
    """(N, H, W) -> (N, H/pool, W/pool): the relevance of each pool x pool block, the sum of its
    pixels' (LRP conserves relevance, so a block's sum is its relevance). pool 1: unchanged."""
    if pool == 1:
        return heatmaps
    n, height, width = heatmaps.shape
    rows, cols = height // pool, width // pool
    blocks = heatmaps[:, : rows * pool, : cols * pool].reshape(n, rows, pool, cols, pool)
    return blocks.sum(axis=(2, 4))
