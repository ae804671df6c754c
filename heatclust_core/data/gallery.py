"""Per-class overviews of a data set for display: example thumbnails and counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heatclust_core.data.imageset import Dataset


@dataclass(frozen=True)
class ClassOverview:
    class_id: int
    name: str
    n_pool: int
    n_test: int
    examples: np.ndarray  # (k, 32, 32, 3) uint8


def class_overview(
    dataset: Dataset, examples_per_class: int = 4, seed: int = 0
) -> list[ClassOverview]:
    """One entry per class, with `examples_per_class` pool images chosen reproducibly."""
    rng = np.random.default_rng(seed)
    pool_counts = dataset.pool.class_counts(dataset.n_classes)
    test_counts = dataset.test.class_counts(dataset.n_classes)
    overview = []
    for class_id, name in enumerate(dataset.class_names):
        members = np.flatnonzero(dataset.pool.labels == class_id)
        k = min(examples_per_class, len(members))
        chosen = np.sort(rng.choice(members, size=k, replace=False)) if k else members
        overview.append(
            ClassOverview(
                class_id,
                name,
                int(pool_counts[class_id]),
                int(test_counts[class_id]),
                dataset.pool.images[chosen],
            )
        )
    return overview


def upscale(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """Nearest-neighbour enlargement so 32x32 pixels stay crisp in a browser."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
