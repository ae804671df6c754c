"""Class scan: Activation Clustering on every class, most suspicious two-cluster split first."""

from __future__ import annotations

import numpy as np
import torch

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.detectors.activation import DEFAULT_LAYER, ActivationClustering
from heatclust_core.model import Classifier
from heatclust_core.progress import Progress, silent


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
