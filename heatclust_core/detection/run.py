"""Running a detector on a finished run's suspicious class and saving the scored result."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from heatclust_core.config import RunConfig
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.scoring import detection_metrics
from heatclust_core.errors import ConfigError
from heatclust_core.explain.options import LRPOptions
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.results import RunResults
from heatclust_core.storage.run_store import RunStore

if TYPE_CHECKING:
    import torch

    from heatclust_core.detection.detectors.base import Detector


def build_detector(
    config: DetectConfig, model, device: torch.device, progress: Progress
) -> Detector:
    # Imported here: they load torch and scikit-learn, which reading saved results must not.
    from heatclust_core.detection.detectors import (
        ActivationClustering,
        HeatmapClustering,
        RawClustering,
        SpectralSignature,
    )

    common = {
        "k": config.k,
        "k_selection": config.k_selection,
        "flag_rule": config.flag_rule,
        "seed": config.seed,
    }
    if config.detector == "raw":
        return RawClustering(reducer=config.reducer, n_components=config.n_components, **common)
    if config.detector == "ac":
        return ActivationClustering(
            model,
            layer=config.layer,
            reducer=config.reducer,
            n_components=config.n_components,
            normalize=config.normalize,
            device=device,
            **common,
        )
    if config.detector == "ss":
        return SpectralSignature(
            model,
            layer=config.layer,
            expected_share=config.expected_share,
            device=device,
            seed=config.seed,
        )
    return HeatmapClustering(
        model,
        relevance_share=config.relevance_share,
        epsilon=config.epsilon,
        gw_tol=config.gw_tol,
        gw_max_iter=config.gw_max_iter,
        gw_inner_iter=config.gw_inner_iter,
        barycenter_size=config.barycenter_size,
        max_iter=config.max_iter,
        tol_moved=config.tol_moved,
        barycenter_iter=config.barycenter_iter,
        explain_class=config.explain_class,
        mds_samples=config.mds_samples,
        mds_pool=config.mds_pool,
        pool=config.pool,
        lrp=LRPOptions(composite=config.lrp_composite),
        device=device,
        progress=progress,
        **common,
    )


def run_detection(
    store: RunStore,
    run_id: str,
    config: DetectConfig,
    device: str = "auto",
    progress: Progress = silent,
) -> dict:
    """Fit the detector on the class's training samples, score it against the poison mask,
    save the result as detections/<name>.json in the run folder and return it."""
    started = time.perf_counter()
    run_config = store.load_config(run_id)
    metrics = store.load_metrics(run_id)
    class_names = metrics["class_names"]
    class_id = resolve_class(config.class_id, run_config, class_names)
    from heatclust_core.training.network import pick_device

    torch_device = pick_device(device)
    model = store.load_model(run_id, torch_device)
    train_set = store.load_train_set(run_id)
    members = np.flatnonzero(train_set.data.labels == class_id)
    if len(members) < config.k:
        raise ConfigError("class_id", f"class {class_id} has {len(members)} samples, fewer than k")
    detector = build_detector(config, model, torch_device, progress)
    detector.fit(train_set.data.images[members], train_set.data.labels[members])
    scores = detection_metrics(detector.predict(), train_set.is_poisoned[members])
    result = {
        "run_id": run_id,
        "detector": config.detector,
        "class": class_id,
        "class_name": class_names[class_id],
        **scores,
        "flagged_cluster": detector.flagged_clusters_[0]
        if len(detector.flagged_clusters_) == 1
        else detector.flagged_clusters_,
        "flagged_clusters": detector.flagged_clusters_,
        "cluster_sizes": np.bincount(detector.labels_, minlength=detector.k_).tolist(),
        "silhouette": detector.silhouette_,
        "k_chosen": detector.k_,
        "silhouettes": {str(k): value for k, value in detector.silhouettes_.items()},
        "n_samples": len(members),
        "n_poisoned": int(train_set.is_poisoned[members].sum()),
        "seconds": {**detector.seconds_, "total": time.perf_counter() - started},
        "config": config.model_dump(),
        "sample_index": members.tolist(),
        # The ground truth travels with the result, so it is drawn without the training set.
        "sample_poisoned": train_set.is_poisoned[members].astype(int).tolist(),
        "cluster_labels": detector.labels_.tolist(),
        "embedding": np.asarray(detector.embedding_, dtype=float).round(6).tolist(),
        "embedding_axes": _embedding_axes(config),
    }
    if (kmeans := getattr(detector, "kmeans_", None)) is not None:
        # HC's time is its GW solves: samples x k per k-means iteration, and the iterations
        # run to the cap where nothing splits the class (README, "What HC's time scales with").
        result["kmeans_iterations"] = kmeans.iterations
        result["gw_solves"] = kmeans.n_gw
    if getattr(detector, "mds_embedding_", None) is not None:
        result["mds"] = {
            "sample_position": detector.mds_index_.tolist(),
            "coords": np.asarray(detector.mds_embedding_, dtype=float).round(6).tolist(),
        }
    DETECTIONS.save(store, run_id, config, result)
    return result


def resolve_class(class_id: int | None, run_config: RunConfig, class_names: list[str]) -> int:
    """The class a detector or an embedding looks at: `class_id`, else the attack's target."""
    resolved = class_id if class_id is not None else run_config.attack.target
    if not 0 <= resolved < len(class_names):
        raise ConfigError("class_id", f"must be in [0, {len(class_names) - 1}], got {resolved}")
    return resolved


def _embedding_axes(config: DetectConfig) -> list[str]:
    if config.detector == "hc":
        return ["GW distance to centre 0", "GW distance to centre 1"]
    if config.detector == "ss":
        return ["top singular vector", "second singular vector"]
    reducer = "PC" if config.reducer == "pca" else "IC"
    return [f"{reducer} 1", f"{reducer} 2"]


# Per-sample arrays of saved results: kept in the run folder, left out of printed summaries
# and of the job registry.
SAMPLE_FIELDS = (
    "sample_index",
    "sample_poisoned",
    "cluster_labels",
    "embedding",
    "mds",
    "removed_index",
    # embeddings
    "predicted",
    "trigger_share",
    "coords",
    "k_choice",
    "eigenvalues",
    "landmark_positions",
)


def without_sample_fields(result: dict) -> dict:
    return {key: value for key, value in result.items() if key not in SAMPLE_FIELDS}


# What pages and reports read of a saved detection; a file without these is damaged.
DETECTION_KEYS = (
    "detector",
    "class",
    "class_name",
    "config",
    "acc",
    "tpr",
    "tnr",
    "precision",
    "f1",
    "n_samples",
    "n_poisoned",
    "cluster_sizes",
    "flagged_clusters",
    "sample_index",
    "cluster_labels",
    "embedding",
)
DETECTIONS = RunResults("detections", DETECTION_KEYS)
# The pages' names for them: (store, run_id, DetectConfig) and (store, run_id).
detection_path = DETECTIONS.path
load_detection = DETECTIONS.load
load_detections = DETECTIONS.load_all
