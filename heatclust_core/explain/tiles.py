"""Heatmap tiles, the unit of every heatmap gallery, and their file form (the shipped example
keeps its landing page's gallery, so that page draws without torch or zennit)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heatclust_core.errors import DamagedFileError
from heatclust_core.storage.atomic import read_npz, write_npz

TILE_ARRAYS = ("sample", "image", "heatmap", "poisoned", "label")


@dataclass(frozen=True)
class HeatmapTile:
    """sample: index in the run's training pool; image (H, W, 3) uint8; heatmap (H, W)
    relevance of the sample's label in logit units; poisoned: ground truth."""

    sample: int
    image: np.ndarray
    heatmap: np.ndarray
    poisoned: bool
    label: int


def write_tiles(path: Path, tiles: list[HeatmapTile]) -> None:
    """Save tiles as one archive (atomically): (n,) sample, (n, H, W, 3) image, (n, H, W)
    float32 heatmap, (n,) poisoned, (n,) label."""
    write_npz(
        path,
        sample=np.array([t.sample for t in tiles], dtype=np.int64),
        image=np.stack([t.image for t in tiles]).astype(np.uint8),
        heatmap=np.stack([t.heatmap for t in tiles]).astype(np.float32),
        poisoned=np.array([t.poisoned for t in tiles], dtype=bool),
        label=np.array([t.label for t in tiles], dtype=np.int64),
    )


def read_tiles(path: Path) -> list[HeatmapTile]:
    """The tiles `write_tiles` saved; DamagedFileError when the archive is not whole."""
    arrays = read_npz(path, TILE_ARRAYS)
    if len({len(arrays[name]) for name in TILE_ARRAYS}) != 1 or arrays["image"].ndim != 4:
        raise DamagedFileError(path, "its arrays do not describe one tile each")
    return [
        HeatmapTile(int(sample), image, heatmap, bool(poisoned), int(label))
        for sample, image, heatmap, poisoned, label in zip(
            *(arrays[name] for name in TILE_ARRAYS), strict=True
        )
    ]
