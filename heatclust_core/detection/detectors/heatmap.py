"""Heatmap Clustering (Schulth et al.): LRP heatmaps -> relevance point clouds -> GW k-means."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from sklearn.manifold import MDS

from heatclust_core.detection.detectors.base import Detector
from heatclust_core.detection.detectors.flagging import centroid_silhouette
from heatclust_core.errors import ConfigError
from heatclust_core.explain.lrp import explain
from heatclust_core.explain.options import LRPOptions
from heatclust_core.explain.point_cloud import PointCloud, point_cloud, pooled_heatmaps
from heatclust_core.gw.engine import DEFAULT_DTYPE, GWOptions, pairwise_gw
from heatclust_core.gw.kmeans import GWKMeansOptions, gw_kmeans
from heatclust_core.progress import Progress, silent
from heatclust_core.training.network import Classifier


class HeatmapClustering(Detector):
    """Parameters: relevance_share of positive relevance kept per heatmap, epsilon of entropic
    GW, barycenter_size (points per GW barycenter), max_iter and tol_moved of k-means (it stops
    once an iteration moves at most that share of the samples), pool (sum-pool the heatmaps
    pool x pool before taking the point clouds: 2 makes them ~3.6x smaller), explain "label" (the
    sample's label, default) or "predicted"; gw_tol, gw_max_iter and gw_inner_iter stop each GW
    solve (relative plan change, outer iterations, Sinkhorn iterations per outer one).

    For pictures, up to `mds_samples` samples (all of a small class, else a seeded draw
    stratified by cluster) get their all-pairs GW matrix, pairwise_distances_ (M, M), and its
    MDS embedding, mds_embedding_ (M, 2); mds_index_ (M,) says which samples they are. That
    costs M^2/2 GW problems between whole clouds, solved with `picture_options` (M = 20
    clouds of ~380 points: ~26 s at epsilon 0.003 on a 2-core CPU; with mds_pool 2, their
    heatmaps pooled 2 x 2 for the picture only, 2.4 s); 0 switches it off.
    embedding_ (N, 2) is every sample's GW distance to the first two cluster centres."""

    name = "hc"

    def __init__(
        self,
        model: Classifier,
        relevance_share: float = 0.99,
        epsilon: float = 0.003,
        barycenter_size: int = 32,
        max_iter: int = 50,
        tol_moved: float = 0.0,
        barycenter_iter: int = 1,
        explain_class: str = "label",
        lrp: LRPOptions = LRPOptions(),
        gw_tol: float = 1e-3,
        gw_max_iter: int = 50,
        gw_inner_iter: int = 10,
        mds_samples: int = 20,
        mds_pool: int = 2,
        pool: int = 1,
        device: torch.device | str = "cpu",
        progress: Progress = silent,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0 < relevance_share <= 1:
            raise ConfigError("relevance_share", f"must be in (0, 1], got {relevance_share}")
        if explain_class not in ("label", "predicted"):
            raise ConfigError(
                "explain_class", f"must be 'label' or 'predicted', got {explain_class!r}"
            )
        self.model = model
        self.relevance_share = relevance_share
        self.gw_options = GWOptions(
            epsilon=epsilon, tol=gw_tol, max_iter=gw_max_iter, inner_max_iter=gw_inner_iter
        )
        self.kmeans_options = GWKMeansOptions(
            k=self.k,
            barycenter_size=barycenter_size,
            max_iter=max_iter,
            tol_moved=tol_moved,
            barycenter_iter=barycenter_iter,
            seed=self.seed,
        )
        self.explain_class = explain_class
        self.mds_samples = mds_samples
        for name, value in (("pool", pool), ("mds_pool", mds_pool)):
            if value < 1:
                raise ConfigError(name, f"must be >= 1, got {value}")
        self.pool = pool
        self.mds_pool = mds_pool
        self.lrp = lrp
        self.device = torch.device(device)
        self.progress = progress

    def fit(self, images: np.ndarray, labels: np.ndarray) -> HeatmapClustering:
        with self._timed("features"):
            self.progress("features", 0.0, "LRP heatmaps")
            classes = labels if self.explain_class == "label" else None
            explanation = explain(self.model, images, classes, self.device, self.lrp)
            self.heatmaps_ = explanation.heatmaps()
            self.point_clouds_: list[PointCloud] = self._clouds(self.heatmaps_, self.pool)
            spaces = _spaces(self.point_clouds_)
            self.progress("features", 1.0, f"{len(spaces)} point clouds")
        with self._timed("clustering"):
            results, previous = {}, None
            for k in self.candidate_ks:
                previous = results[k] = self._gw_kmeans(spaces, k, previous)
            for fitted in results.values():
                fitted.states = None  # N x k plans: only the next k needed them
        fits = {
            k: (result.labels, centroid_silhouette(result.distances, result.labels))
            for k, result in results.items()
        }
        result = results[self._finish(fits)]
        self.mds_index_ = self._mds_subset(result.labels)
        self.pairwise_distances_ = self.mds_embedding_ = None
        if len(self.mds_index_) >= 3:
            with self._timed("pairwise"):
                self.progress("pairwise", 0.0, f"GW matrix of {len(self.mds_index_)} samples")
                self.pairwise_distances_ = pairwise_gw(
                    self._picture_spaces(spaces), picture_options(self.gw_options), self.device
                ).numpy()
                self.mds_embedding_ = mds_embedding(self.pairwise_distances_, self.seed)
                self.progress("pairwise", 1.0, "MDS embedding")
        self.kmeans_ = result
        self.distances_ = result.distances
        self.embedding_ = result.distances[:, :2]
        return self

    def _gw_kmeans(self, spaces: list, k: int, previous=None):
        """GW k-means with k clusters, started from `previous` (the fit with k - 1) when
        given. When several k are fitted, the clustering stage's progress runs once over all
        of them and its messages name k."""
        progress = self.progress
        if (fits := len(self.candidate_ks)) > 1:
            done = self.candidate_ks.index(k)

            def progress(stage: str, fraction: float, message: str = "") -> None:
                text = f"k = {k}: {message}" if message else f"k = {k}"
                self.progress(stage, (done + fraction) / fits, text)

        return gw_kmeans(
            spaces,
            replace(self.kmeans_options, k=k),
            self.gw_options,
            self.device,
            progress,
            start=previous,
            keep_states=k < self.candidate_ks[-1],
        )

    def _picture_spaces(self, spaces: list) -> list:
        """The MDS picture's samples as metric-measure spaces: the clustering's own, or with
        mds_pool > 1 point clouds of their heatmaps pooled that much further."""
        if self.mds_pool == 1:
            return [spaces[i] for i in self.mds_index_]
        return _spaces(self._clouds(self.heatmaps_[self.mds_index_], self.pool * self.mds_pool))

    def _clouds(self, heatmaps: np.ndarray, pool: int) -> list[PointCloud]:
        """Point clouds of (N, H, W) heatmaps sum-pooled pool x pool."""
        return [point_cloud(h, self.relevance_share) for h in pooled_heatmaps(heatmaps, pool)]

    def _mds_subset(self, labels: np.ndarray) -> np.ndarray:
        """Sorted sample indices for the MDS picture: each cluster in proportion, >= 2 each."""
        n = len(labels)
        if self.mds_samples == 0:
            return np.arange(0)
        if n <= self.mds_samples:
            return np.arange(n)
        rng = np.random.default_rng(self.seed)
        members = [np.flatnonzero(labels == cluster) for cluster in np.unique(labels)]
        quotas = [max(min(2, len(m)), round(self.mds_samples * len(m) / n)) for m in members]
        # A small cluster's minimum of 2 comes out of the largest quota, so that the picture
        # holds mds_samples, not one or two more.
        while sum(quotas) > self.mds_samples and max(quotas) > 2:
            quotas[int(np.argmax(quotas))] -= 1
        chosen = [
            rng.choice(m, size=min(quota, len(m)), replace=False)
            for m, quota in zip(members, quotas, strict=True)
        ]
        return np.sort(np.concatenate(chosen))


def _spaces(clouds: list[PointCloud]) -> list:
    """The clouds as GW spaces, their distances in the engine's dtype: float64 distances were
    cast again in every one of the k-means' calls."""
    return [cloud.metric_measure(DEFAULT_DTYPE) for cloud in clouds]


def picture_options(options: GWOptions) -> GWOptions:
    """Looser stopping rules for the all-pairs GW matrix behind the MDS picture: on 66 pairs
    of ~310-point clouds at epsilon 0.003, 0.59x the outer steps of `options` (tol 1e-3,
    inner_tol 1e-5), every distance within 0.25 % (correlation 1.0000): invisible in a
    scatter, and the all-pairs solves between whole clouds cost as much as the clustering."""
    return replace(options, tol=max(options.tol, 1e-2), inner_tol=max(options.inner_tol, 1e-4))


def mds_embedding(gw_losses: np.ndarray, seed: int = 0) -> np.ndarray:
    """(M, 2) metric MDS (scikit-learn, classical-MDS start) of an (M, M) GW loss matrix.

    The square-loss GW value grows like a squared distance, so MDS gets its square root."""
    distances = np.sqrt(np.clip(gw_losses, 0.0, None))
    mds = MDS(n_components=2, metric="precomputed", init="classical_mds", random_state=seed)
    return mds.fit_transform(distances)
