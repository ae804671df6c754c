"""Trained runs on disk, one folder per run id under models/.

A folder holds model.safetensors, config.json, metrics.json and train_set.npz (the attacked
pool and its ground-truth mask). It is assembled in a hidden temporary folder and renamed into
place in one step, so a run folder is either complete or absent.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import RunConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.errors import RunNotFoundError
from heatclust_core.model import Classifier
from heatclust_core.storage import read_json, read_npz, write_json, write_npz

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
TRAIN_SET_FILE = "train_set.npz"
_REQUIRED = (MODEL_FILE, CONFIG_FILE, METRICS_FILE, TRAIN_SET_FILE)


class RunStore:
    def __init__(self, root: str | Path = "models"):
        self.root = Path(root)

    def path(self, run_id: str) -> Path:
        return self.root / run_id

    def exists(self, run_id: str) -> bool:
        folder = self.path(run_id)
        return all((folder / name).is_file() for name in _REQUIRED)

    def run_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and self.exists(p.name)
        )

    def save(
        self,
        run_id: str,
        model: Classifier,
        config: RunConfig,
        metrics: dict,
        poisoned: PoisonedSet,
    ) -> Path:
        def fill(staging: Path) -> None:
            state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
            save_file(
                state, str(staging / MODEL_FILE), metadata={"n_classes": str(_n_classes(model))}
            )
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

        self._publish(run_id, fill)
        return self.path(run_id)

    def import_archive(self, run_id: str, archive: bytes) -> bool:
        """Add a run folder packed as a tar.gz (from a remote worker), atomically; False if the
        run was already here. Refuses archives with paths outside the folder."""
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
        folder = self.path(run_id)
        if not folder.is_dir():
            return False
        doomed = self.root / f".deleting-{run_id}-{uuid.uuid4().hex[:8]}"
        os.rename(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        return True

    def _require(self, run_id: str) -> Path:
        if not self.exists(run_id):
            raise RunNotFoundError(f"no finished run {run_id!r} in {self.root}")
        return self.path(run_id)

    def load_config(self, run_id: str) -> RunConfig:
        return RunConfig.model_validate(read_json(self._require(run_id) / CONFIG_FILE)["config"])

    def load_metrics(self, run_id: str) -> dict:
        return read_json(self._require(run_id) / METRICS_FILE)

    def load_model(self, run_id: str, device: torch.device | str = "cpu") -> Classifier:
        state = load_file(str(self._require(run_id) / MODEL_FILE))
        model = Classifier(int(state["net.fc2.weight"].shape[0]))
        model.load_state_dict(state)
        return model.to(device).eval()

    def load_train_set(self, run_id: str) -> PoisonedSet:
        arrays = read_npz(self._require(run_id) / TRAIN_SET_FILE)
        return PoisonedSet(
            ImageSet(arrays["images"], arrays["labels"]),
            arrays["is_poisoned"].astype(bool),
            arrays["original_labels"],
            arrays["trigger_positions"],
        )


def _n_classes(model: Classifier) -> int:
    return int(model.net.fc2.out_features)


__all__ = ["RunStore"]
