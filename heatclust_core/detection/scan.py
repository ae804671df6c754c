"""Class scan: rank every class of a run by how suspicious its training samples look.

A poisoned class holds two populations the network treats differently, so its two-cluster
split is cleaner (higher silhouette) than the arbitrary split of a clean class. The "heatmap"
method splits the LRP heatmaps, as spectral relevance analysis (SpRAy, Lapuschkin et al. 2019)
does to find a Clever Hans: the trigger draws relevance to a place where the class's other
samples have none. The cheaper "activation" method splits the unit-length activations of the
last hidden layer (Activation Clustering's input).

Where the backdoor is weak, the network does not fit every poison: a relabelled sample it
has not learned to read through its trigger is still read as its source class. The "labels"
method scores each class by the largest share of its samples that confident learning's
confident joint (Northcutt, Jiang and Chuang 2021, cleanlab) assigns to one other class,
taken at the lower end of its 95 % Wilson interval, and names that class as the suspected
source. "combined" ranks by the larger of the heatmap and the labels scores, each as a robust
z-score over the classes: a class is suspicious if either signal singles it out.

A weak backdoor (p = 10-15 %) splits neither the heatmaps nor the labels of its class, yet
its poisons still hold the sticker where their heatmaps peak. The "trigger" method (the
default) reads the patches a class's sampled images share there, keeps those far more common
in the class than in the others, and pastes each on images of every other class: a trigger
turns much of its source class into this one; a flat colour or a detail of the class's own
sign hardly any (README, the class scan under "Defaults and how they differ from the paper").
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Literal, get_args

import numpy as np
import torch
from pydantic import Field

from heatclust_core.attacks.metrics import predict
from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import SEED_MAX, BaseConfig
from heatclust_core.detection.detectors.settings import DEFAULT_LAYER
from heatclust_core.detection.trigger import (
    DEFAULT_MAX_SIZE,
    DEFAULT_TOLERANCE,
    enriched_patches,
    paste_patch,
)
from heatclust_core.explain.options import CompositeName, LRPOptions
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.results import RunResults
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import Classifier, batched_logits, pick_device

ScanMethod = Literal["combined", "trigger", "heatmap", "labels", "activation"]
SCAN_METHODS: tuple[str, ...] = get_args(ScanMethod)
# Classes with fewer samples are not split.
MIN_CLASS_SIZE = 10
# The trigger method's control: this many training images drawn once, each class compared
# with those of the others ...
TRIGGER_CONTROL_SAMPLES = 2000
# ... and up to this many of each other class stamped with a candidate patch (a class with
# fewer in the control is left out of the patch's success).
STAMPED_PER_CLASS = 20
MIN_STAMPED = 5
# A candidate patch is pasted only if this many sampled images hold it and it is this many
# times as common in them as in the other classes. Details of a class's own sign that turn a
# look-alike class when pasted (41 End of no passing's, pasted on 32, turned 0.67 of it on the
# p = 10 % network) were held by 2 of the 60; the stickers by 8-23, 253-710x (README).
SCAN_MIN_HOLDERS = 3
SCAN_MIN_ENRICHMENT = 10.0


class ScanConfig(BaseConfig):
    method: ScanMethod = Field(
        "trigger",
        title="Class scan method",
        description="combined: the larger of the heatmap and labels scores as robust "
        "z-scores; heatmap: 2-means of the class's LRP heatmaps (SpRAy); labels: the largest "
        "share of the class the network reads as one other class (confident learning, 95 % "
        "lower bound); trigger: the share of another class turned into it by the patch its "
        "heatmaps peak on and its images share far more often than the other classes' (a "
        "pasted sticker); activation: 2-means of its unit-length activations (cheaper, weaker)",
    )
    samples_per_class: int = Field(
        60,
        ge=MIN_CLASS_SIZE,
        le=100_000,
        description="heatmap, trigger, combined: samples explained per class",
    )
    pool: int = Field(
        2,
        ge=1,
        le=8,
        description="heatmap, combined: side of the sum-pooling window before PCA, px",
    )
    lrp_composite: CompositeName = Field(
        LRPOptions().composite,
        description="heatmap, trigger, combined: zennit composite of the heatmaps",
    )
    trigger_max_size: int = Field(
        DEFAULT_MAX_SIZE, ge=2, le=16, description="trigger: largest side of the patch tried, px"
    )
    trigger_tolerance: float = Field(
        DEFAULT_TOLERANCE,
        ge=0,
        le=1,
        description="trigger: largest per-pixel difference (0..1) at which a window holds a patch",
    )
    layer: str = Field(DEFAULT_LAYER, description="activation: module whose output is split")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="seed of the subsample and of k-means")

    def relevant_fields(self) -> dict:
        own = {
            "heatmap": {"samples_per_class", "pool", "lrp_composite"},
            "combined": {"samples_per_class", "pool", "lrp_composite"},
            "trigger": {
                "samples_per_class",
                "lrp_composite",
                "trigger_max_size",
                "trigger_tolerance",
            },
            "labels": set(),
            "activation": {"layer"},
        }[self.method]
        return self.model_dump(include={"method", "seed"} | own)

    def result_name(self) -> str:
        text = json.dumps(self.relevant_fields(), sort_keys=True)
        return f"scan-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


# What each method looks at, in a sentence for the pages: "the scan ... ranks the classes by".
METHOD_SUMMARIES = {
    "combined": "how cleanly 60 training images' heatmaps split in two, or how large a share "
    "of the class the network confidently reads as one other class, whichever stands out more",
    "heatmap": "how cleanly the heatmaps of 60 training images split in two",
    "labels": "how large a share of the class the network confidently reads as one other class",
    "trigger": "how large a share of another class's images turns into it when a patch is "
    "pasted on them: the patch where 60 of its training images' heatmaps peak that they share "
    "far more often than the other classes' images (a pasted trigger)",
    "activation": "how cleanly the activations of the class's training images split in two",
}


def relevance_maps(heatmaps: np.ndarray, pool: int) -> np.ndarray:
    """(N, H, W) heatmaps -> (N, H/pool * W/pool): positive relevance as shares summing to 1,
    summed over pool x pool blocks (a trigger moved by a pixel stays in its block)."""
    from heatclust_core.explain.point_cloud import pooled_heatmaps  # on use: it loads scipy

    positive = np.clip(heatmaps, 0, None)
    shares = positive / np.maximum(positive.sum(axis=(1, 2), keepdims=True), 1e-12)
    return pooled_heatmaps(shares, pool).reshape(len(shares), -1)


def _split_score(features: np.ndarray, seed: int) -> tuple[float, float]:
    """(silhouette of the 2-means split of PCA-10 features, the smaller cluster's share)."""
    # Imported on use (as zennit below): reading saved scans must not load scikit-learn.
    from heatclust_core.detection.detectors.base import kmeans_with_silhouette, reduce_features

    reduced = reduce_features(features, "pca", 10, seed)
    labels, silhouette = kmeans_with_silhouette(reduced, 2, seed)
    sizes = np.bincount(labels, minlength=2)
    return silhouette, float(sizes.min() / sizes.sum())


def class_probabilities(model: Classifier, images: np.ndarray, device: torch.device) -> np.ndarray:
    """(N, K) softmax probabilities of (N, H, W, 3) uint8 images."""
    return torch.softmax(batched_logits(model, images, device), 1).numpy()


def label_disagreement(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """(K, K) counts: entry (t, s) is the number of samples labelled t that the confident joint
    puts in class s (the diagonal zeroed). A sample counts for s when its probability of s
    reaches class s's mean self-confidence, so a class's ordinary uncertainty does not."""
    # Imported here: cleanlab's package import takes ~1.5 s (its classifiers), which every
    # command that merely builds a ScanConfig would pay.
    from cleanlab.count import compute_confident_joint

    joint = compute_confident_joint(labels, probabilities, calibrate=False).astype(np.int64)
    np.fill_diagonal(joint, 0)
    return joint


def wilson_lower_bound(count: np.ndarray, total: np.ndarray, z: float = 1.96) -> np.ndarray:
    """The lower end of the Wilson score interval (95 % by default) of the share count/total:
    one sample of a rare class of 80 is weaker evidence than 11 of a class of 540."""
    total = np.maximum(total, 1)
    share = count / total
    centre = share + z * z / (2 * total)
    spread = z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return np.maximum((centre - spread) / (1 + z * z / total), 0.0)


def robust_z(scores: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """(score - median) / (1.4826 MAD) over the classes; the scale is at least `floor`, since
    both scores lie in [0, 1] and a spread below a thousandth is no evidence."""
    median = np.median(scores)
    scale = max(1.4826 * float(np.median(np.abs(scores - median))), floor)
    return (scores - median) / scale


def _class_heatmaps(model, train_set, members, device, config: ScanConfig) -> np.ndarray:
    from heatclust_core.explain.lrp import explain

    explanation = explain(
        model,
        train_set.data.images[members],
        train_set.data.labels[members],
        device,
        LRPOptions(composite=config.lrp_composite),
    )
    return explanation.heatmaps()


def scan_classes(
    model: Classifier,
    train_set: PoisonedSet,
    class_names: list[str],
    device: torch.device,
    config: ScanConfig | None = None,
    progress: Progress = silent,
) -> list[dict]:
    """Every class with at least MIN_CLASS_SIZE samples, most suspicious (highest score) first.

    Each entry gives class, name, score and n_samples (those split; the labels method reads
    them all); the split methods add the smaller cluster's share (smaller_share), the labels
    method the suspected source class, the share of the class read as it (source_share) and
    that share's 95 % lower bound (source_share_lower, its score), the trigger method what
    _trigger_evidence finds (patch_success, its score), combined all of these and both
    z-scores."""
    from heatclust_core.detection.detectors.activation import ActivationClustering

    config = config or ScanConfig()
    labels = train_set.data.labels
    sizes = np.bincount(labels, minlength=len(class_names))
    scored = [c for c in range(len(class_names)) if sizes[c] >= MIN_CLASS_SIZE]
    entries = {c: {"class": c, "name": class_names[c], "n_samples": int(sizes[c])} for c in scored}
    if config.method in ("labels", "combined"):
        progress("scan", 0.0, "class probabilities of every training sample")
        counts = label_disagreement(
            labels, class_probabilities(model, train_set.data.images, device)
        )
        source, source_count = counts.argmax(axis=1), counts.max(axis=1)
        source_share = source_count / np.maximum(sizes, 1)
        evidence = wilson_lower_bound(source_count, sizes)
        for c in scored:
            entries[c]["suspected_source"] = int(source[c])
            entries[c]["source_share"] = float(source_share[c])
            entries[c]["source_share_lower"] = float(evidence[c])
    if config.method != "labels":
        rng = np.random.default_rng(config.seed)
        if config.method == "trigger":
            control = rng.choice(len(labels), min(TRIGGER_CONTROL_SAMPLES, len(labels)), False)
        for step, c in enumerate(scored):
            progress("scan", step / len(scored), class_names[c])
            members = np.flatnonzero(labels == c)
            if config.method == "activation":
                detector = ActivationClustering(
                    model, layer=config.layer, normalize=True, device=device, seed=config.seed
                )
                detector.fit(train_set.data.images[members], labels[members])
                split = np.bincount(detector.labels_, minlength=2)
                score, smaller = detector.silhouette_, float(split.min() / split.sum())
            else:
                if len(members) > config.samples_per_class:
                    members = np.sort(rng.choice(members, config.samples_per_class, replace=False))
                heatmaps = _class_heatmaps(model, train_set, members, device, config)
                if config.method == "trigger":
                    entries[c]["n_samples"] = len(members)
                    others = control[labels[control] != c]
                    entries[c].update(
                        _trigger_evidence(
                            model, train_set, c, members, heatmaps, others, device, config, rng
                        )
                    )
                    continue
                score, smaller = _split_score(relevance_maps(heatmaps, config.pool), config.seed)
            entries[c]["n_samples"] = len(members)
            entries[c]["silhouette"] = float(score)
            entries[c]["smaller_share"] = smaller
    if config.method == "combined" and scored:
        heatmap_z = robust_z(np.array([entries[c]["silhouette"] for c in scored]))
        labels_z = robust_z(np.array([entries[c]["source_share_lower"] for c in scored]))
        for c, z_h, z_l in zip(scored, heatmap_z, labels_z, strict=True):
            entries[c].update(heatmap_z=float(z_h), labels_z=float(z_l), score=float(max(z_h, z_l)))
    else:
        key = {"labels": "source_share_lower", "trigger": "patch_success"}.get(
            config.method, "silhouette"
        )
        for entry in entries.values():
            entry["score"] = entry[key]
    progress("scan", 1.0, "done")
    # Ties (no patch flips any class) go to the more enriched patch.
    return sorted(
        entries.values(),
        key=lambda entry: (entry["score"], entry.get("enrichment", 0.0)),
        reverse=True,
    )


def _trigger_evidence(model, train_set, c, members, heatmaps, others, device, config, rng) -> dict:
    """The class's most enriched patches (enriched_patches; SCAN_MIN_HOLDERS,
    SCAN_MIN_ENRICHMENT), each pasted on up to
    STAMPED_PER_CLASS images of every other class: a trigger turns most of its source class's
    images into class c, a detail of c's own sign or a flat colour hardly any. The patch that
    turns the largest share of some class wins (patch_success, the score; patch_source, that
    class)."""
    images, labels = train_set.data.images, train_set.data.labels
    candidates = enriched_patches(
        images[members],
        heatmaps,
        images[others],
        config.trigger_max_size,
        config.trigger_tolerance,
        min_holders=SCAN_MIN_HOLDERS,
        min_enrichment=SCAN_MIN_ENRICHMENT,
    )
    stamped = np.concatenate(
        [others[labels[others] == k][:STAMPED_PER_CLASS] for k in np.unique(labels[others])]
    )
    counted = np.bincount(labels[stamped], minlength=int(labels.max()) + 1)
    best = {"patch_success": 0.0, "patch_source": None, "enrichment": 0.0, "patch_size": 0}
    for candidate in candidates:
        turned = (
            predict(
                model,
                paste_patch(images[stamped], candidate.patch, candidate.positions, rng),
                device,
            )
            == c
        )
        shares = np.bincount(labels[stamped], weights=turned, minlength=len(counted)) / np.maximum(
            counted, 1
        )
        shares[counted < MIN_STAMPED] = 0.0
        source = int(shares.argmax())
        if (shares[source], candidate.enrichment) > (best["patch_success"], best["enrichment"]):
            best = {
                "patch_success": float(shares[source]),
                "patch_source": source if shares[source] > 0 else None,
                "enrichment": candidate.enrichment,
                "patch_size": candidate.size,
                "patch_holders": candidate.holders,
                "patch_class_share": candidate.class_share,
                "patch_other_share": candidate.other_share,
            }
    return best


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
