"""Heatmap Clustering (Schulth et al.): LRP heatmaps -> relevance point clouds -> GW k-means."""

from __future__ import annotations

import numpy as np
import torch

from heatclust_core.detectors.base import Detector
from heatclust_core.detectors.flagging import centroid_silhouette
from heatclust_core.errors import ConfigError
from heatclust_core.explain.lrp import LRPOptions, explain
from heatclust_core.explain.point_cloud import PointCloud, point_cloud
from heatclust_core.gw.engine import GWOptions, pairwise_gw
from heatclust_core.gw.kmeans import GWKMeansOptions, gw_kmeans
from heatclust_core.model import Classifier
from heatclust_core.progress import Progress, silent


class HeatmapClustering(Detector):
    """Parameters: relevance_share of positive relevance kept per heatmap, epsilon of entropic
    GW, barycenter_size (points per GW barycenter), max_iter of k-means, explain "label" (the
    sample's label, default) or "predicted". Classes of at most `pairwise_limit` samples also
    get pairwise_distances_ (N, N), the GW matrix an MDS embedding is drawn from."""

    name = "hc"

    def __init__(
        self,
        model: Classifier,
        relevance_share: float = 0.99,
        epsilon: float = 0.01,
        barycenter_size: int = 32,
        max_iter: int = 10,
        barycenter_iter: int = 2,
        explain_class: str = "label",
        lrp: LRPOptions = LRPOptions(),
        gw_tol: float = 1e-4,
        pairwise_limit: int = 150,
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
        self.gw_options = GWOptions(epsilon=epsilon, tol=gw_tol)
        self.kmeans_options = GWKMeansOptions(
            k=self.k,
            barycenter_size=barycenter_size,
            max_iter=max_iter,
            barycenter_iter=barycenter_iter,
            seed=self.seed,
        )
        self.explain_class = explain_class
        self.pairwise_limit = pairwise_limit
        self.lrp = lrp
        self.device = torch.device(device)
        self.progress = progress

    def fit(self, images: np.ndarray, labels: np.ndarray) -> HeatmapClustering:
        with self._timed("features"):
            self.progress("features", 0.0, "LRP heatmaps")
            classes = labels if self.explain_class == "label" else None
            explanation = explain(self.model, images, classes, self.device, self.lrp)
            self.heatmaps_ = explanation.heatmaps()
            self.point_clouds_: list[PointCloud] = [
                point_cloud(h, self.relevance_share) for h in self.heatmaps_
            ]
            spaces = [cloud.metric_measure() for cloud in self.point_clouds_]
            self.progress("features", 1.0, f"{len(spaces)} point clouds")
        with self._timed("clustering"):
            result = gw_kmeans(
                spaces, self.kmeans_options, self.gw_options, self.device, self.progress
            )
        # The all-pairs matrix (for an MDS picture) costs N^2/2 problems: small classes only.
        self.pairwise_distances_ = None
        if len(spaces) <= self.pairwise_limit:
            with self._timed("pairwise"):
                self.pairwise_distances_ = pairwise_gw(spaces, self.gw_options, self.device).numpy()
        self.kmeans_ = result
        self.distances_ = result.distances
        self.embedding_ = result.distances[:, :2]
        self._finish(result.labels, centroid_silhouette(result.distances, result.labels))
        return self
