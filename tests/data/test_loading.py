from pathlib import Path

import numpy as np
import pytest

from heatclust_core.config import DataConfig
from heatclust_core.data import synthetic
from heatclust_core.data.loading import class_names, load_dataset
from heatclust_core.errors import DatasetError
from tests.helpers import make_official


def test_synthetic_split_is_stratified_and_cached(tmp_path):
    tiny_data = DataConfig(data_dir=str(tmp_path / "data"), images_per_class=20)  # generated here
    cache = Path(tiny_data.data_dir) / "cache"
    first = load_dataset(tiny_data)
    cache_files = list(cache.glob("*.npz"))
    assert len(cache_files) == 1
    counts = synthetic.class_counts(tiny_data.images_per_class)
    assert len(first.pool) + len(first.test) == counts.sum()
    # Stratified: a quarter of every class is test data.
    assert np.abs(first.test.class_counts(43) - 0.25 * counts).max() <= 1
    second = load_dataset(tiny_data)
    np.testing.assert_array_equal(first.pool.images, second.pool.images)
    assert list(cache.glob("*.npz")) == cache_files


@pytest.mark.parametrize(
    "damage",
    ["truncate", *(pytest.param(d, marks=pytest.mark.slow) for d in ("empty", "drop_array"))],
)
def test_a_damaged_cache_is_rebuilt_not_fatal(tiny_data, damage):
    first = load_dataset(tiny_data)
    (cache,) = (Path(tiny_data.data_dir) / "cache").glob("*.npz")
    if damage == "truncate":
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    elif damage == "empty":
        cache.write_bytes(b"")
    else:
        np.savez(cache, pool_images=first.pool.images)
    again = load_dataset(tiny_data)
    np.testing.assert_array_equal(again.test.images, first.test.images)
    np.testing.assert_array_equal(load_dataset(tiny_data).pool.labels, first.pool.labels)


def test_gtsrb_config_loads_a_user_folder(tmp_path):
    make_official(tmp_path)
    config = DataConfig(dataset="gtsrb", data_dir=str(tmp_path))
    assert len(class_names(config)) == 43
    dataset = load_dataset(config)
    assert dataset.n_classes == 43 and len(dataset.pool) == 9 and len(dataset.test) == 6


def test_gtsrb_missing_folder_writes_nothing(tmp_path):
    config = DataConfig(dataset="gtsrb", data_dir=str(tmp_path / "absent"))
    with pytest.raises(DatasetError):
        load_dataset(config)
    assert not (tmp_path / "absent").exists()


def test_unwritable_cache_location_still_loads(tmp_path):
    """A data folder where the cache cannot be written (here a file blocks the cache folder,
    which stops root too) still loads, without caching."""
    make_official(tmp_path)
    (tmp_path / "cache").write_text("not a folder")
    dataset = load_dataset(DataConfig(dataset="gtsrb", data_dir=str(tmp_path)))
    assert len(dataset.pool) == 9
    assert (tmp_path / "cache").read_text() == "not a folder"
