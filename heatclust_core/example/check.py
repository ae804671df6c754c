"""Checking the shipped example against the code: `python -m heatclust_core example --check`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from heatclust_core.attacks.metrics import attack_metrics
from heatclust_core.attacks.poison import poison, poisoned_mask
from heatclust_core.config import RunConfig
from heatclust_core.data.imageset import Dataset
from heatclust_core.data.loading import load_dataset
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.run import load_detection
from heatclust_core.detection.scan import scan_path
from heatclust_core.detection.scoring import detection_metrics
from heatclust_core.errors import DamagedFileError, HeatClustError
from heatclust_core.example.build import FLIPS_ALLOWED, ExamplePlan, default_plan, example_gallery
from heatclust_core.example.shipped import example_store, read_gallery, read_manifest
from heatclust_core.explore.config import EmbedConfig
from heatclust_core.explore.embeddings import load_embedding
from heatclust_core.pipeline import resolve
from heatclust_core.storage.atomic import read_json_object
from heatclust_core.storage.run_store import (
    CONFIG_FILE,
    RunStore,
)
from heatclust_core.sweeps.cell import cell_detect_config
from heatclust_core.sweeps.runner import SWEEPS_FOLDER, sweep_record
from heatclust_core.training.network import pick_device


def check_example(
    example_dir: str | Path,
    data_dir: str | Path,
    plan: ExamplePlan | None = None,
    device: str = "cpu",
) -> list[str]:
    """Every way the shipped example differs from what the current code and defaults produce,
    one line each; [] when it is consistent. Regenerates the data in `data_dir` (cached)."""
    plan = plan or default_plan()
    try:
        manifest = read_manifest(example_dir)
    except DamagedFileError as exc:
        return [str(exc)]
    if manifest is None:
        return [f"no example in {example_dir}"]
    store = example_store(example_dir)
    config = resolve(plan.run)
    problems = []
    if manifest["main_run"] != config.run_id():
        problems.append(
            f"the example's run {manifest['main_run']} is not the default configuration's "
            f"{config.run_id()}: rebuild it (`python -m heatclust_core example --rebuild`)"
        )
        return problems
    expected_sweeps = [sweep.sweep_id() for sweep in plan.sweeps]
    if manifest["sweeps"] != expected_sweeps:
        problems.append(f"sweeps {manifest['sweeps']} are not the plan's {expected_sweeps}")
    try:
        # One data set serves every check: the sweeps' cells share the default run's data.
        dataset = load_dataset(config.data.model_copy(update={"data_dir": str(data_dir)}))
        problems += _check_main_run(store, config, plan, dataset, device)
        problems += _check_gallery(example_dir, store, config)
        problems += _check_sweeps(store, plan, dataset.pool.labels)
    except (HeatClustError, FileNotFoundError) as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    return problems


def _check_ids(store: RunStore, run_id: str) -> list[str]:
    stored = read_json_object(store.path(run_id) / CONFIG_FILE, ("run_id", "config"))
    recomputed = store.load_config(run_id).run_id()
    if stored["run_id"] != run_id or recomputed != run_id:
        return [
            f"run {run_id}: its config hashes to {recomputed}, its file says {stored['run_id']}"
        ]
    return []


def _close(name: str, stored: float, recomputed: float, tolerance: float = 1e-9) -> list[str]:
    if math.isnan(stored) and math.isnan(recomputed):
        return []  # a rate with nothing to count, both times
    if not abs(stored - recomputed) <= tolerance:
        return [f"{name}: stored {stored:.4f}, recomputed {recomputed:.4f}"]
    return []


def _check_main_run(
    store: RunStore, config: RunConfig, plan: ExamplePlan, dataset: Dataset, device: str
) -> list[str]:
    run_id = config.run_id()
    if not store.exists(run_id) or not store.has_network(run_id):
        return [f"the example lacks its run {run_id} or its network"]
    problems = _check_ids(store, run_id)
    metrics = store.load_metrics(run_id)
    torch_device = pick_device(device)
    recomputed = attack_metrics(
        store.load_model(run_id, torch_device),
        dataset.test,
        config.attack,
        dataset.n_classes,
        torch_device,
    )
    labels = dataset.test.labels
    problems += _close(
        f"run {run_id} clean_accuracy",
        metrics["clean_accuracy"],
        recomputed["clean_accuracy"],
        FLIPS_ALLOWED / len(labels),
    )
    for c, rate in metrics["per_class_asr"].items():
        problems += _close(
            f"run {run_id} ASR of class {c}",
            rate,
            recomputed["per_class_asr"].get(c, float("nan")),
            FLIPS_ALLOWED / max(int((labels == int(c)).sum()), 1),
        )

    shipped = store.load_train_set(run_id)
    truth = poisoned_mask(dataset.pool.labels, config.attack, dataset.n_classes)
    if not np.array_equal(shipped.is_poisoned, truth):
        problems.append(f"run {run_id}: the stored ground truth is not the attack's")
    labels = np.where(truth, config.attack.target, dataset.pool.labels)
    if not np.array_equal(shipped.data.labels, labels):
        problems.append(f"run {run_id}: the stored labels are not the attacked pool's")
    kept = shipped.image_available
    if kept is None:
        problems.append(f"run {run_id}: its training set keeps every image (not the example's)")
    elif not config.attack.uses_pgd:  # PGD needs the surrogate: only the trigger is re-derived
        attacked = poison(dataset.pool, config.attack, dataset.n_classes)
        if not np.array_equal(shipped.data.images[kept], attacked.data.images[kept]):
            problems.append(f"run {run_id}: the stored images are not the attacked pool's")
    for detect in plan.detections:
        problems += _check_detection(
            store, run_id, detect, shipped.data.labels, shipped.is_poisoned
        )
    if not scan_path(store, run_id, plan.scan).is_file():
        problems.append(f"run {run_id}: no class scan {plan.scan.result_name()}")
    for embed in plan.embeddings:
        problems += _check_embedding(store, run_id, embed, shipped.data.labels, shipped.is_poisoned)
    return problems


# Heatmaps recomputed on another CPU sum in another order; relative to the largest relevance.
HEATMAP_TOLERANCE = 1e-3


def _check_gallery(example_dir: str | Path, store: RunStore, config: RunConfig) -> list[str]:
    """The landing page's tiles are the gallery of the shipped network, recomputed."""
    stored = read_gallery(example_dir)
    if stored is None:
        return ["the example keeps no landing-page heatmaps (gallery.npz): rebuild it"]
    expected = example_gallery(store, config.run_id(), config.attack.target)
    problems = []
    for group, saved, recomputed in zip(("poisoned", "clean"), stored, expected, strict=True):
        if [t.sample for t in saved] != [t.sample for t in recomputed]:
            problems.append(f"gallery: its {group} samples are not the gallery's draw")
            continue
        for a, b in zip(saved, recomputed, strict=True):
            scale = max(float(np.abs(b.heatmap).max()), 1e-12)
            if not np.array_equal(a.image, b.image) or a.label != b.label:
                problems.append(f"gallery: sample {a.sample}'s image or label differs")
            elif np.abs(a.heatmap - b.heatmap).max() > HEATMAP_TOLERANCE * scale:
                problems.append(f"gallery: sample {a.sample}'s heatmap differs")
    return problems


def _check_embedding(
    store: RunStore, run_id: str, embed: EmbedConfig, labels: np.ndarray, truth: np.ndarray
) -> list[str]:
    """The stored embedding covers the class's samples with the attack's ground truth, and
    each k's flagged cluster is its smallest."""
    saved = load_embedding(store, run_id, embed)
    name = f"run {run_id} embedding {embed.result_name()}"
    if saved is None:
        return [f"{name}: missing or damaged"]
    members = np.flatnonzero(labels == saved["class"])
    if saved["sample_index"] != members.tolist():
        return [f"{name}: its samples are not the class's"]
    if saved["sample_poisoned"] != truth[members].astype(int).tolist():
        return [f"{name}: its copy of the ground truth is not the attack's"]
    problems = []
    if len(saved["coords"]) != len(members):
        problems.append(f"{name}: {len(saved['coords'])} points for {len(members)} samples")
    for entry in saved["k_choice"]:
        sizes = np.bincount(entry["labels"], minlength=entry["k"])
        if entry["sizes"] != sizes.tolist() or entry["flagged"] != [int(np.argmin(sizes))]:
            problems.append(f"{name} k={entry['k']}: sizes or flag do not follow its labels")
    return problems


def _check_detection(
    store: RunStore, run_id: str, detect: DetectConfig, labels: np.ndarray, truth: np.ndarray
) -> list[str]:
    """The stored rates follow from the stored cluster labels and the ground truth."""
    saved = load_detection(store, run_id, detect)
    name = f"run {run_id} detection {detect.result_name()}"
    if saved is None:
        return [f"{name}: missing or damaged"]
    members = np.flatnonzero(labels == saved["class"])
    if saved["sample_index"] != members.tolist():
        return [f"{name}: its samples are not the class's"]
    if saved.get("sample_poisoned") != truth[members].astype(int).tolist():
        return [f"{name}: its copy of the ground truth is not the attack's"]
    flagged = np.isin(saved["cluster_labels"], saved["flagged_clusters"])
    recomputed = detection_metrics(flagged, truth[members])
    return [
        f"{name} {key}: stored {saved[key]}, from its labels {recomputed[key]}"
        for key in ("tp", "tn", "fp", "fn")
        if saved[key] != recomputed[key]
    ] + [
        problem
        for key in ("acc", "tpr", "tnr")
        for problem in _close(f"{name} {key}", saved[key], recomputed[key])
    ]


def _check_sweeps(store: RunStore, plan: ExamplePlan, pool_labels: np.ndarray) -> list[str]:
    problems = []
    for sweep in plan.sweeps:
        path = store.root / SWEEPS_FOLDER / f"{sweep.sweep_id()}.json"
        if not path.is_file():
            problems.append(f"sweep {sweep.sweep_id()}: no record")
            continue
        stored = read_json_object(path, ("cells",))
        fresh = sweep_record(sweep, store)
        if any(cell is None for cell in fresh["cells"]):
            problems.append(f"sweep {sweep.sweep_id()}: cells are missing")
            continue
        for summary, recorded in zip(fresh["cells"], stored["cells"], strict=True):
            if recorded is None or recorded["run_id"] != summary["run_id"]:
                problems.append(f"sweep {sweep.sweep_id()}: a recorded cell is not the plan's")
        for cell in sweep.cells():
            config = resolve(cell)
            run_id = config.run_id()
            problems += _check_ids(store, run_id)
            n_classes = len(store.load_metrics(run_id)["class_names"])
            truth = poisoned_mask(pool_labels, config.attack, n_classes)
            labels = np.where(truth, config.attack.target, pool_labels)
            for detector in sweep.detectors:
                detect = cell_detect_config(sweep.detect, detector)
                problems += _check_detection(store, run_id, detect, labels, truth)
    return problems
