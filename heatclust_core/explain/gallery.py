"""Heatmaps of a run's suspicious class for the eye: poisoned and clean samples side by side."""

from __future__ import annotations

import numpy as np
import torch

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.explain.lrp import explain
from heatclust_core.explain.options import LRPOptions
from heatclust_core.explain.point_cloud import PointCloud, point_cloud
from heatclust_core.explain.tiles import HeatmapTile
from heatclust_core.training.network import Classifier

GALLERY_LRP = LRPOptions()  # the HC detector's default


def heatmap_gallery(
    model: Classifier,
    train_set: PoisonedSet,
    class_id: int,
    per_group: int = 6,
    lrp: LRPOptions = GALLERY_LRP,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> tuple[list[HeatmapTile], list[HeatmapTile]]:
    """(poisoned tiles, clean tiles) of up to `per_group` seeded draws each from the class."""
    labels = train_set.data.labels
    members = np.flatnonzero(labels == class_id)
    rng = np.random.default_rng(seed)
    groups = []
    for poisoned in (True, False):
        pool = members[train_set.is_poisoned[members] == poisoned]
        take = np.sort(rng.choice(pool, size=min(per_group, len(pool)), replace=False))
        groups.append(take)
    chosen = np.concatenate(groups)
    tiles: list[HeatmapTile] = []
    if len(chosen):
        images = train_set.data.images[chosen]
        heatmaps = explain(model, images, labels[chosen], torch.device(device), lrp).heatmaps()
        tiles = [
            HeatmapTile(
                int(i), images[n], heatmaps[n], bool(train_set.is_poisoned[i]), int(labels[i])
            )
            for n, i in enumerate(chosen)
        ]
    return tiles[: len(groups[0])], tiles[len(groups[0]) :]


def sample_point_cloud(
    model: Classifier,
    train_set: PoisonedSet,
    sample: int,
    share: float = 0.99,
    lrp: LRPOptions = GALLERY_LRP,
    device: torch.device | str = "cpu",
) -> tuple[HeatmapTile, PointCloud]:
    """One sample's heatmap and the relevance point cloud HC would build from it."""
    image = train_set.data.images[sample : sample + 1]
    label = train_set.data.labels[sample : sample + 1]
    heatmap = explain(model, image, label, torch.device(device), lrp).heatmaps()[0]
    tile = HeatmapTile(
        sample, image[0], heatmap, bool(train_set.is_poisoned[sample]), int(label[0])
    )
    return tile, point_cloud(heatmap, share)
