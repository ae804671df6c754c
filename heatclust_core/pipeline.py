"""One run end to end: data -> (surrogate) -> poisoning -> training -> metrics, cached by run id."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import heatclust_core
from heatclust_core.attacks.metrics import (
    attack_metrics,
    noise_read_as_target,
    poisons_read_as_target,
)
from heatclust_core.attacks.poison import PoisonedSet, poison, poison_count
from heatclust_core.config import UNHASHED_STICKER, AttackConfig, ResolvedRunConfig, RunConfig
from heatclust_core.data.imageset import Dataset, ImageSet, stratified_split
from heatclust_core.data.loading import class_names, load_dataset, pool_class_counts
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import Classifier, count_parameters, pick_device


@dataclass(frozen=True)
class RunResult:
    run_id: str
    config: RunConfig
    metrics: dict[str, Any]
    cached: bool
    seconds: float

    def summary(self) -> dict[str, Any]:
        """The machine-readable result the CLI prints (rates are fractions in [0, 1])."""
        m = self.metrics
        return {
            "run_id": self.run_id,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "clean_accuracy": m["clean_accuracy"],
            "asr": m["asr"],
            "per_class_asr": m["per_class_asr"],
            "masr": m["masr"],
            # Runs trained before this field lack it.
            "poisons_read_as_target": m.get("poisons_read_as_target"),
            "noise_read_as_target": m.get("noise_read_as_target"),
            "n_parameters": m["n_parameters"],
            "n_poisoned": m["n_poisoned"],
            "epochs_run": len(m["history"]),
            "best_epoch": m["best_epoch"],
            "class_names": m["class_names"],
            "config": self.config.model_dump(),
        }


def resolve(config: RunConfig) -> ResolvedRunConfig:
    """Check the data source, fill in the default classes and check that the data holds enough
    samples for the attack (ConfigError on attack.p otherwise); writes nothing. A config that
    is resolved already is returned as it is, without reading the data again."""
    if isinstance(config, ResolvedRunConfig):
        return config
    resolved = config.resolved(class_names(config.data))
    n_poisoned = 0
    if resolved.attack.kind != "none":
        n_poisoned = poison_count(resolved.attack, pool_class_counts(resolved.data))
    return ResolvedRunConfig.settled(resolved, n_poisoned)


def surrogate_config(config: RunConfig) -> RunConfig:
    """The clean run whose network the label-consistent attacker degrades images with."""
    # Only its network is used, never its ASR: a fixed sticker keeps its id (so its cache)
    # whatever the sticker's default.
    attack = AttackConfig(
        kind="none",
        source=config.attack.source,
        target=config.attack.target,
        **UNHASHED_STICKER,
    )
    # The trainer's robustness measures are the victim's, not the attacker's: its adversarial
    # training is the attack's own parameter (surrogate_eps), and its sign noise is left out
    # (README, "Sign noise as an augmentation": with it in the surrogate too, the amp 128
    # victim fitted its poisons one by one, 0.815 of them read as the target untriggered).
    augment = config.train.augment.model_copy(update={"sign_noise": False})
    train = config.train.model_copy(
        update={"adversarial_eps": config.attack.surrogate_eps, "augment": augment}
    )
    return config.model_copy(update={"attack": attack, "train": train, "removal": None})


def _attacked_pool(
    config: ResolvedRunConfig,
    dataset: Dataset,
    store: RunStore,
    device: str,
    torch_device: torch.device,
    progress: Progress,
) -> tuple[PoisonedSet, str | None]:
    """The pool poisoned by config.attack, and the surrogate run it took (PGD attacks)."""
    surrogate, surrogate_run_id = None, None
    if config.attack.uses_pgd:
        clean = train_run(
            surrogate_config(config),
            store,
            device,
            lambda stage, fraction, message="": progress("surrogate", fraction, message),
        )
        surrogate_run_id = clean.run_id
        surrogate = store.load_model(surrogate_run_id, torch_device)
    progress("poison", 0.0, config.attack.kind)
    poisoned = poison(
        dataset.pool, config.attack, dataset.n_classes, surrogate, torch_device, config.n_poisoned
    )
    progress("poison", 1.0, f"{int(poisoned.is_poisoned.sum())} samples poisoned")
    return poisoned, surrogate_run_id


def _cleaned_pool(
    config: RunConfig, store: RunStore, device: torch.device
) -> tuple[PoisonedSet, Classifier | None]:
    """The attacked run's pool without the removed samples, and its network to fine-tune."""
    removal = config.removal
    attacked = store.load_train_set(removal.source_run)
    keep = np.ones(len(attacked.is_poisoned), dtype=bool)
    keep[list(removal.removed)] = False
    cleaned = PoisonedSet(
        attacked.data.subset(keep),
        attacked.is_poisoned[keep],
        attacked.original_labels[keep],
        attacked.trigger_positions[keep],
    )
    model = store.load_model(removal.source_run, device) if removal.mode == "finetune" else None
    return cleaned, model


def train_run(
    config: RunConfig,
    store: RunStore,
    device: str = "auto",
    progress: Progress = silent,
) -> RunResult:
    """Train `config` (or return its cached result). Validation errors happen before any write."""
    started = time.perf_counter()
    config = resolve(config)
    run_id = config.run_id()
    if store.exists(run_id):
        return RunResult(
            run_id, config, store.load_metrics(run_id), True, time.perf_counter() - started
        )

    torch_device = pick_device(device)
    progress("data", 0.0, f"loading {config.data.dataset}")
    dataset = load_dataset(config.data)
    progress("data", 1.0, f"{len(dataset.pool)} pool / {len(dataset.test)} test images")

    surrogate_run_id, initial_model = None, None
    if config.removal is not None:
        poisoned, initial_model = _cleaned_pool(config, store, torch_device)
    else:
        poisoned, surrogate_run_id = _attacked_pool(
            config, dataset, store, device, torch_device, progress
        )

    # Imported here: the loop loads torchvision (about 1 s), which callers of `resolve` skip.
    from heatclust_core.training.loop import train_classifier

    train_set, val_set = _split(poisoned.data, config)
    trained = train_classifier(
        train_set,
        val_set,
        dataset.n_classes,
        config.train,
        torch_device,
        progress,
        initial_model=initial_model,
    )
    progress("evaluate", 0.0, "clean accuracy and attack success rates")
    metrics = attack_metrics(
        trained.model, dataset.test, config.attack, dataset.n_classes, torch_device
    )
    if config.removal is None:
        # The pool is in the poisoned set's order; a cleaned run's pool is not.
        metrics["poisons_read_as_target"] = poisons_read_as_target(
            trained.model,
            poisoned,
            dataset.pool.images,
            config.attack.target,
            config.attack.sticker_size,
            torch_device,
        )
    metrics["noise_read_as_target"] = noise_read_as_target(
        trained.model, dataset.test, config.attack, torch_device
    )
    metrics.update(
        {
            "run_id": run_id,
            "n_parameters": count_parameters(trained.model),
            "n_poisoned": int(poisoned.is_poisoned.sum()),
            "n_pool": len(poisoned.data),
            "n_train": len(train_set),
            "n_val": len(val_set),
            "n_test": len(dataset.test),
            "class_names": list(dataset.class_names),
            "history": trained.history,
            "best_epoch": trained.best_epoch,
            "stopped_early": trained.stopped_early,
            "train_seconds": trained.seconds,
            "train_precision": trained.precision,
            "surrogate_run_id": surrogate_run_id,
            "device": str(torch_device),
            "versions": _versions(),
        }
    )
    store.save(run_id, trained.model, config, metrics, poisoned)
    progress("evaluate", 1.0, "saved")
    return RunResult(run_id, config, metrics, False, time.perf_counter() - started)


def _split(data: ImageSet, config: RunConfig) -> tuple[ImageSet, ImageSet]:
    train_index, val_index = stratified_split(
        data.labels, config.train.val_fraction, config.train.seed
    )
    return data.subset(train_index), data.subset(val_index)


def _versions() -> dict[str, str]:
    import numpy
    import sklearn
    import torchvision

    return {
        "heatclust": heatclust_core.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
    }
