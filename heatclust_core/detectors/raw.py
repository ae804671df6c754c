"""Clustering on raw pixels: flattened images -> PCA or FastICA (10 dims) -> k-means++."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA, FastICA

from heatclust_core.detectors.base import Detector
from heatclust_core.errors import ConfigError


class RawClustering(Detector):
    name = "raw"

    def __init__(self, reducer: str = "pca", n_components: int = 10, **kwargs):
        super().__init__(**kwargs)
        if reducer not in ("pca", "ica"):
            raise ConfigError("reducer", f"must be 'pca' or 'ica', got {reducer!r}")
        if n_components < 1:
            raise ConfigError("n_components", f"must be >= 1, got {n_components}")
        self.reducer = reducer
        self.n_components = n_components

    def fit(self, images: np.ndarray, labels: np.ndarray) -> RawClustering:
        with self._timed("features"):
            flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
            n = min(self.n_components, *flat.shape)
            if self.reducer == "pca":
                reduced = PCA(n_components=n, random_state=self.seed).fit_transform(flat)
            else:
                reduced = FastICA(
                    n_components=n, random_state=self.seed, max_iter=500
                ).fit_transform(flat)
        self._cluster_vectors(reduced)
        return self
