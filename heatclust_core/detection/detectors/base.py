"""The contract every detector follows, and the shared k-means step of the vector detectors."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import contextmanager

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA, FastICA
from sklearn.metrics import silhouette_score

from heatclust_core.detection.detectors.flagging import FLAG_RULES, candidate_ks, flag_clusters
from heatclust_core.detection.detectors.settings import REDUCERS
from heatclust_core.errors import ConfigError


class Detector(ABC):
    """Configure in __init__, then fit(images, labels) on the samples of one class.

    After fit: labels_ (N,) cluster ids, k_ the number of clusters kept (k, or the one chosen
    by silhouette among 2..k), silhouettes_ {k: silhouette} of every k fitted,
    flagged_clusters_ (ids called poisoned), is_poisoned_ (N,) bool, silhouette_ (float, the
    kept clustering's), embedding_ (N, 2) for plots, and seconds_ {"features": s,
    "clustering": s} wall times per stage.
    """

    name: str = "detector"

    def __init__(
        self, k: int = 2, flag_rule: str = "smaller", seed: int = 0, k_selection: str = "fixed"
    ):
        if k < 2:
            raise ConfigError("k", f"must be >= 2, got {k}")
        if flag_rule not in FLAG_RULES:
            raise ConfigError(
                "flag_rule", f"must be one of {', '.join(FLAG_RULES)}, got {flag_rule!r}"
            )
        self.k = k
        self.candidate_ks = candidate_ks(k, k_selection)
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
            fits = {k: kmeans_with_silhouette(reduced, k, self.seed) for k in self.candidate_ks}
        self.features_ = reduced
        self.embedding_ = reduced[:, :2]
        self._finish(fits)

    def _finish(self, fits: dict[int, tuple[np.ndarray, float]]) -> int:
        """Keep the fit {k: (labels, silhouette)} of highest silhouette (on a tie the smaller
        k) and flag its clusters; returns the k kept."""
        self.silhouettes_ = {k: silhouette for k, (_, silhouette) in fits.items()}
        self.k_ = max(fits, key=lambda k: (fits[k][1], -k))
        self.labels_, self.silhouette_ = fits[self.k_]
        self.flagged_clusters_ = flag_clusters(
            self.labels_, self.k_, self.flag_rule, self.silhouette_
        )
        self.is_poisoned_ = np.isin(self.labels_, self.flagged_clusters_)
        return self.k_


def kmeans_with_silhouette(features: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, float]:
    """k-means++ (scikit-learn, 10 restarts) on (N, d) features; returns labels and silhouette."""
    labels = KMeans(n_clusters=k, init="k-means++", n_init=10, random_state=seed).fit_predict(
        features
    )
    silhouette = float(silhouette_score(features, labels)) if len(np.unique(labels)) > 1 else 0.0
    return labels, silhouette


def check_reducer(reducer: str, n_components: int) -> None:
    if reducer not in REDUCERS:
        raise ConfigError("reducer", f"must be one of {', '.join(REDUCERS)}, got {reducer!r}")
    if n_components < 1:
        raise ConfigError("n_components", f"must be >= 1, got {n_components}")


def reduce_features(features: np.ndarray, reducer: str, n_components: int, seed: int) -> np.ndarray:
    """(N, D) features -> (N, n) by PCA or FastICA, n = min(n_components, rank).

    Constant columns (dead ReLU units, flat pixels) are dropped first and n is capped at the
    rank of the centred features: FastICA whitens by dividing by the singular values, so a
    zero one turns every component into NaN."""
    features = np.asarray(features, dtype=np.float64)
    spread = features.max(axis=0) - features.min(axis=0)
    varying = features[:, spread > 1e-12 * max(1.0, float(np.abs(features).max(initial=0)))]
    if varying.shape[1] == 0 or len(varying) < 2:
        # Nothing varies: every sample is alike, and one zero component says so.
        return np.zeros((len(features), 1))
    # One PCA gives both the components and, from their singular values, the rank among them.
    pca = PCA(n_components=min(n_components, *varying.shape), random_state=seed)
    projected = pca.fit_transform(varying)
    singular = pca.singular_values_
    rank = max(1, int(np.sum(singular > singular[0] * 1e-7)))
    if reducer == "pca":
        return projected[:, :rank]
    # ART's FastICA settings (max_iter 1000, tol 0.005); the seed makes it reproducible.
    return FastICA(
        n_components=rank, random_state=seed, max_iter=1000, tol=0.005, whiten="unit-variance"
    ).fit_transform(varying)
