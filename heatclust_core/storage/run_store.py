"""Trained runs on disk, one folder per run id under models/.

A folder holds model.safetensors, config.json, metrics.json and train_set.npz (the attacked
pool and its ground-truth mask). It is assembled in a hidden temporary folder and renamed into
place in one step, so a run folder is either complete or absent.

A read-only store (the shipped example, see example.py) may also hold runs without their
network and training set, whose results only are kept, and training sets that keep the images
of some samples only (`image_index`).

Over 300 lines by choice: a run folder's format is one contract (its file names, the keys
every reader needs, the health check that reads them, the atomic publication that writes
them), and those change together.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import tarfile
import time
import uuid
from pathlib import Path
from typing import get_args

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import HeadPool, RunConfig, from_stored
from heatclust_core.data.imageset import ImageSet
from heatclust_core.errors import DamagedFileError, RunNotFoundError, StorageError
from heatclust_core.storage.atomic import (
    TEMPORARY_SUFFIX,
    atomic_write,
    check_npz_arrays,
    check_safetensors,
    read_json_object,
    read_npz,
    write_json,
    write_npz,
)
from heatclust_core.training.network import Classifier

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
TRAIN_SET_FILE = "train_set.npz"
_REQUIRED = (MODEL_FILE, CONFIG_FILE, METRICS_FILE, TRAIN_SET_FILE)
# What a run folder of a read-only store needs at least: the results without the network.
_RESULTS = (CONFIG_FILE, METRICS_FILE)
# Run ids are 12 hex digits (RunConfig.run_id); other folders here (sweeps/) are not runs.
RUN_ID_PATTERN = re.compile(r"[0-9a-f]{12}")
# What pages and reports read of every run's files; a file without them is damaged.
METRICS_KEYS = ("clean_accuracy", "asr", "masr", "per_class_asr", "class_names", "history")
TRAIN_SET_ARRAYS = ("images", "labels", "is_poisoned", "original_labels", "trigger_positions")


class RunStore:
    def __init__(self, root: str | Path = "models", *, read_only: bool = False):
        self.root = Path(root)
        self.read_only = read_only
        self._required = _RESULTS if read_only else _REQUIRED

    def path(self, run_id: str) -> Path:
        return self.root / run_id

    def exists(self, run_id: str) -> bool:
        """A finished run whose files all read back: usable, and not to be trained again."""
        return self.path(run_id).is_dir() and self.problem(run_id) is None

    def _complete(self, run_id: str) -> bool:
        folder = self.path(run_id)
        return all((folder / name).is_file() for name in self._required)

    def has_network(self, run_id: str) -> bool:
        """Whether the run keeps its weights and training set (a read-only store's sweep cells
        keep their results only)."""
        folder = self.path(run_id)
        return (folder / MODEL_FILE).is_file() and (folder / TRAIN_SET_FILE).is_file()

    def folders(self) -> list[str]:
        """Every run folder, finished or not, damaged or not (hidden working folders aside)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if RUN_ID_PATTERN.fullmatch(p.name) and p.is_dir()
        )

    def run_ids(self) -> list[str]:
        """The runs whose files are all there and read back (see problem())."""
        return [run_id for run_id in self.folders() if self.exists(run_id)]

    def damaged(self) -> dict[str, str]:
        """Run folder -> why it cannot be used, for every folder that is not a healthy run."""
        return {
            run_id: reason
            for run_id in self.folders()
            if (reason := self.problem(run_id)) is not None
        }

    def problem(self, run_id: str) -> str | None:
        """None for a healthy run, else one line on what is wrong with its folder.

        Checks that each file is there and reads back: the JSON files parse with their keys,
        the weights' header and size agree, the training set's archive directory lists its
        arrays. Cached per file size and modification time, so pages can ask on every rerun.
        """
        folder = self.path(run_id)
        missing = [name for name in self._required if not (folder / name).is_file()]
        if missing:
            return f"unfinished or damaged: no {', '.join(missing)}"
        try:
            signature = tuple(
                _signature(folder / name) if (folder / name).is_file() else None
                for name in _REQUIRED
            )
        except FileNotFoundError:  # deleted meanwhile
            return "unfinished or damaged: a file vanished while it was read"
        return _check_folder(str(folder), signature)

    def save(
        self,
        run_id: str,
        model: Classifier,
        config: RunConfig,
        metrics: dict,
        poisoned: PoisonedSet,
    ) -> Path:
        self._writable()

        def fill(staging: Path) -> None:
            state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            # save() then our write: safetensors' save_file makes its files private (0600).
            metadata = {"n_classes": str(_n_classes(model)), "head_pool": model.head_pool}
            packed = save(state, metadata=metadata)
            atomic_write(staging / MODEL_FILE, lambda handle: handle.write(packed))
            write_json(staging / CONFIG_FILE, {"run_id": run_id, "config": config.model_dump()})
            write_json(staging / METRICS_FILE, metrics)
            write_npz(
                staging / TRAIN_SET_FILE,
                images=poisoned.data.images,
                labels=poisoned.data.labels,
                is_poisoned=poisoned.is_poisoned,
                original_labels=poisoned.original_labels,
                trigger_positions=poisoned.trigger_positions,
            )

        self.remove_leftovers()
        self._publish(run_id, fill)
        return self.path(run_id)

    def import_archive(self, run_id: str, archive: bytes) -> bool:
        """Add a run folder packed as a tar.gz (from a remote worker), atomically; False if the
        run was already here. Refuses archives with paths outside the folder."""
        self._writable()
        if self.exists(run_id):
            return False

        def fill(staging: Path) -> None:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as packed:
                packed.extractall(staging, filter="data")
            if not all((staging / name).is_file() for name in _REQUIRED):
                raise ValueError(f"archive of run {run_id} lacks some of {', '.join(_REQUIRED)}")

        return self._publish(run_id, fill)

    def _publish(self, run_id: str, fill) -> bool:
        """Let `fill(folder)` write a hidden staging folder, then rename it into place in one
        step. False if a concurrent twin got there first (its folder is kept)."""
        staging = self.root / f".staging-{run_id}-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            fill(staging)
            if self.path(run_id).is_dir() and self.problem(run_id) is not None:
                # A damaged or half-deleted folder of this run: the new one replaces it.
                self.delete(run_id)
            try:
                os.rename(staging, self.path(run_id))
            except OSError:
                if not self.exists(run_id):
                    raise
                return False
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return True

    def delete(self, run_id: str) -> bool:
        """Remove a run folder: renamed away in one step first, so it vanishes whole."""
        self._writable()
        folder = self.path(run_id)
        if not folder.is_dir():
            return False
        doomed = self.root / f".deleting-{run_id}-{uuid.uuid4().hex[:8]}"
        os.rename(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return True

    def remove_leftovers(self, older_than_s: float = 3600.0) -> list[Path]:
        """Delete staging and deleting folders and temporary files that a killed process left,
        if older than `older_than_s` (younger ones may belong to a process still running)."""
        if self.read_only or not self.root.is_dir():
            return []
        cutoff = time.time() - older_than_s
        removed = []
        for path in self.root.rglob(f"*{TEMPORARY_SUFFIX}"):
            if path.name.startswith(".") and _older(path, cutoff):
                path.unlink(missing_ok=True)
                removed.append(path)
        for path in self.root.iterdir():
            if path.name.startswith((".staging-", ".deleting-")) and _older(path, cutoff):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError(self.root, "this store is read-only (the shipped example)")

    def _require(self, run_id: str) -> Path:
        """The run's folder; RunNotFoundError if it is not complete, DamagedFileError naming
        the first damaged file if one is, whichever file the caller is about to read."""
        if not self._complete(run_id):
            raise RunNotFoundError(f"no finished run {run_id!r} in {self.root}")
        if self.problem(run_id) is not None:
            damage = _damage(self.path(run_id))
            if damage is not None:
                raise damage
        return self.path(run_id)

    def load_config(self, run_id: str) -> RunConfig:
        return _read_config(self._require(run_id) / CONFIG_FILE)

    def load_metrics(self, run_id: str) -> dict:
        return read_json_object(self._require(run_id) / METRICS_FILE, METRICS_KEYS)

    def load_model(self, run_id: str, device: torch.device | str = "cpu") -> Classifier:
        path = self._require_network(run_id) / MODEL_FILE
        try:
            with safe_open(str(path), framework="pt") as handle:
                names = handle.keys()  # safe_open handles are not iterable
                state = {name: handle.get_tensor(name) for name in names}
                head_pool = _head_pool(handle.metadata())
            model = Classifier(int(state["net.fc2.weight"].shape[0]), head_pool=head_pool)
            model.load_state_dict(state)
        except (SafetensorError, RuntimeError, KeyError, ValueError, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise DamagedFileError(path, str(exc).splitlines()[0][:200]) from exc
        return model.to(device).eval()

    def _require_network(self, run_id: str) -> Path:
        folder = self._require(run_id)
        if not self.has_network(run_id):
            raise RunNotFoundError(
                f"{self.root} keeps the results of run {run_id} only, not its network"
            )
        return folder

    def load_train_set(self, run_id: str) -> PoisonedSet:
        path = self._require_network(run_id) / TRAIN_SET_FILE
        arrays = read_npz(path, TRAIN_SET_ARRAYS)
        images, available = arrays["images"], None
        if "image_index" in arrays:  # only some images kept: the others are zeros
            kept = arrays["image_index"]
            n = len(arrays["labels"])
            if len(kept) != len(images) or (len(kept) and not 0 <= kept.min() <= kept.max() < n):
                raise DamagedFileError(path, "image_index does not match its images")
            images = np.zeros((n, *arrays["images"].shape[1:]), dtype=arrays["images"].dtype)
            images[kept] = arrays["images"]
            available = np.zeros(n, dtype=bool)
            available[kept] = True
        return PoisonedSet(
            ImageSet(images, arrays["labels"]),
            arrays["is_poisoned"].astype(bool),
            arrays["original_labels"],
            arrays["trigger_positions"],
            available,
        )


def write_partial_train_set(path: Path, poisoned: PoisonedSet, keep: np.ndarray) -> None:
    """Write `poisoned` to `path` keeping the images of the samples `keep` (indices) only:
    the shipped example's form of train_set.npz (the pool's images do not compress)."""
    keep = np.asarray(np.sort(keep), dtype=np.int64)
    write_npz(
        path,
        images=poisoned.data.images[keep],
        image_index=keep,
        labels=poisoned.data.labels,
        is_poisoned=poisoned.is_poisoned,
        original_labels=poisoned.original_labels,
        trigger_positions=poisoned.trigger_positions,
    )


def _head_pool(metadata: dict[str, str] | None) -> HeadPool:
    """The head pooling a network file's metadata names; files from before it was recorded
    hold average-pooling networks. The pooling has no weights, so the file must say it."""
    stored = (metadata or {}).get("head_pool", "average")
    if stored not in get_args(HeadPool):
        raise ValueError(f"unknown head_pool {stored!r} in the file's metadata")
    return stored


def _n_classes(model: Classifier) -> int:
    return int(model.net.fc2.out_features)


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False


@functools.lru_cache(maxsize=4096)
def _check_folder(folder: str, signature: tuple) -> str | None:
    """problem()'s reading, keyed by the files' sizes and times so a rewrite is read again."""
    del signature
    damage = _damage(Path(folder))
    return None if damage is None else f"{Path(damage.path).name} is damaged: {damage.reason}"


def _damage(base: Path) -> DamagedFileError | None:
    """The first damaged file of a complete run folder, as the error to raise; None if none.
    The network's files are checked where they are there (a results-only run lacks them)."""
    try:
        _read_config(base / CONFIG_FILE)
        read_json_object(base / METRICS_FILE, METRICS_KEYS)
        if (base / MODEL_FILE).is_file():
            check_safetensors(base / MODEL_FILE)
        if (base / TRAIN_SET_FILE).is_file():
            check_npz_arrays(base / TRAIN_SET_FILE, TRAIN_SET_ARRAYS)
    except DamagedFileError as exc:
        return exc
    return None


def _read_config(path: Path) -> RunConfig:
    stored = read_json_object(path, ("config",))
    try:
        return from_stored(RunConfig, stored["config"])
    except ValidationError as exc:
        reason = f"not a run configuration: {exc.errors()[0]['msg']}"
        raise DamagedFileError(path, reason) from exc


__all__ = ["RunStore", "write_partial_train_set"]
