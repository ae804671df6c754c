"""Gallery tiles and their file: written and read back whole; a damaged file is named."""

import numpy as np
import pytest

from heatclust_core.errors import DamagedFileError
from heatclust_core.explain.tiles import HeatmapTile, read_tiles, write_tiles
from heatclust_core.storage.atomic import write_npz


def _tiles():
    rng = np.random.default_rng(0)
    return [
        HeatmapTile(
            sample,
            rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
            rng.normal(size=(8, 8)).astype(np.float32),
            poisoned,
            5,
        )
        for sample, poisoned in ((3, True), (9, False))
    ]


def test_tiles_read_back_as_written(tmp_path):
    write_tiles(tmp_path / "gallery.npz", _tiles())
    for saved, read in zip(_tiles(), read_tiles(tmp_path / "gallery.npz"), strict=True):
        assert (read.sample, read.poisoned, read.label) == (saved.sample, saved.poisoned, 5)
        assert np.array_equal(read.image, saved.image)
        assert np.array_equal(read.heatmap, saved.heatmap)


def test_a_damaged_tiles_file_is_named(tmp_path):
    path = tmp_path / "gallery.npz"
    path.write_bytes(b"not an archive")
    with pytest.raises(DamagedFileError, match=r"gallery\.npz"):
        read_tiles(path)
    arrays = {"sample": np.arange(2), "image": np.zeros((3, 8, 8, 3), np.uint8)}
    arrays |= {"heatmap": np.zeros((2, 8, 8)), "poisoned": np.ones(2, bool), "label": np.ones(2)}
    write_npz(path, **arrays)
    with pytest.raises(DamagedFileError, match="one tile each"):
        read_tiles(path)
