"""Load a data set by its DataConfig, caching the decoded arrays under the data folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np

from heatclust_core.config import DataConfig
from heatclust_core.data import gtsrb, synthetic
from heatclust_core.data.imageset import Dataset, ImageSet, stratified_split
from heatclust_core.errors import DamagedFileError
from heatclust_core.storage.atomic import read_npz, write_npz

_CACHED_ARRAYS = ("pool_images", "pool_labels", "test_images", "test_labels")


def class_names(config: DataConfig) -> tuple[str, ...]:
    """Class names of the configured set, checking that a GTSRB folder is there (cheap)."""
    if config.dataset == "synthetic":
        return synthetic.CLASS_NAMES
    gtsrb.locate(config.data_dir)
    return gtsrb.CLASS_NAMES


def pool_class_counts(config: DataConfig) -> np.ndarray:
    """(n_classes,) training-pool images per class, counted without rendering or decoding any
    image, so an attack's feasibility is checked before a job starts."""
    if config.dataset == "synthetic":
        counts = synthetic.class_counts(config.images_per_class)
        labels = np.repeat(np.arange(len(counts)), counts)
        pool_index, _ = stratified_split(labels, config.test_fraction, config.seed)
        return np.bincount(labels[pool_index], minlength=len(counts))
    labels = gtsrb.train_labels(gtsrb.locate(config.data_dir))
    return np.bincount(labels, minlength=gtsrb.N_CLASSES)


def fingerprint(config: DataConfig) -> str:
    """What identifies the data's content: generator version and parameters, or GTSRB's files."""
    if config.dataset == "synthetic":
        content = {
            "generator": synthetic.GENERATOR_VERSION,
            "images_per_class": config.images_per_class,
            "seed": config.seed,
            "test_fraction": config.test_fraction,
        }
        return (
            "synthetic-"
            + hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
        )
    return "gtsrb-" + gtsrb.fingerprint(gtsrb.locate(config.data_dir))


def load_dataset(config: DataConfig) -> Dataset:
    cache = Path(config.data_dir) / "cache" / f"{fingerprint(config)}.npz"
    arrays = _read_cache(cache)
    if arrays is not None:
        pool = ImageSet(arrays["pool_images"], arrays["pool_labels"])
        test = ImageSet(arrays["test_images"], arrays["test_labels"])
    else:
        pool, test = _build(config)
        # A read-only data folder (a shared GTSRB copy) works, just without the cache.
        with contextlib.suppress(OSError):
            write_npz(
                cache,
                pool_images=pool.images,
                pool_labels=pool.labels,
                test_images=test.images,
                test_labels=test.labels,
            )
    return Dataset(config.dataset, class_names(config), pool, test)


def _read_cache(cache: Path) -> dict | None:
    """The cached arrays, or None when there are none or they are damaged (then rebuilt)."""
    try:
        return read_npz(cache, _CACHED_ARRAYS)
    except (FileNotFoundError, DamagedFileError):
        return None


def _build(config: DataConfig) -> tuple[ImageSet, ImageSet]:
    if config.dataset == "gtsrb":
        return gtsrb.load(gtsrb.locate(config.data_dir))
    images, labels = synthetic.generate(config.images_per_class, config.seed)
    pool_index, test_index = stratified_split(labels, config.test_fraction, config.seed)
    everything = ImageSet(images, labels)
    return everything.subset(pool_index), everything.subset(test_index)
