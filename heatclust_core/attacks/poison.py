"""Poisoning the training pool: which samples are changed, how, and the ground-truth mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from heatclust_core.attacks.pgd import pgd_linf
from heatclust_core.attacks.triggers import AmplitudeTrigger, StickerTrigger, Trigger
from heatclust_core.config import AttackConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.errors import ConfigError

FULL_AMPLITUDE = 255


@dataclass(frozen=True)
class PoisonedSet:
    """The attacked pool, in the clean pool's order.

    data: images and (possibly relabelled) labels; is_poisoned: (N,) bool ground truth;
    original_labels: (N,) the labels before the attack; trigger_positions: (N, 2) top-left of
    each poisoned sample's trigger, -1 for clean samples. image_available: (N,) bool where only
    some images were kept (the shipped example keeps those of its target class; the others are
    zeros), None when all are there.
    """

    data: ImageSet
    is_poisoned: np.ndarray
    original_labels: np.ndarray
    trigger_positions: np.ndarray
    image_available: np.ndarray | None = None

    def has_images(self, indices: np.ndarray) -> bool:
        """Whether the images of these samples are all there."""
        return self.image_available is None or bool(self.image_available[indices].all())


def _sticker(attack: AttackConfig) -> StickerTrigger:
    return StickerTrigger(attack.sticker_size, attack.sticker_placement, attack.sticker_color)


def training_trigger(attack: AttackConfig) -> Trigger:
    if attack.kind == "amplitude":
        return AmplitudeTrigger(attack.sticker_size, attack.amp, attack.amp_pattern)
    return _sticker(attack)


def evaluation_trigger(attack: AttackConfig) -> Trigger:
    """The trigger stamped on test images: the amplitude attack is evaluated at full amplitude."""
    if attack.kind == "amplitude":
        return AmplitudeTrigger(attack.sticker_size, FULL_AMPLITUDE, attack.amp_pattern)
    return _sticker(attack)


def poison_count(attack: AttackConfig, class_counts: np.ndarray) -> int:
    """How many samples the attack poisons, so that they make up p % of the target class.

    Raises ConfigError("p") when the pool cannot supply that many.
    """
    n_target = int(class_counts[attack.target])
    if attack.kind == "standard":
        # Poisons are added to the target class: n / (n_target + n) = p.
        n = round(attack.p / (100 - attack.p) * n_target)
        available, where = int(class_counts[attack.source]), f"source class {attack.source}"
    else:
        n = round(attack.p / 100 * n_target)
        available, where = n_target, f"target class {attack.target}"
    if n < 1:
        raise ConfigError("attack.p", f"{attack.p}% of the target class is less than one sample")
    if n > available:
        raise ConfigError(
            "attack.p", f"{attack.p}% needs {n} poisoned samples but {where} has only {available}"
        )
    return n


def _random_other_classes(
    labels: np.ndarray, n_classes: int, rng: np.random.Generator
) -> np.ndarray:
    """(N,) a uniformly drawn class other than each sample's own."""
    offsets = rng.integers(1, n_classes, size=len(labels))
    return (labels + offsets) % n_classes


def pgd_degrade(
    images: np.ndarray,
    labels: np.ndarray,
    attack: AttackConfig,
    n_classes: int,
    surrogate: nn.Module,
    device: torch.device,
    rng: np.random.Generator,
) -> np.ndarray:
    """The label-consistent attacks' PGD step on (N, H, W, 3) uint8 images of class `labels`,
    away from their class or toward a random other one (`attack.pgd_target`)."""
    targets = None
    if attack.pgd_target == "random":
        targets = _random_other_classes(labels, n_classes, rng)
    return pgd_linf(
        surrogate,
        images,
        labels,
        attack.eps,
        attack.pgd_steps,
        attack.pgd_step_size,
        device,
        targets=targets,
    )


def _choose(
    labels: np.ndarray,
    attack: AttackConfig,
    n_classes: int,
    rng: np.random.Generator,
    count: int | None = None,
) -> np.ndarray:
    """Sorted indices of the samples the attack changes; the first draw of the attack's rng.
    `count`: poison_count's answer when the caller has it already."""
    if count is None:
        count = poison_count(attack, np.bincount(labels, minlength=n_classes))
    candidates_class = attack.source if attack.kind == "standard" else attack.target
    candidates = np.flatnonzero(labels == candidates_class)
    return np.sort(rng.choice(candidates, size=count, replace=False))


def poisoned_mask(labels: np.ndarray, attack: AttackConfig, n_classes: int) -> np.ndarray:
    """(N,) bool: which samples of a pool with these (N,) clean labels `poison` changes. Needs
    no surrogate: the choice is drawn before any PGD step, so it checks a stored ground truth
    cheaply."""
    mask = np.zeros(len(labels), dtype=bool)
    if attack.kind != "none":
        rng = np.random.default_rng([attack.seed, 0x5E1EC7])
        mask[_choose(labels, attack, n_classes, rng)] = True
    return mask


def poison(
    pool: ImageSet,
    attack: AttackConfig,
    n_classes: int,
    surrogate: nn.Module | None = None,
    device: torch.device | None = None,
    count: int | None = None,
) -> PoisonedSet:
    """Apply `attack` (resolved: source and target set) to `pool`, deterministically from its
    seed. `count`: how many samples it changes, when resolving the run counted them already."""
    n = len(pool)
    positions = np.full((n, 2), -1, dtype=np.int64)
    mask = np.zeros(n, dtype=bool)
    if attack.kind == "none":
        return PoisonedSet(pool, mask, pool.labels.copy(), positions)
    rng = np.random.default_rng([attack.seed, 0x5E1EC7])
    chosen = _choose(pool.labels, attack, n_classes, rng, count)

    images = pool.images.copy()
    labels = pool.labels.copy()
    selected = images[chosen]
    if attack.uses_pgd:
        if surrogate is None or device is None:
            raise ValueError("label-consistent attacks need a surrogate model and a device")
        selected = pgd_degrade(selected, labels[chosen], attack, n_classes, surrogate, device, rng)
    stamped, chosen_positions = training_trigger(attack).apply(selected, rng)
    images[chosen] = stamped
    labels[chosen] = attack.target
    mask[chosen] = True
    positions[chosen] = chosen_positions
    return PoisonedSet(ImageSet(images, labels), mask, pool.labels.copy(), positions)
