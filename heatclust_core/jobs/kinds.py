"""The one table of job kinds: each kind's configuration model, its device slot and what its
process runs. The registry stores the kind's name; the runner schedules by slot; the worker
executes. One training job (a run, a sweep, a remediation's retraining) and one analysis job
(a detector, a class scan) share a device at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from heatclust_core.config import RunConfig, from_stored
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import RemediateConfig, remediate
from heatclust_core.detection.run import run_detection, without_sample_fields
from heatclust_core.detection.scan import ScanConfig, run_scan
from heatclust_core.explore.config import EmbedConfig
from heatclust_core.explore.embeddings import run_embedding
from heatclust_core.jobs.registry import JOB_KINDS, Job
from heatclust_core.pipeline import train_run
from heatclust_core.progress import Progress
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.runner import run_sweep

Slot = Literal["train", "analysis"]


@dataclass(frozen=True)
class JobKind:
    config: type[BaseModel]
    slot: Slot
    # (validated config, job, store, progress) -> the result the registry keeps (no per-sample
    # arrays: those stay in the run folder).
    execute: Callable[[Any, Job, RunStore, Progress], dict[str, Any]]


def _train(config: RunConfig, job: Job, store: RunStore, progress: Progress) -> dict[str, Any]:
    return train_run(config, store, job.device, progress).summary()


def _detect(config: DetectConfig, job: Job, store: RunStore, progress: Progress) -> dict:
    result = run_detection(store, job.run_id, config, job.device, progress)
    return {"result_name": config.result_name()} | without_sample_fields(result)


def _scan(config: ScanConfig, job: Job, store: RunStore, progress: Progress) -> dict:
    return run_scan(store, job.run_id, config, job.device, progress)


def _sweep(config: SweepConfig, job: Job, store: RunStore, progress: Progress) -> dict:
    record = run_sweep(config, store, None, job.device, progress)
    cells = [cell for cell in record["cells"] if cell is not None]
    return {
        "sweep_id": record["sweep_id"],
        "cells_done": len(cells),
        "complete": record["complete"],
    }


def _remediate(config: RemediateConfig, job: Job, store: RunStore, progress: Progress) -> dict:
    result = remediate(store, job.run_id, config, job.device, progress)
    return {"result_name": config.result_name()} | without_sample_fields(result)


def _embed(config: EmbedConfig, job: Job, store: RunStore, progress: Progress) -> dict:
    result = run_embedding(store, job.run_id, config, job.device, progress)
    return {"result_name": config.result_name()} | without_sample_fields(result)


JOB_KIND_TABLE: dict[str, JobKind] = {
    "train": JobKind(RunConfig, "train", _train),
    "sweep": JobKind(SweepConfig, "train", _sweep),
    "remediate": JobKind(RemediateConfig, "train", _remediate),
    "detect": JobKind(DetectConfig, "analysis", _detect),
    "scan": JobKind(ScanConfig, "analysis", _scan),
    "embed": JobKind(EmbedConfig, "analysis", _embed),
}
assert set(JOB_KIND_TABLE) == set(JOB_KINDS), "every registry kind needs a row"


def execute(job: Job, store: RunStore, progress: Progress) -> dict[str, Any]:
    kind = JOB_KIND_TABLE[job.kind]
    return kind.execute(from_stored(kind.config, job.config), job, store, progress)
