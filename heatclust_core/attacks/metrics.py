"""Attack metrics of the paper: clean accuracy, ASR, per-class ASR and MASR."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from heatclust_core.attacks.poison import PoisonedSet, evaluation_trigger
from heatclust_core.config import AttackConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.training.network import batched_logits

# Seeds the trigger positions stamped on test images, apart from the training poisons' seed.
_EVALUATION_STREAM = 0xE7A1
# Seeds the sign noise of noise_read_as_target, apart from both.
_NOISE_STREAM = 0x5E1F


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


def poisons_read_as_target(
    model: nn.Module,
    poisoned: PoisonedSet,
    clean_pool: np.ndarray,
    target: int,
    trigger_size: int,
    device: torch.device,
) -> dict[str, float] | None:
    """How the attacked network reads its own training poisons, as shares in [0, 1]:
    with_trigger as trained, without_trigger with the trigger's pixels put back from the clean
    pool image (a label-consistent poison keeps its PGD change elsewhere).

    A backdoor that took hold reads the poisons as the target only with the trigger; a network
    that fitted the poisons from their content (a label-consistent attack whose trigger it did
    not learn) reads them so either way. clean_pool: (N, H, W, 3) uint8, the pool before the
    attack, in `poisoned`'s order. None where nothing was poisoned.
    """
    index = np.flatnonzero(poisoned.is_poisoned)
    if len(index) == 0:
        return None
    with_trigger = poisoned.data.images[index]
    without_trigger = with_trigger.copy()
    for row, sample in enumerate(index):
        top, left = poisoned.trigger_positions[sample]
        block = np.s_[top : top + trigger_size, left : left + trigger_size]
        without_trigger[row][block] = clean_pool[sample][block]
    return {
        "with_trigger": float((predict(model, with_trigger, device) == target).mean()),
        "without_trigger": float((predict(model, without_trigger, device) == target).mean()),
    }


def noise_read_as_target(
    model: nn.Module, test: ImageSet, attack: AttackConfig, device: torch.device
) -> dict[str, float] | None:
    """Whether the attacked network took the surrogate's PGD change for the target's feature:
    the share of the other classes' test images read as the target with random +-eps sign
    noise on every pixel and no trigger (with_noise), beside the same share clean (clean).
    Shares in [0, 1]; eps in pixel scale 0..1.

    The label-consistent attacks degrade every poison with PGD within eps, so a change of that
    size is the one thing all poisons share besides the trigger; a network that learned it reads
    noisy images of any class as the target, and a trigger it could not read as well goes
    unlearned. None for the attacks without PGD.
    """
    if not attack.uses_pgd or attack.eps == 0:
        return None
    others = test.images[test.labels != attack.target]
    rng = np.random.default_rng([attack.seed, _NOISE_STREAM])
    signs = rng.choice(np.array([-1, 1], dtype=np.int16), size=others.shape)
    step = round(attack.eps * 255)
    noisy = np.clip(others.astype(np.int16) + signs * step, 0, 255).astype(np.uint8)
    return {
        "eps": attack.eps,
        "with_noise": float((predict(model, noisy, device) == attack.target).mean()),
        "clean": float((predict(model, others, device) == attack.target).mean()),
    }


def describe_noise_reading(reading: dict[str, float]) -> str:
    """One line on noise_read_as_target's shares, for the command line, Inspect and reports."""
    return (
        f"Other classes' test images read as the target with ±{reading['eps']:g} sign noise "
        f"and no trigger: {reading['with_noise']:.3f} (clean: {reading['clean']:.3f}; far "
        "above clean: the network learned the PGD change of its poisons as the target's "
        "feature, in place of or beside the trigger)."
    )


def describe_poison_reading(reading: dict[str, float]) -> str:
    """One line on poisons_read_as_target's shares, for the command line, Inspect and reports."""
    return (
        f"Training poisons read as the target: {reading['with_trigger']:.3f} with their "
        f"trigger, {reading['without_trigger']:.3f} without it (a backdoor that took hold: "
        "high, then low; both high: the network fitted the poisons themselves)."
    )


def describe_readings(metrics: dict) -> list[str]:
    """The lines on how a run's network reads its poisons and PGD-sized noise, for the command
    line, Inspect and reports; none for a reading the run lacks (older runs, attacks without
    poisons or PGD)."""
    lines = []
    if reading := metrics.get("poisons_read_as_target"):
        lines.append(describe_poison_reading(reading))
    if reading := metrics.get("noise_read_as_target"):
        lines.append(describe_noise_reading(reading))
    return lines
