"""The contract every detector follows, and the shared k-means step of the vector detectors."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import contextmanager

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from heatclust_core.detectors.flagging import FLAG_RULES, flag_clusters
from heatclust_core.errors import ConfigError


class Detector(ABC):
    """Configure in __init__, then fit(images, labels) on the samples of one class.

    After fit: labels_ (N,) cluster ids, flagged_clusters_ (ids called poisoned),
    is_poisoned_ (N,) bool, silhouette_ (float), embedding_ (N, 2) for plots, and
    seconds_ {"features": s, "clustering": s} wall times per stage.
    """

    name: str = "detector"

    def __init__(self, k: int = 2, flag_rule: str = "smaller", seed: int = 0):
        if k < 2:
            raise ConfigError("k", f"must be >= 2, got {k}")
        if flag_rule not in FLAG_RULES:
            raise ConfigError(
                "flag_rule", f"must be one of {', '.join(FLAG_RULES)}, got {flag_rule!r}"
            )
        self.k = k
        self.flag_rule = flag_rule
        self.seed = seed
        self.seconds_: dict[str, float] = {}

    @contextmanager
    def _timed(self, stage: str):
        started = time.perf_counter()
        yield
        self.seconds_[stage] = self.seconds_.get(stage, 0.0) + time.perf_counter() - started

    @abstractmethod
    def fit(self, images: np.ndarray, labels: np.ndarray) -> Detector:
        """images: (N, H, W, 3) uint8 of one class; labels: (N,) their (possibly poisoned) labels."""

    def predict(self) -> np.ndarray:
        """(N,) bool: True for samples in a flagged cluster."""
        return self.is_poisoned_

    def fit_predict(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return self.fit(images, labels).predict()

    def _cluster_vectors(self, reduced: np.ndarray) -> None:
        """The clustering stage of the vector detectors (raw, AC) on (N, d) reduced features."""
        with self._timed("clustering"):
            labels, silhouette = kmeans_with_silhouette(reduced, self.k, self.seed)
        self.features_ = reduced
        self.embedding_ = reduced[:, :2]
        self._finish(labels, silhouette)

    def _finish(self, labels: np.ndarray, silhouette: float) -> None:
        self.labels_ = labels
        self.silhouette_ = silhouette
        self.flagged_clusters_ = flag_clusters(labels, self.k, self.flag_rule, silhouette)
        self.is_poisoned_ = np.isin(labels, self.flagged_clusters_)


def kmeans_with_silhouette(features: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, float]:
    """k-means++ (scikit-learn, 10 restarts) on (N, d) features; returns labels and silhouette."""
    labels = KMeans(n_clusters=k, init="k-means++", n_init=10, random_state=seed).fit_predict(
        features
    )
    silhouette = float(silhouette_score(features, labels)) if len(np.unique(labels)) > 1 else 0.0
    return labels, silhouette
