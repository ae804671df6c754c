"""An embedding's settings: the method, the class and each method's own knobs, as one
validated config whose fields are the CLI's flags and the Explore page's widgets."""

from __future__ import annotations

import hashlib
import json
from typing import Literal, get_args

from pydantic import Field

from heatclust_core.config import SEED_MAX, BaseConfig
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.detectors.settings import DEFAULT_LAYER
from heatclust_core.explain.options import CompositeName, LRPOptions

EmbeddingMethod = Literal["umap", "tsne", "pca", "spectral", "gw-mds"]
EMBEDDING_METHODS: tuple[str, ...] = get_args(EmbeddingMethod)
EMBEDDING_TITLES = {
    "umap": "UMAP of the activations",
    "tsne": "t-SNE of the activations",
    "pca": "PCA of the activations",
    "spectral": "Spectral embedding of the heatmaps (SpRAy)",
    "gw-mds": "Landmark MDS of the GW distances (HC)",
}
# The numbers of clusters offered by the choice of k.
K_CHOICES = tuple(range(2, 9))
# Dimensions of the space each method's k-means runs in (its 2-D picture is the first two).
CLUSTER_DIMS = 10
MIN_SAMPLES = 10


class EmbedConfig(BaseConfig):
    method: EmbeddingMethod = Field(
        "umap",
        description="umap, tsne, pca: of the activations; spectral: of the heatmaps (SpRAy); "
        "gw-mds: landmark MDS of the point clouds' GW distances (HC)",
    )
    class_id: int | None = Field(None, ge=0, description="class to embed (default: the target)")
    seed: int = Field(
        0, title="Seed", ge=0, le=SEED_MAX, description="seed of the embedding and of k-means"
    )
    layer: str = Field(
        DEFAULT_LAYER,
        title="Layer",
        description="umap, tsne, pca: module whose activations are embedded",
    )
    n_neighbors: int = Field(
        15,
        title="Neighbours",
        ge=2,
        le=100,
        description="umap, spectral: neighbours per sample in the kNN graph",
    )
    min_dist: float = Field(
        0.1,
        title="UMAP minimum distance",
        ge=0,
        le=1,
        description="umap: minimum distance in the picture",
    )
    perplexity: float = Field(
        30.0, title="t-SNE perplexity", ge=2, le=100, description="tsne: perplexity"
    )
    pool: int = Field(
        2,
        title="Heatmap pooling, px",
        ge=1,
        le=8,
        description="spectral, gw-mds: side of the sum-pooling window applied to the heatmaps, "
        "px (gw-mds: 2 makes clouds ~3.6x smaller, GW solves ~7x faster)",
    )
    landmarks: int = Field(
        16,
        title="Landmarks",
        ge=3,
        le=256,
        description="gw-mds: landmark samples; costs N x landmarks GW solves",
    )
    relevance_share: float = DetectConfig.model_fields["relevance_share"]
    # A picture, not the detector: at 0.003 the pooled clouds' solves take 7x longer for the
    # same 2-means accuracy on the default class (0.904 vs 0.905, README).
    epsilon: float = Field(
        0.01, title="GW entropic epsilon", gt=0, le=100, description="gw-mds: entropic GW epsilon"
    )
    lrp_composite: CompositeName = Field(
        LRPOptions().composite,
        title="LRP composite",
        description="zennit composite of the heatmaps (spectral, gw-mds, trigger relevance)",
    )

    def relevant_fields(self) -> dict:
        """What the result's name hashes: the fields this method reads."""
        common = {"method", "class_id", "seed", "lrp_composite"}
        return self.model_dump(include=common | set(METHOD_FIELDS[self.method]))

    def result_name(self) -> str:
        text = json.dumps(self.relevant_fields(), sort_keys=True)
        return f"{self.method}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"

    def settings_name(self) -> str:
        """The method and its settings without the class: names one embedding of a class
        whether the class was given or defaulted to the target (the explorer's link)."""
        settings = {k: v for k, v in self.relevant_fields().items() if k != "class_id"}
        text = json.dumps(settings, sort_keys=True)
        return f"{self.method}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


METHOD_FIELDS: dict[str, tuple[str, ...]] = {
    "umap": ("layer", "n_neighbors", "min_dist"),
    "tsne": ("layer", "perplexity"),
    "pca": ("layer",),
    "spectral": ("pool", "n_neighbors"),
    "gw-mds": ("pool", "landmarks", "relevance_share", "epsilon"),
}
