"""A handful of poisoned examples for a config, before anything is trained (Figures 1-2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from heatclust_core.attacks.poison import pgd_degrade, training_trigger
from heatclust_core.config import AttackConfig, DataConfig
from heatclust_core.data import synthetic
from heatclust_core.data.loading import class_names, load_dataset


@dataclass(frozen=True)
class AttackPreview:
    """clean, poisoned: (n, H, W, 3) uint8; change: (n, H, W) uint8, |poisoned - clean| summed
    over channels and stretched to 0..255 so faint triggers show; labels before and after."""

    clean: np.ndarray
    poisoned: np.ndarray
    change: np.ndarray
    label_before: int
    label_after: int
    note: str


def class_examples(data: DataConfig, class_id: int, n: int) -> np.ndarray:
    """(n, H, W, 3) images of one class. The synthetic generator draws each image from its
    own seed, so these are rendered directly (the same images as the set's first of the class)
    instead of generating the whole set."""
    if data.dataset == "synthetic":
        count = min(n, int(synthetic.class_counts(data.images_per_class)[class_id]))
        return np.stack(
            [
                synthetic.render_sign(class_id, np.random.default_rng([data.seed, class_id, i]))
                for i in range(count)
            ]
        )
    pool = load_dataset(data).pool
    return pool.images[np.flatnonzero(pool.labels == class_id)[:n]]


def attack_preview(
    data: DataConfig,
    attack: AttackConfig,
    n: int = 6,
    surrogate: nn.Module | None = None,
    device: torch.device | str = "cpu",
) -> AttackPreview | None:
    """Poison `n` images the way training would; None for a clean run. `attack` must be
    resolved (source and target set). Without a surrogate network the PGD step of the
    label-consistent attacks is left out and `note` says so."""
    if attack.kind == "none":
        return None
    attacked_class = attack.source if attack.kind == "standard" else attack.target
    clean = class_examples(data, attacked_class, n)
    rng = np.random.default_rng([attack.seed, 0x5E1EC7])
    selected, note = clean, ""
    if attack.uses_pgd:
        if surrogate is None:
            note = (
                "PGD degradation not shown: it needs the clean surrogate network, which the "
                "job trains first (only the trigger is drawn here)."
            )
        else:
            labels = np.full(len(clean), attack.target)
            n_classes = len(class_names(data))
            selected = pgd_degrade(
                clean, labels, attack, n_classes, surrogate, torch.device(device), rng
            )
            note = (
                f"PGD with eps {attack.eps:.4f} on the cached surrogate network, then the trigger."
            )
    poisoned, _ = training_trigger(attack).apply(selected, rng)
    change = np.abs(poisoned.astype(np.int16) - clean.astype(np.int16)).sum(axis=-1)
    top = change.max(axis=(1, 2), keepdims=True)
    stretched = np.where(top > 0, change * 255.0 / np.maximum(top, 1), 0).astype(np.uint8)
    return AttackPreview(clean, poisoned, stretched, attacked_class, attack.target, note)
