"""Closing the defence loop: drop what a detector flagged, train again, measure what changed.

The cleaned run is an ordinary run (cached by its configuration, which names the attacked run,
the detection and the removed samples). The comparison with the attacked run, BackdoorBench's
defence effectiveness rating and ART's exclusionary reclassification are saved beside the
attacked run's detections, as remediations/<name>.json.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
from pydantic import Field

from heatclust_core.attacks.metrics import predict
from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import BaseConfig, RemovalConfig, RemovalMode, RunConfig
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.run import load_detection, resolve_class, run_detection
from heatclust_core.detection.scoring import detection_metrics
from heatclust_core.detection.trigger import DEFAULT_MAX_SIZE, DEFAULT_TOLERANCE, recover_trigger
from heatclust_core.errors import ConfigError
from heatclust_core.explain.lrp import explain
from heatclust_core.explain.options import LRPOptions
from heatclust_core.pipeline import train_run
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.results import RunResults
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import pick_device


class RemediateConfig(BaseConfig):
    detect: DetectConfig = DetectConfig()
    mode: RemovalMode = Field(
        "retrain",
        description="retrain: a fresh network on the cleaned set; finetune: the attacked "
        "network trained on the cleaned set",
    )
    finetune_epochs: int = Field(5, ge=1, le=1000, description="finetune: epochs")
    finetune_lr: float = Field(1e-4, gt=0, le=1, description="finetune: Adam learning rate")
    removed: tuple[int, ...] | None = Field(
        None,
        description="pool indices to remove instead of the detection's flags (a selection in "
        "the explorer; samples of the detection's class)",
    )
    exre_threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="ExRe: a flagged cluster whose share classified as its own label by the "
        "cleaned network exceeds this is cleared as a false alarm",
    )
    trigger_search: bool = Field(
        True,
        description="also remove every sample of the class that holds the trigger recovered "
        "from the flagged samples (the patch where their heatmaps peak; a detection's flags "
        "only, not a selection)",
    )
    trigger_max_size: int = Field(
        DEFAULT_MAX_SIZE,
        ge=2,
        le=16,
        description="trigger search: largest side of the patch tried, px (the largest side at "
        "which the flagged samples share one patch wins)",
    )
    trigger_tolerance: float = Field(
        DEFAULT_TOLERANCE,
        ge=0,
        le=1,
        description="trigger search: largest per-pixel difference (0..1) at which an image's "
        "window holds the patch",
    )

    def result_name(self) -> str:
        content = self.model_dump(exclude={"detect"}) | {"detect": self.detect.result_name()}
        if self.removed is None:
            # Names saved before selections existed stay valid.
            content.pop("removed")
        else:
            content["detect"] = None
        if self.mode == "retrain":
            content.pop("finetune_epochs")
            content.pop("finetune_lr")
        if not self.trigger_search or self.removed is not None:
            # Without a search the removal is what it was before the search existed.
            for name in ("trigger_search", "trigger_max_size", "trigger_tolerance"):
                content.pop(name)
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        return f"{self.mode}-{digest[:10]}"


def defence_effectiveness(
    asr_before: float, asr_after: float, acc_before: float, acc_after: float
) -> float:
    """BackdoorBench's DER = [max(0, ASR drop) - max(0, clean accuracy drop) + 1] / 2, in [0, 1]."""
    return (max(0.0, asr_before - asr_after) - max(0.0, acc_before - acc_after) + 1) / 2


def cleaned_config(
    attacked: RunConfig, run_id: str, removed: np.ndarray, config: RemediateConfig
) -> RunConfig:
    """The attacked run's configuration without `removed` (pool indices), in `config.mode`."""
    train = attacked.train
    if config.mode == "finetune":
        train = train.model_copy(
            update={
                "epochs": config.finetune_epochs,
                "lr": config.finetune_lr,
                "patience": min(train.patience, config.finetune_epochs),
            }
        )
    removal = RemovalConfig(
        source_run=run_id,
        detection=_removal_name(config),
        removed=tuple(int(i) for i in np.sort(removed)),
        mode=config.mode,
    )
    return attacked.model_copy(update={"train": train, "removal": removal})


def _removal_name(config: RemediateConfig) -> str:
    """What the removed samples came from: the detection's result name, or a selection's."""
    if config.removed is None:
        return config.detect.result_name()
    text = json.dumps(sorted(config.removed))
    return f"selection-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def selection_detection(store: RunStore, run_id: str, config: RemediateConfig) -> dict:
    """A selection of the class's samples as a detection with one flagged cluster (0: the
    selected, 1: the rest), so removal, rates and ExRe treat it as any detector's flags.

    Raises ConfigError("removed") unless every index is a sample of the detection's class."""
    run_config = store.load_config(run_id)
    class_names = store.load_metrics(run_id)["class_names"]
    class_id = resolve_class(config.detect.class_id, run_config, class_names)
    pool = store.load_train_set(run_id)
    members = np.flatnonzero(pool.data.labels == class_id)
    removed = np.asarray(config.removed, dtype=np.int64)
    if len(removed) == 0:
        raise ConfigError("removed", "the selection is empty: nothing to remove")
    strays = np.setdiff1d(removed, members)
    if len(strays):
        raise ConfigError(
            "removed",
            f"{len(strays)} of the {len(removed)} indices (first {int(strays[0])}) are not "
            f"samples of class {class_id}",
        )
    selected = np.isin(members, removed)
    truth = pool.is_poisoned[members]
    return {
        "detector": "selection",
        "class": class_id,
        "sample_index": members.tolist(),
        "cluster_labels": np.where(selected, 0, 1).tolist(),
        "flagged_clusters": [0],
        **detection_metrics(selected, truth),
    }


def exclusionary_reclassification(
    detection: dict,
    predicted: np.ndarray,
    is_poisoned: np.ndarray,
    threshold: float,
    class_names: list[str],
) -> list[dict]:
    """ART's ExRe per flagged cluster, from the cleaned network's predictions of its samples.

    predicted, is_poisoned: (N,) over the detection's samples (its sample_index order). A
    cluster mostly classified as its own label by a network that never saw it is a false alarm
    (cleared); otherwise the most frequent other class is its suspected source (confirmed).
    ART compares own/other counts against its threshold; a share is easier to read."""
    labels = np.asarray(detection["cluster_labels"])
    own_class = detection["class"]
    verdicts = []
    for cluster in detection["flagged_clusters"]:
        in_cluster = labels == cluster
        votes = np.bincount(predicted[in_cluster], minlength=own_class + 1)
        own_share = float(votes[own_class] / max(1, in_cluster.sum()))
        votes[own_class] = -1
        suspected = int(np.argmax(votes)) if votes.max() > 0 else None
        verdicts.append(
            {
                "cluster": int(cluster),
                "size": int(in_cluster.sum()),
                "truly_poisoned": int(is_poisoned[in_cluster].sum()),
                "own_label_share": own_share,
                "suspected_source": suspected,
                "suspected_source_name": class_names[suspected] if suspected is not None else None,
                "verdict": "cleared" if own_share > threshold else "confirmed",
            }
        )
    return verdicts


# Samples of the other classes the trigger search compares the class with, at most.
TRIGGER_CONTROL_SAMPLES = 4000


def trigger_removal(
    store: RunStore,
    run_id: str,
    pool: PoisonedSet,
    sample_index: np.ndarray,
    flagged: np.ndarray,
    config: RemediateConfig,
    device: str,
) -> dict:
    """The trigger search over the detection's class (sample_index: its pool indices, flagged:
    (N,) bool over them): what it found, and matched_index, the pool indices of the samples
    holding the trigger (empty if none was found)."""
    torch_device = pick_device(device)
    model = store.load_model(run_id, torch_device)
    flagged_ids = sample_index[flagged]
    heatmaps = explain(
        model,
        pool.data.images[flagged_ids],
        pool.data.labels[flagged_ids],
        torch_device,
        LRPOptions(composite=config.detect.lrp_composite),
    ).heatmaps()
    others = np.flatnonzero(pool.data.labels != pool.data.labels[sample_index[0]])
    if pool.image_available is not None:  # a shipped example keeps only its class's images
        others = others[pool.image_available[others]]
    rng = np.random.default_rng(config.detect.seed)
    if len(others) > TRIGGER_CONTROL_SAMPLES:
        others = np.sort(rng.choice(others, TRIGGER_CONTROL_SAMPLES, replace=False))
    search = recover_trigger(
        pool.data.images[sample_index],
        np.flatnonzero(flagged),
        heatmaps,
        pool.data.images[others],
        config.trigger_max_size,
        config.trigger_tolerance,
        config.detect.seed,
    )
    matched = sample_index[search.matched]
    added = search.matched & ~flagged
    return {
        "found": search.found,
        "size": search.size,
        "holders": search.holders,
        "support": search.support,
        "background": search.background,
        "class_share": search.class_share,
        "other_share": search.other_share,
        "patch": None if search.patch is None else np.round(search.patch, 4).tolist(),
        "matched": int(search.matched.sum()),
        "matched_poisoned": int(pool.is_poisoned[matched].sum()),
        "added": int(added.sum()),
        "added_poisoned": int(pool.is_poisoned[sample_index[added]].sum()),
        "matched_index": matched,
    }


def remediate(
    store: RunStore,
    run_id: str,
    config: RemediateConfig,
    device: str = "auto",
    progress: Progress = silent,
) -> dict:
    """Detect (or reuse the saved detection), train the cleaned run (or reuse it), compare;
    a remediation already saved is returned as it is."""
    started = time.perf_counter()
    saved = load_remediation(store, run_id, config)
    if saved is not None:
        return saved | {"cached": True}
    attacked = store.load_config(run_id)
    before = store.load_metrics(run_id)
    if config.removed is not None:
        detection = selection_detection(store, run_id, config)
    else:
        detection = load_detection(store, run_id, config.detect)
    if detection is None:
        detection = run_detection(store, run_id, config.detect, device, progress)
    sample_index = np.asarray(detection["sample_index"])
    flagged = np.isin(detection["cluster_labels"], detection["flagged_clusters"])
    removed = sample_index[flagged]
    if len(removed) == 0:
        raise ConfigError(
            "detect", f"the {config.detect.detector} detection flagged no sample: nothing to remove"
        )
    pool = store.load_train_set(run_id)
    trigger = None
    if config.trigger_search and config.removed is None:
        progress("trigger", 0.0, "recovering the trigger from the flagged samples")
        trigger = trigger_removal(store, run_id, pool, sample_index, flagged, config, device)
        progress("trigger", 1.0, f"{trigger['added']} more samples hold it")
        removed = np.union1d(removed, trigger.pop("matched_index"))
    cleaned = train_run(cleaned_config(attacked, run_id, removed, config), store, device, progress)
    after = cleaned.metrics
    exre = None
    if config.mode == "retrain":
        # Only a network that never saw the flagged samples can testify about them.
        torch_device = pick_device(device)
        model = store.load_model(cleaned.run_id, torch_device)
        predicted = predict(model, pool.data.images[sample_index], torch_device)
        exre = exclusionary_reclassification(
            detection,
            predicted,
            pool.is_poisoned[sample_index],
            config.exre_threshold,
            before["class_names"],
        )
    result = {
        "run_id": cleaned.run_id,
        "source_run": run_id,
        "mode": config.mode,
        "detector": detection["detector"],
        "detection": _removal_name(config),
        "class": detection["class"],
        "removed": len(removed),
        "removed_poisoned": int(pool.is_poisoned[removed].sum()),
        "flagged": int(flagged.sum()),
        "trigger": trigger,
        "n_poisoned": int(pool.is_poisoned.sum()),
        "clean_accuracy_before": before["clean_accuracy"],
        "clean_accuracy_after": after["clean_accuracy"],
        "asr_before": before["asr"],
        "asr_after": after["asr"],
        "masr_before": before["masr"],
        "masr_after": after["masr"],
        "der": defence_effectiveness(
            before["asr"], after["asr"], before["clean_accuracy"], after["clean_accuracy"]
        ),
        "per_class_asr_before": before["per_class_asr"],
        "per_class_asr_after": after["per_class_asr"],
        "exre": exre,
        "train_seconds": after["train_seconds"],
        "cached": cleaned.cached,
        "seconds": time.perf_counter() - started,
        "config": config.model_dump(),
        "removed_index": removed.tolist(),
    }
    REMEDIATIONS.save(store, run_id, config, result)
    return result


# What pages and reports read of a saved remediation; a file without these is damaged.
REMEDIATION_KEYS = (
    "run_id",
    "mode",
    "detector",
    "class",
    "removed",
    "removed_poisoned",
    "clean_accuracy_before",
    "clean_accuracy_after",
    "asr_before",
    "asr_after",
    "masr_before",
    "masr_after",
    "der",
    "per_class_asr_before",
    "per_class_asr_after",
    "removed_index",
)
REMEDIATIONS = RunResults("remediations", REMEDIATION_KEYS)
# The pages' names for them: (store, run_id, RemediateConfig) and (store, run_id).
remediation_path = REMEDIATIONS.path
load_remediation = REMEDIATIONS.load
load_remediations = REMEDIATIONS.load_all
