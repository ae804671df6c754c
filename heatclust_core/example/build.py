"""Building the shipped example from the current defaults and publishing it in one step."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import heatclust_core
from heatclust_core.config import RunConfig
from heatclust_core.detection.config import DETECTORS, DetectConfig
from heatclust_core.detection.run import detection_path, load_detection, run_detection
from heatclust_core.detection.scan import ScanConfig, run_scan, scan_path
from heatclust_core.example.shipped import (
    FORMAT,
    GALLERY_FILE,
    GALLERY_PER_GROUP,
    MANIFEST_FILE,
    MODELS_FOLDER,
)
from heatclust_core.explain.gallery import heatmap_gallery
from heatclust_core.explain.tiles import write_tiles
from heatclust_core.explore.config import EMBEDDING_METHODS, EmbedConfig
from heatclust_core.explore.embeddings import embedding_path, load_embedding, run_embedding
from heatclust_core.pipeline import resolve, train_run
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.atomic import read_json_object, write_json
from heatclust_core.storage.run_store import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TRAIN_SET_FILE,
    RunStore,
    write_partial_train_set,
)
from heatclust_core.sweeps.cell import cell_detect_config
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.runner import SWEEPS_FOLDER, run_sweep
from heatclust_core.training.network import pick_device

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
    poisoned, clean = example_gallery(work, main, config.attack.target)
    write_tiles(staging / GALLERY_FILE, poisoned + clean)

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


def example_gallery(store: RunStore, run_id: str, class_id: int):
    """(poisoned tiles, clean tiles) the landing page shows: the gallery's default draw
    on the CPU (so that every machine's check recomputes the same samples)."""
    model = store.load_model(run_id, "cpu")
    return heatmap_gallery(model, store.load_train_set(run_id), class_id, GALLERY_PER_GROUP)


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
