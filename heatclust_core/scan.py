"""Class scan: Activation Clustering on every class, most suspicious two-cluster split first."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import SEED_MAX, BaseConfig
from heatclust_core.detectors.activation import DEFAULT_LAYER, ActivationClustering
from heatclust_core.model import Classifier, pick_device
from heatclust_core.progress import Progress, silent
from heatclust_core.run_store import RunStore
from heatclust_core.storage import JsonFiles, read_json_files, write_json


def scan_classes(
    model: Classifier,
    train_set: PoisonedSet,
    class_names: list[str],
    device: torch.device,
    layer: str = DEFAULT_LAYER,
    seed: int = 0,
    progress: Progress = silent,
) -> list[dict]:
    """Rank classes by the silhouette score of their 2-means activation clustering.

    A poisoned class holds two populations the network treats differently, so its split is
    cleaner (higher silhouette) than the arbitrary split of a clean class. Activations are
    scaled to unit length first: their overall magnitude varies with each image's contrast
    and would otherwise decide the split. Each entry also gives the smaller cluster's share.
    """
    ranking = []
    labels = train_set.data.labels
    for c, name in enumerate(class_names):
        members = np.flatnonzero(labels == c)
        progress("scan", c / len(class_names), name)
        if len(members) < 10:
            continue
        detector = ActivationClustering(
            model, layer=layer, normalize=True, device=device, seed=seed
        )
        detector.fit(train_set.data.images[members], labels[members])
        sizes = np.bincount(detector.labels_, minlength=2)
        ranking.append(
            {
                "class": c,
                "name": name,
                "score": detector.silhouette_,
                "smaller_share": float(sizes.min() / sizes.sum()),
                "n_samples": len(members),
            }
        )
    progress("scan", 1.0, "done")
    return sorted(ranking, key=lambda entry: entry["score"], reverse=True)


class ScanConfig(BaseConfig):
    layer: str = DEFAULT_LAYER
    seed: int = Field(0, ge=0, le=SEED_MAX)

    def result_name(self) -> str:
        digest = hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()
        return f"scan-{digest[:10]}"


def scan_path(store: RunStore, run_id: str, config: ScanConfig) -> Path:
    return store.path(run_id) / "scans" / f"{config.result_name()}.json"


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
        layer=config.layer,
        seed=config.seed,
        progress=progress,
    )
    result = {
        "run_id": run_id,
        "ranking": ranking,
        "config": config.model_dump(),
        "seconds": time.perf_counter() - started,
    }
    write_json(scan_path(store, run_id, config), result)
    return result


def load_scans(store: RunStore, run_id: str) -> JsonFiles:
    """Saved scans of a run, newest file first, and the files that are damaged."""
    return read_json_files(store.path(run_id) / "scans", "scan-*.json", required=("ranking",))
