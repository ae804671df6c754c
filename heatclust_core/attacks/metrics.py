"""Attack metrics of the paper: clean accuracy, ASR, per-class ASR and MASR."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from heatclust_core.attacks.poison import evaluation_trigger
from heatclust_core.config import AttackConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.training.network import batched_logits

# Seeds the trigger positions stamped on test images, apart from the training poisons' seed.
_EVALUATION_STREAM = 0xE7A1


def predict(
    model: nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 512
) -> np.ndarray:
    """Predicted class ids (N,) for (N, H, W, 3) uint8 images."""
    if len(images) == 0:
        return np.empty(0, dtype=np.int64)
    return batched_logits(model, images, device, batch_size).argmax(1).numpy()


def attack_metrics(
    model: nn.Module, test: ImageSet, attack: AttackConfig, n_classes: int, device: torch.device
) -> dict:
    """Rates are fractions in [0, 1].

    per_class_asr[c]: share of class-c test images, trigger stamped, classified as the target,
    for every class c but the target. asr is that share for the source class; masr their mean.
    """
    clean_pred = predict(model, test.images, device)
    rng = np.random.default_rng([attack.seed, _EVALUATION_STREAM])
    triggered, _ = evaluation_trigger(attack).apply(test.images, rng)
    triggered_pred = predict(model, triggered, device)
    per_class_accuracy, per_class_asr = {}, {}
    for c in range(n_classes):
        in_class = test.labels == c
        if not in_class.any():
            continue
        per_class_accuracy[str(c)] = float((clean_pred[in_class] == c).mean())
        if c != attack.target:
            per_class_asr[str(c)] = float((triggered_pred[in_class] == attack.target).mean())
    return {
        "clean_accuracy": float((clean_pred == test.labels).mean()),
        "per_class_accuracy": per_class_accuracy,
        "asr": per_class_asr.get(str(attack.source), float("nan")),
        "per_class_asr": per_class_asr,
        "masr": float(np.mean(list(per_class_asr.values()))) if per_class_asr else float("nan"),
    }
