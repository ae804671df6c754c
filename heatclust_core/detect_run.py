"""Running a detector on a finished run's suspicious class and saving the scored result."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
from pydantic import Field

from heatclust_core.config import SEED_MAX, BaseConfig, RunConfig
from heatclust_core.detection import detection_metrics
from heatclust_core.detectors import (
    ActivationClustering,
    HeatmapClustering,
    RawClustering,
    SpectralSignature,
)
from heatclust_core.detectors.activation import DEFAULT_LAYER
from heatclust_core.detectors.base import Detector, Reducer
from heatclust_core.detectors.flagging import FlagRule
from heatclust_core.detectors.spectral import SS_MULTIPLIER
from heatclust_core.errors import ConfigError
from heatclust_core.explain.lrp import CompositeName, LRPOptions
from heatclust_core.model import pick_device
from heatclust_core.progress import Progress, silent
from heatclust_core.run_store import RunResults, RunStore
from heatclust_core.storage import JsonFiles

DetectorName = Literal["raw", "ac", "ss", "hc"]
DETECTORS: tuple[str, ...] = get_args(DetectorName)


class DetectConfig(BaseConfig):
    detector: DetectorName = Field(
        "hc",
        description="raw clustering, Activation Clustering, Spectral Signatures or Heatmap "
        "Clustering",
    )
    class_id: int | None = Field(None, ge=0, description="suspicious class (default: the target)")
    k: int = Field(2, title="Clusters k", ge=2, le=10, description="clusters")
    flag_rule: FlagRule = Field(
        "smaller", title="Flag rule", description="which cluster is called poisoned (ART's rules)"
    )
    seed: int = Field(
        0, title="Seed", ge=0, le=SEED_MAX, description="seed of the reduction and k-means"
    )
    # raw and activation clustering
    reducer: Reducer = Field(
        "pca", title="Raw / AC reducer", description="raw/AC: PCA or FastICA before k-means"
    )
    n_components: int = Field(10, ge=1, le=1000, description="raw/AC: reduced dimensions")
    # activation clustering and spectral signatures
    layer: str = Field(
        DEFAULT_LAYER,
        description="AC/SS: module of the network whose activations are used (relu: the last "
        "hidden layer)",
    )
    normalize: bool = Field(
        False,
        title="AC: unit-length activations",
        description="AC: unit-length activations before the reduction (not in the paper)",
    )
    # spectral signatures
    expected_share: float = Field(
        0.33,
        title="SS expected poisoned share",
        gt=0,
        le=round(1 / SS_MULTIPLIER, 4),
        description=f"SS: assumed poisoned share of the class; {SS_MULTIPLIER} x it is flagged",
    )
    # heatmap clustering
    relevance_share: float = Field(
        0.99,
        title="HC relevance share",
        gt=0,
        le=1,
        description="HC: share of positive relevance kept per heatmap",
    )
    # Trigger pixels lie 0.03-0.1 apart once distances are scaled to 1: an epsilon above their
    # squares blurs the trigger's mass over the cloud, and the clusters follow relevance spread.
    epsilon: float = Field(
        0.003,
        title="HC entropic epsilon",
        gt=0,
        le=100,
        description="HC: entropic regularisation of GW (distances are scaled to a maximum of 1)",
    )
    gw_tol: float = Field(
        1e-3,
        gt=0,
        le=0.1,
        description="HC: relative plan change at which a GW solve stops (1e-4 made the same "
        "k-means moves in 1.4x the time)",
    )
    barycenter_size: int = Field(32, ge=2, le=1024, description="HC: points of each barycenter")
    max_iter: int = Field(10, ge=1, le=1000, description="HC: k-means iterations at most")
    # The last k-means iterations shuffle one or two samples at ~13 s each (1119 clouds, p =
    # 33 %: 1, 1, 1, 2 moved before none did); stopping at 0.5 % ends there.
    tol_moved: float = Field(
        0.005,
        ge=0,
        lt=1,
        description="HC: k-means stops once an iteration moves at most this share of the "
        "samples (0: until none moves)",
    )
    # One barycenter step per k-means iteration, as in plain k-means: a second one re-solved
    # every member and took 1.25-1.4x the time for the same ACC within 0.002 (p = 15 and 33).
    barycenter_iter: int = Field(
        1, ge=1, le=100, description="HC: barycenter steps per k-means iteration"
    )
    pool: int = Field(
        1,
        title="HC heatmap pooling, px",
        ge=1,
        le=8,
        description="HC: sum-pool the heatmaps pool x pool before the point clouds (fewer "
        "points, faster GW; 1: the paper's pixel clouds)",
    )
    mds_samples: int = Field(
        20,
        title="HC samples in the MDS picture",
        ge=0,
        le=1000,
        description="HC: samples whose all-pairs GW matrix MDS draws (M^2/2 solves; 0: none)",
    )
    explain_class: Literal["label", "predicted"] = Field(
        "label", description="HC: explain the labelled or the predicted class"
    )
    lrp_composite: CompositeName = Field(
        LRPOptions().composite,
        title="HC LRP composite",
        description="HC: zennit composite of the heatmaps",
    )

    def relevant_fields(self) -> dict:
        """The fields this detector reads: what its result's name hashes, so that a field added
        for one detector leaves the saved results of the others where they are."""
        common = {"detector", "class_id", "seed"}
        if self.detector != "ss":
            common |= {"k", "flag_rule"}
        return _without_neutral(
            self.model_dump(include=common | set(DETECTOR_FIELDS[self.detector]))
        )

    def hashed_content(self) -> dict:
        """Every field, less those added later at their neutral value: what ids that contain
        a DetectConfig (sweeps) hash, so that adding a field keeps the ids saved before."""
        return _without_neutral(self.model_dump())

    def result_name(self) -> str:
        text = json.dumps(self.relevant_fields(), sort_keys=True)
        return f"{self.detector}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


# Fields added after results were saved, and the value that means "as before": left out of
# result names and ids at that value, so that saved results keep their names.
NEUTRAL_VALUES = {"pool": 1}


def _without_neutral(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if NEUTRAL_VALUES.get(k, object()) != v}


# Each detector's own settings in DetectConfig, beside detector, class_id, seed, k, flag_rule.
DETECTOR_FIELDS: dict[str, tuple[str, ...]] = {
    "raw": ("reducer", "n_components"),
    "ac": ("layer", "reducer", "n_components", "normalize"),
    "ss": ("layer", "expected_share"),
    "hc": (
        "relevance_share",
        "epsilon",
        "gw_tol",
        "barycenter_size",
        "max_iter",
        "tol_moved",
        "barycenter_iter",
        "mds_samples",
        "explain_class",
        "lrp_composite",
        "pool",
    ),
}


def build_detector(
    config: DetectConfig, model, device: torch.device, progress: Progress
) -> Detector:
    common = {"k": config.k, "flag_rule": config.flag_rule, "seed": config.seed}
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
        barycenter_size=config.barycenter_size,
        max_iter=config.max_iter,
        tol_moved=config.tol_moved,
        barycenter_iter=config.barycenter_iter,
        explain_class=config.explain_class,
        mds_samples=config.mds_samples,
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
        "cluster_sizes": np.bincount(detector.labels_, minlength=detector.k).tolist(),
        "silhouette": detector.silhouette_,
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
    if getattr(detector, "mds_embedding_", None) is not None:
        result["mds"] = {
            "sample_position": detector.mds_index_.tolist(),
            "coords": np.asarray(detector.mds_embedding_, dtype=float).round(6).tolist(),
        }
    DETECTIONS.save(store, run_id, config.result_name(), result)
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


def detection_path(store: RunStore, run_id: str, config: DetectConfig) -> Path:
    return DETECTIONS.path(store, run_id, config.result_name())


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


def load_detection(store: RunStore, run_id: str, config: DetectConfig) -> dict | None:
    """The saved result of `config` on the run; None when there is none or it is damaged, so
    that it is computed (again)."""
    return DETECTIONS.load(store, run_id, config.result_name())


def load_detections(store: RunStore, run_id: str) -> JsonFiles:
    """Saved detector results of a run, newest file first, and the files that are damaged."""
    return DETECTIONS.load_all(store, run_id)
