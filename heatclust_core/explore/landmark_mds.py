"""Landmark MDS of Gromov-Wasserstein distances: a whole class in N x L solves, not N^2 / 2.

de Silva and Tenenbaum, "Sparse multidimensional scaling using landmark points" (2004):
classical MDS of the L landmarks' distance matrix, then every sample is placed by its
distances to the landmarks (a distance-based triangulation). Landmarks are chosen max-min
(each new one the sample farthest from those chosen), which reaches a small far-off cluster
(the poisons) that a random draw of a few landmarks can miss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from heatclust_core.gw.engine import GWOptions, MetricMeasure, gromov_wasserstein
from heatclust_core.progress import Progress, silent


def landmark_gw_losses(
    spaces: Sequence[MetricMeasure],
    n_landmarks: int,
    options: GWOptions,
    device: torch.device | str,
    seed: int = 0,
    progress: Progress = silent,
) -> tuple[np.ndarray, np.ndarray]:
    """(N, L) GW losses of every space to each landmark, and the (L,) landmark indices.

    The first landmark is a seeded draw; each next one maximises the loss to its nearest
    chosen landmark. One batched solve of N pairs per landmark."""
    n = len(spaces)
    count = min(n_landmarks, n)
    rng = np.random.default_rng(seed)
    landmarks = [int(rng.integers(n))]
    losses = np.zeros((n, count))
    nearest = np.full(n, np.inf)
    for column in range(count):
        landmark = spaces[landmarks[column]]
        values = gromov_wasserstein([(space, landmark) for space in spaces], options, device).values
        losses[:, column] = np.clip(values.numpy(), 0.0, None)
        nearest = np.minimum(nearest, losses[:, column])
        nearest[landmarks] = -np.inf
        progress("embedding", (column + 1) / count, f"GW to landmark {column + 1} of {count}")
        if column + 1 < count:
            landmarks.append(int(np.argmax(nearest)))
    return losses, np.asarray(landmarks)


def landmark_mds(
    squared_distances: np.ndarray, landmarks: np.ndarray, dims: int = 10
) -> np.ndarray:
    """(N, d) coordinates from (N, L) squared distances to the landmarks (rows `landmarks` are
    the landmarks themselves); d <= dims, fewer when the landmarks span fewer dimensions."""
    among = squared_distances[landmarks]
    among = 0.5 * (among + among.T)
    np.fill_diagonal(among, 0.0)
    count = len(landmarks)
    centring = np.eye(count) - 1.0 / count
    eigenvalues, eigenvectors = np.linalg.eigh(-0.5 * centring @ among @ centring)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    keep = max(1, min(dims, int(np.sum(eigenvalues > 1e-12 * max(eigenvalues[0], 1e-300)))))
    # Triangulation: x = -1/2 L# (delta - mean delta), L# the pseudo-inverse of the landmarks'
    # coordinates (columns scaled by 1 / sqrt(eigenvalue)).
    pseudo_inverse = eigenvectors[:, :keep] / np.sqrt(np.maximum(eigenvalues[:keep], 1e-300))
    return -0.5 * (squared_distances - among.mean(axis=1)) @ pseudo_inverse
