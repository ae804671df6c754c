"""Clustering on raw pixels: flattened images -> PCA or FastICA (10 dims) -> k-means++."""

from __future__ import annotations

import numpy as np

from heatclust_core.detection.detectors.base import Detector, check_reducer, reduce_features


class RawClustering(Detector):
    name = "raw"

    def __init__(self, reducer: str = "pca", n_components: int = 10, **kwargs):
        super().__init__(**kwargs)
        check_reducer(reducer, n_components)
        self.reducer = reducer
        self.n_components = n_components

    def fit(self, images: np.ndarray, labels: np.ndarray) -> RawClustering:
        with self._timed("features"):
            flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
            reduced = reduce_features(flat, self.reducer, self.n_components, self.seed)
        self._cluster_vectors(reduced)
        return self
