"""One sweep cell: train (or reuse) a run, then run (or reuse) each detector on its target."""

from __future__ import annotations

from typing import Any

from heatclust_core.config import RunConfig
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.run import detection_path, load_detection, run_detection
from heatclust_core.pipeline import resolve, train_run
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.atomic import read_json
from heatclust_core.storage.run_store import RunStore

SCORES = ("acc", "tpr", "tnr", "precision", "f1")


def cell_detect_config(detect: DetectConfig, detector: str) -> DetectConfig:
    return detect.model_copy(update={"detector": detector})


def is_cell_done(store: RunStore, config: RunConfig, detect: DetectConfig, detectors) -> bool:
    run_id = resolve(config).run_id()
    return store.exists(run_id) and all(
        detection_path(store, run_id, cell_detect_config(detect, d)).is_file() for d in detectors
    )


def run_cell(
    config: RunConfig,
    detect: DetectConfig,
    detectors: tuple[str, ...],
    store: RunStore,
    device: str = "auto",
    progress: Progress = silent,
) -> dict[str, Any]:
    """Train and detect what is not cached yet; returns the cell's summary (see cell_summary)."""
    run = train_run(config, store, device, progress)
    for detector in detectors:
        detect_config = cell_detect_config(detect, detector)
        if load_detection(store, run.run_id, detect_config) is None:  # absent or damaged
            run_detection(store, run.run_id, detect_config, device, progress)
    return cell_summary(store, config, detect, detectors)


def cell_summary(
    store: RunStore, config: RunConfig, detect: DetectConfig, detectors: tuple[str, ...]
) -> dict[str, Any]:
    """What a table needs of a finished cell: its axes, attack success and detection rates."""
    config = resolve(config)
    run_id = config.run_id()
    metrics = store.load_metrics(run_id)
    detections = {}
    for detector in detectors:
        saved = read_json(detection_path(store, run_id, cell_detect_config(detect, detector)))
        detections[detector] = {key: saved[key] for key in SCORES} | {
            "seconds": saved["seconds"].get("total")
        }
    attack = config.attack
    return {
        "run_id": run_id,
        "kind": attack.kind,
        "p": attack.p,
        "sticker_size": attack.sticker_size,
        "amp": attack.amp,
        "seed": attack.seed,
        "clean_accuracy": metrics["clean_accuracy"],
        "asr": metrics["asr"],
        "masr": metrics["masr"],
        "per_class_asr": metrics["per_class_asr"],
        "target": attack.target,
        "class_names": metrics["class_names"],
        "n_poisoned": metrics["n_poisoned"],
        "detections": detections,
    }
