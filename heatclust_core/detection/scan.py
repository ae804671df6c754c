"""Class scan: rank every class of a run by how cleanly its samples split in two.

A poisoned class holds two populations the network treats differently, so its two-cluster
split is cleaner (higher silhouette) than the arbitrary split of a clean class. The default
method splits the LRP heatmaps, as spectral relevance analysis (SpRAy, Lapuschkin et al. 2019)
does to find a Clever Hans: the trigger draws relevance to a place where the class's other
samples have none. The cheaper "activation" method splits the unit-length activations of the
last hidden layer (Activation Clustering's input).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Literal, get_args

import numpy as np
import torch
from pydantic import Field

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import SEED_MAX, BaseConfig
from heatclust_core.detection.detectors.activation import DEFAULT_LAYER, ActivationClustering
from heatclust_core.detection.detectors.base import kmeans_with_silhouette, reduce_features
from heatclust_core.explain.lrp import CompositeName, LRPOptions, explain
from heatclust_core.explain.point_cloud import pooled_heatmaps
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.results import RunResults
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import Classifier, pick_device

ScanMethod = Literal["heatmap", "activation"]
SCAN_METHODS: tuple[str, ...] = get_args(ScanMethod)
# Classes with fewer samples are not split.
MIN_CLASS_SIZE = 10


class ScanConfig(BaseConfig):
    method: ScanMethod = Field(
        "heatmap",
        description="heatmap: 2-means of the class's LRP heatmaps (SpRAy); activation: of its "
        "unit-length activations (cheaper, weaker)",
    )
    samples_per_class: int = Field(
        60, ge=MIN_CLASS_SIZE, le=100_000, description="heatmap: samples explained per class"
    )
    pool: int = Field(
        2, ge=1, le=8, description="heatmap: side of the sum-pooling window before PCA, px"
    )
    lrp_composite: CompositeName = Field(
        LRPOptions().composite, description="heatmap: zennit composite of the heatmaps"
    )
    layer: str = Field(DEFAULT_LAYER, description="activation: module whose output is split")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="seed of the subsample and of k-means")

    def relevant_fields(self) -> dict:
        own = (
            {"samples_per_class", "pool", "lrp_composite"}
            if self.method == "heatmap"
            else {"layer"}
        )
        return self.model_dump(include={"method", "seed"} | own)

    def result_name(self) -> str:
        text = json.dumps(self.relevant_fields(), sort_keys=True)
        return f"scan-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def relevance_maps(heatmaps: np.ndarray, pool: int) -> np.ndarray:
    """(N, H, W) heatmaps -> (N, H/pool * W/pool): positive relevance as shares summing to 1,
    summed over pool x pool blocks (a trigger moved by a pixel stays in its block)."""
    positive = np.clip(heatmaps, 0, None)
    shares = positive / np.maximum(positive.sum(axis=(1, 2), keepdims=True), 1e-12)
    return pooled_heatmaps(shares, pool).reshape(len(shares), -1)


def _split_score(features: np.ndarray, seed: int) -> tuple[float, float]:
    """(silhouette of the 2-means split of PCA-10 features, the smaller cluster's share)."""
    reduced = reduce_features(features, "pca", 10, seed)
    labels, silhouette = kmeans_with_silhouette(reduced, 2, seed)
    sizes = np.bincount(labels, minlength=2)
    return silhouette, float(sizes.min() / sizes.sum())


def scan_classes(
    model: Classifier,
    train_set: PoisonedSet,
    class_names: list[str],
    device: torch.device,
    config: ScanConfig | None = None,
    progress: Progress = silent,
) -> list[dict]:
    """Every class with at least MIN_CLASS_SIZE samples, most suspicious (highest score) first;
    each entry also gives the smaller cluster's share and the samples used."""
    config = config or ScanConfig()
    ranking = []
    labels = train_set.data.labels
    rng = np.random.default_rng(config.seed)
    for c, name in enumerate(class_names):
        members = np.flatnonzero(labels == c)
        progress("scan", c / len(class_names), name)
        if len(members) < MIN_CLASS_SIZE:
            continue
        if config.method == "heatmap":
            if len(members) > config.samples_per_class:
                members = np.sort(rng.choice(members, config.samples_per_class, replace=False))
            explanation = explain(
                model,
                train_set.data.images[members],
                labels[members],
                device,
                LRPOptions(composite=config.lrp_composite),
            )
            score, smaller = _split_score(
                relevance_maps(explanation.heatmaps(), config.pool), config.seed
            )
        else:
            detector = ActivationClustering(
                model, layer=config.layer, normalize=True, device=device, seed=config.seed
            )
            detector.fit(train_set.data.images[members], labels[members])
            sizes = np.bincount(detector.labels_, minlength=2)
            score, smaller = detector.silhouette_, float(sizes.min() / sizes.sum())
        ranking.append(
            {
                "class": c,
                "name": name,
                "score": float(score),
                "smaller_share": smaller,
                "n_samples": len(members),
            }
        )
    progress("scan", 1.0, "done")
    return sorted(ranking, key=lambda entry: entry["score"], reverse=True)


SCANS = RunResults("scans", ("ranking",), "scan-*.json")


def run_scan(
    store: RunStore,
    run_id: str,
    config: ScanConfig,
    device: str = "auto",
    progress: Progress = silent,
) -> dict:
    """Scan every class of a finished run, save scans/<name>.json in its folder, return it."""
    started = time.perf_counter()
    metrics = store.load_metrics(run_id)
    torch_device = pick_device(device)
    ranking = scan_classes(
        store.load_model(run_id, torch_device),
        store.load_train_set(run_id),
        metrics["class_names"],
        torch_device,
        config,
        progress,
    )
    result = {
        "run_id": run_id,
        "ranking": ranking,
        "config": config.model_dump(),
        "seconds": time.perf_counter() - started,
    }
    SCANS.save(store, run_id, config, result)
    return result


# The pages' names for them: (store, run_id, ScanConfig) and (store, run_id).
scan_path = SCANS.path
load_scans = SCANS.load_all
