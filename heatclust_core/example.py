"""The shipped example: a finished analysis the app shows before anything is trained.

The default attack's run with every detector (HC with its MDS picture), the class scan and
the target class's five embeddings (the explorer's), and two sweeps: the standard attack over p and the amplitude attack over amp, so that Compare's
live tuning works at once. It is built from the current defaults (`python -m heatclust_core
example --rebuild`), deterministically, in a scratch run store; then what the app draws is
copied into example/ (read-only to the app; new runs go to models/):

    example/manifest.json         what was built, when, how long it took, with which code
    example/models/RUN/           the default run: weights, config, metrics, detections,
                                  scans, embeddings, and its training set with the target class's
                                  images only (the pool's images do not compress)
    example/models/CELL/          a sweep cell: config, metrics and detections only
    example/models/sweeps/*.json  the sweep records

`check_example` proves the shipped files are what the code produces: the weights give the
stored rates on the regenerated data, the stored ground truth is the attack's, every stored
detection's rates follow from its labels, and the ids are those of the current defaults.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import heatclust_core
from heatclust_core.attacks.poison import poison, poisoned_mask
from heatclust_core.config import RunConfig
from heatclust_core.data.imageset import Dataset
from heatclust_core.data.loading import load_dataset
from heatclust_core.detect_run import (
    DETECTORS,
    DetectConfig,
    detection_path,
    load_detection,
    run_detection,
)
from heatclust_core.detection import detection_metrics
from heatclust_core.errors import DamagedFileError, HeatClustError
from heatclust_core.explore.embeddings import (
    EMBEDDING_METHODS,
    EmbedConfig,
    embedding_path,
    load_embedding,
    run_embedding,
)
from heatclust_core.metrics import attack_metrics
from heatclust_core.model import pick_device
from heatclust_core.pipeline import resolve, train_run
from heatclust_core.progress import Progress, silent
from heatclust_core.run_store import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TRAIN_SET_FILE,
    RunStore,
    write_partial_train_set,
)
from heatclust_core.scan import ScanConfig, run_scan, scan_path
from heatclust_core.storage import read_json_object, write_json
from heatclust_core.sweeps.cell import cell_detect_config
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.runner import SWEEPS_FOLDER, run_sweep, sweep_record

MANIFEST_FILE = "manifest.json"
MODELS_FOLDER = "models"
MANIFEST_KEYS = ("format", "main_run", "sweeps", "built", "seconds")
FORMAT = 1
# Stored and recomputed rates may differ by this many test images each: float32 convolutions
# on another CPU (AMX, AVX512, a GPU) sum in another order, which can flip an image that lies
# on a decision boundary.
FLIPS_ALLOWED = 2
SWEEP_DETECTORS = ("ac", "ss", "hc")


@dataclass(frozen=True)
class ExamplePlan:
    """What the example holds: `run` with `detections`, `scan` and the target class's
    `embeddings` (the explorer's), and `sweeps`."""

    run: RunConfig
    detections: tuple[DetectConfig, ...]
    scan: ScanConfig
    sweeps: tuple[SweepConfig, ...]
    embeddings: tuple[EmbedConfig, ...] = ()


def default_plan(base: RunConfig | None = None) -> ExamplePlan:
    """The example of the current defaults: every detector on the default run, and sweeps over
    p (standard, 33/15/10/5 %) and amp (amplitude, 128/64/32 at p = 33 %)."""
    base = base or RunConfig()
    return ExamplePlan(
        run=base,
        detections=tuple(DetectConfig(detector=name) for name in DETECTORS),
        scan=ScanConfig(),
        embeddings=tuple(EmbedConfig(method=method) for method in EMBEDDING_METHODS),
        sweeps=(
            SweepConfig(
                name="example-standard-p",
                base=base,
                kinds=("standard",),
                p=(33.0, 15.0, 10.0, 5.0),
                detectors=SWEEP_DETECTORS,
            ),
            SweepConfig(
                name="example-amplitude-amp",
                base=base,
                kinds=("amplitude",),
                amp=(128, 64, 32),
                detectors=SWEEP_DETECTORS,
            ),
        ),
    )


def example_store(example_dir: str | Path) -> RunStore:
    """The example's runs, read-only."""
    return RunStore(Path(example_dir) / MODELS_FOLDER, read_only=True)


def read_manifest(example_dir: str | Path) -> dict[str, Any] | None:
    """The example's manifest; None when there is no example there. DamagedFileError when
    the manifest cannot be read."""
    path = Path(example_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    return read_json_object(path, MANIFEST_KEYS)


def build_example(
    example_dir: str | Path,
    work_dir: str | Path,
    plan: ExamplePlan | None = None,
    device: str = "auto",
    progress: Progress = silent,
) -> dict[str, Any]:
    """Compute `plan` in the run store `work_dir` (what is cached there is reused: delete it
    to start from nothing), then replace `example_dir` with what the app draws, in one rename.
    Returns the manifest."""
    plan = plan or default_plan()
    work = RunStore(work_dir)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    run = train_run(plan.run, work, device, progress)
    seconds["train"] = time.perf_counter() - started
    for detect in plan.detections:
        if load_detection(work, run.run_id, detect) is None:
            run_detection(work, run.run_id, detect, device, progress)
    seconds["detections"] = time.perf_counter() - started - seconds["train"]
    if not scan_path(work, run.run_id, plan.scan).is_file():
        run_scan(work, run.run_id, plan.scan, device, progress)
    mark = time.perf_counter()
    for embed in plan.embeddings:
        if load_embedding(work, run.run_id, embed) is None:
            run_embedding(work, run.run_id, embed, device, progress)
    seconds["embeddings"] = time.perf_counter() - mark
    mark = time.perf_counter()
    records = [run_sweep(sweep, work, device=device, progress=progress) for sweep in plan.sweeps]
    seconds["sweeps"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started

    manifest = {
        "format": FORMAT,
        "main_run": run.run_id,
        "sweeps": [record["sweep_id"] for record in records],
        "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        "compute_seconds": _compute_seconds(work, run.run_id, plan, records),
        "heatclust": heatclust_core.__version__,
        "device": str(pick_device(device)),
        "note": "Built by `python -m heatclust_core example --rebuild`; read-only to the app.",
    }
    _publish(Path(example_dir), lambda staging: _export(work, plan, records, staging, manifest))
    return manifest


def _compute_seconds(
    work: RunStore, main: str, plan: ExamplePlan, records: list[dict]
) -> dict[str, float]:
    """What building from nothing costs, summed from the measured times saved with each part
    (a rebuild that reuses cached runs takes less): training (surrogates included),
    detections and the scan, in seconds."""
    runs = {main} | {cell["run_id"] for record in records for cell in record["cells"]}
    runs |= {
        surrogate
        for run_id in list(runs)
        if (surrogate := work.load_metrics(run_id).get("surrogate_run_id"))
    }
    train = sum(work.load_metrics(run_id).get("train_seconds") or 0.0 for run_id in runs)
    detect = sum(
        (load_detection(work, main, detect) or {}).get("seconds", {}).get("total", 0.0)
        for detect in plan.detections
    )
    for sweep, record in zip(plan.sweeps, records, strict=True):
        for cell in record["cells"]:
            detect += sum(cell["detections"][d]["seconds"] or 0.0 for d in sweep.detectors)
    scan = read_json_object(scan_path(work, main, plan.scan), ("seconds",))["seconds"]
    embed = sum(
        (load_embedding(work, main, embed) or {}).get("seconds", {}).get("total", 0.0)
        for embed in plan.embeddings
    )
    total = train + detect + scan + embed
    parts = (("train", train), ("detect", detect), ("scan", scan), ("embed", embed))
    return {name: round(value, 1) for name, value in (*parts, ("total", total))}


def _export(
    work: RunStore, plan: ExamplePlan, records: list[dict], staging: Path, manifest: dict
) -> None:
    models = staging / MODELS_FOLDER
    config = resolve(plan.run)
    main = config.run_id()
    source = work.path(main)
    target = models / main
    target.mkdir(parents=True)
    for name in (MODEL_FILE, CONFIG_FILE, METRICS_FILE):
        shutil.copy2(source / name, target / name)
    train_set = work.load_train_set(main)
    keep = np.flatnonzero(train_set.data.labels == config.attack.target)
    write_partial_train_set(target / TRAIN_SET_FILE, train_set, keep)
    for detect in plan.detections:
        _copy(detection_path(work, main, detect), work.root, models)
    _copy(scan_path(work, main, plan.scan), work.root, models)
    for embed in plan.embeddings:
        _copy(embedding_path(work, main, embed), work.root, models)

    for sweep, record in zip(plan.sweeps, records, strict=True):
        for cell, summary in zip(sweep.cells(), record["cells"], strict=True):
            run_id = summary["run_id"]
            if run_id != main:
                (models / run_id).mkdir(exist_ok=True)
                for name in (CONFIG_FILE, METRICS_FILE):
                    shutil.copy2(work.path(run_id) / name, models / run_id / name)
            for detector in sweep.detectors:
                detect = cell_detect_config(sweep.detect, detector)
                _copy(detection_path(work, resolve(cell).run_id(), detect), work.root, models)
        write_json(models / SWEEPS_FOLDER / f"{record['sweep_id']}.json", record)
    write_json(staging / MANIFEST_FILE, manifest)


def _copy(path: Path, root: Path, destination: Path) -> None:
    """Copy `path` (under `root`) to the same place under `destination`."""
    target = destination / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, target)


def _publish(example_dir: Path, fill) -> None:
    """Let `fill(folder)` write a staging folder beside `example_dir`, then swap it in: a
    failed build leaves the old example whole."""
    example_dir.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    staging = example_dir.parent / f".{example_dir.name}-staging-{tag}"
    retired = example_dir.parent / f".{example_dir.name}-old-{tag}"
    staging.mkdir()
    try:
        fill(staging)
        if example_dir.exists():
            os.rename(example_dir, retired)
        os.rename(staging, example_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


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
