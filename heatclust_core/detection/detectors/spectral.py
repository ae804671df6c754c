"""Spectral Signatures (Tran, Li and Madry 2018): outlier scores along the top singular vector.

The representations of one class are centred; each sample's score is its squared projection
onto the top right singular vector, and the `multiplier` x `expected_share` highest-scoring
samples are flagged. Same layer as Activation Clustering.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import silhouette_score

from heatclust_core.detection.detectors.activation import activations, check_layer
from heatclust_core.detection.detectors.base import Detector
from heatclust_core.detection.detectors.settings import DEFAULT_LAYER, SS_MULTIPLIER
from heatclust_core.errors import ConfigError
from heatclust_core.training.network import Classifier


def spectral_scores(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) representations -> (N,) squared projections of the centred rows on the top right
    singular vector, and (N, 2) projections on the top two (the picture's axes)."""
    centred = np.asarray(features, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    _, _, right = np.linalg.svd(centred, full_matrices=False)
    projections = centred @ right[:2].T
    if projections.shape[1] < 2:
        projections = np.pad(projections, ((0, 0), (0, 2 - projections.shape[1])))
    return projections[:, 0] ** 2, projections


def flag_highest(scores: np.ndarray, share: float) -> np.ndarray:
    """(N,) bool: the round(share x N) highest scores (ties broken by position)."""
    n_flag = min(len(scores), round(share * len(scores)))
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[np.argsort(-scores, kind="stable")[:n_flag]] = True
    return flagged


class SpectralSignature(Detector):
    """After fit, also scores_ (N,): the outlier scores; cluster 1 holds the flagged samples."""

    name = "ss"

    def __init__(
        self,
        model: Classifier,
        layer: str = DEFAULT_LAYER,
        expected_share: float = 0.33,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ):
        super().__init__(k=2, flag_rule="smaller", seed=seed)
        check_layer(model, layer)
        if not 0 < expected_share * SS_MULTIPLIER <= 1:
            raise ConfigError(
                "expected_share", f"must be in (0, {1 / SS_MULTIPLIER:.3f}], got {expected_share}"
            )
        self.model = model
        self.layer = layer
        self.expected_share = expected_share
        self.device = torch.device(device)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> SpectralSignature:
        with self._timed("features"):
            acts = activations(self.model, images, self.layer, self.device)
        with self._timed("clustering"):
            self.scores_, self.embedding_ = spectral_scores(acts)
            flagged = flag_highest(self.scores_, SS_MULTIPLIER * self.expected_share)
            labels_ = flagged.astype(np.int64)
            split = 0 < flagged.sum() < len(flagged)
            silhouette = float(silhouette_score(self.scores_[:, None], labels_)) if split else 0.0
        self.labels_ = labels_
        self.silhouette_ = silhouette
        self.k_ = 2
        self.silhouettes_ = {2: silhouette}
        self.flagged_clusters_ = [1] if flagged.any() else []
        self.is_poisoned_ = flagged
        return self
