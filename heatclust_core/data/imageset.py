"""In-memory image sets: uint8 arrays of 32x32 RGB images with integer labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageSet:
    """images: (N, H, W, 3) uint8; labels: (N,) int64."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be (N, H, W, 3) uint8, got {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError("labels must be (N,) matching images")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index])

    def class_counts(self, n_classes: int) -> np.ndarray:
        return np.bincount(self.labels, minlength=n_classes)


@dataclass(frozen=True)
class Dataset:
    """A labelled data set split into the train+validation pool and the test set.

    `pool` is what an attacker poisons and a victim trains on (75 % of the data in the paper);
    `test` is never poisoned.
    """

    name: str
    class_names: tuple[str, ...]
    pool: ImageSet
    test: ImageSet

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def stratified_split(
    labels: np.ndarray, second_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (first, second) of a class-stratified split; `second` holds that share."""
    from sklearn.model_selection import train_test_split  # on use: it loads scipy (1 s)

    index = np.arange(len(labels))
    first, second = train_test_split(
        index, test_size=second_fraction, stratify=labels, random_state=seed
    )
    return np.sort(first), np.sort(second)
