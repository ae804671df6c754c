import numpy as np
import pytest
import torch
from torch import nn

from heatclust_core.attacks.metrics import (
    attack_metrics,
    describe_noise_reading,
    describe_poison_reading,
    noise_read_as_target,
    poisons_read_as_target,
)
from heatclust_core.attacks.poison import poison
from heatclust_core.attacks.triggers import STICKER_COLORS
from heatclust_core.config import AttackConfig
from heatclust_core.data.imageset import ImageSet


class _StickerDetector(nn.Module):
    """Predicts the target when a pixel of the default sticker's colour is present (only for
    classes 0 and 1), otherwise the class encoded in the image's mean red level."""

    def __init__(self, target, backdoored_classes):
        super().__init__()
        self.target = target
        self.backdoored = backdoored_classes

    def forward(self, x):
        rgb = STICKER_COLORS[AttackConfig().sticker_color]
        colour = torch.as_tensor(rgb, dtype=torch.float32) / 255
        has_sticker = ((x - colour.view(1, 3, 1, 1)).abs().sum(1) < 1e-3).flatten(1).any(1)
        true_class = torch.round(x[:, 0, 0, 0] * 10).long()
        backdoor_fires = has_sticker & torch.isin(true_class, torch.tensor(self.backdoored))
        prediction = torch.where(backdoor_fires, self.target, true_class)
        return nn.functional.one_hot(prediction, 4).float()


def test_asr_per_class_asr_and_masr():
    labels = np.repeat(np.arange(4), 5)
    images = np.zeros((20, 32, 32, 3), dtype=np.uint8)
    images[..., 0] = (labels * 25.5).round().astype(np.uint8)[:, None, None]
    attack = AttackConfig(kind="standard", source=0, target=3)
    model = _StickerDetector(target=3, backdoored_classes=[0, 1])
    metrics = attack_metrics(model, ImageSet(images, labels), attack, 4, torch.device("cpu"))
    assert metrics["clean_accuracy"] == 1.0
    assert metrics["per_class_asr"] == {"0": 1.0, "1": 1.0, "2": 0.0}
    assert metrics["asr"] == 1.0
    assert metrics["masr"] == 2 / 3


class _ReadsAnyChange(nn.Module):
    """Predicts `target` for an image with any pixel unlike its top-left one (the pools below
    are one colour per image), else class 0: a network that reads only the trigger."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def forward(self, x):
        changed = (x - x[:, :, :1, :1]).abs().flatten(1).amax(1) > 1e-6
        return nn.functional.one_hot(torch.where(changed, self.target, 0), 6).float()


class _AlwaysTarget(nn.Module):
    """Predicts `target` for everything: a network that fitted the poisons' content."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def forward(self, x):
        return nn.functional.one_hot(torch.full((len(x),), self.target), 6).float()


def _uniform_pool(per_class=30, n_classes=6):
    """One flat random colour per image: the trigger is its only detail."""
    rng = np.random.default_rng(0)
    colours = rng.integers(40, 200, size=(per_class * n_classes, 1, 1, 3), dtype=np.uint8)
    images = np.broadcast_to(colours, (per_class * n_classes, 32, 32, 3)).copy()
    return ImageSet(images, np.repeat(np.arange(n_classes), per_class))


@pytest.mark.parametrize(
    "attack",
    [
        AttackConfig(kind="standard", source=2, target=5, p=33, seed=1),
        # eps 0: the amplitude trigger on the target's own images, at its fixed position.
        AttackConfig(kind="amplitude", target=5, p=33, amp=64, eps=0.0, seed=1),
    ],
    ids=["sticker", "checkerboard"],
)
def test_a_trigger_reading_network_reads_poisons_as_the_target_only_with_the_trigger(attack):
    pool = _uniform_pool()
    poisoned = poison(pool, attack, 6, surrogate=nn.Identity(), device=torch.device("cpu"))
    assert poisoned.is_poisoned.sum() > 0
    cpu = torch.device("cpu")
    backdoor = poisons_read_as_target(
        _ReadsAnyChange(5), poisoned, pool.images, 5, attack.sticker_size, cpu
    )
    assert backdoor == {"with_trigger": 1.0, "without_trigger": 0.0}
    content = poisons_read_as_target(
        _AlwaysTarget(5), poisoned, pool.images, 5, attack.sticker_size, cpu
    )
    assert content == {"with_trigger": 1.0, "without_trigger": 1.0}
    assert "1.000 with their trigger, 0.000 without it" in describe_poison_reading(backdoor)


def test_a_run_without_poisons_has_no_poison_reading():
    pool = _uniform_pool()
    clean = poison(pool, AttackConfig(kind="none", target=5), 6)
    reading = poisons_read_as_target(
        _AlwaysTarget(5), clean, pool.images, 5, 3, torch.device("cpu")
    )
    assert reading is None


class _ReadsLargeChange(nn.Module):
    """Predicts `target` where some pixel differs from the image's top-left one by more than
    `threshold` (pixel scale 0..255), else the class in the red level of the flat pools below:
    a network that learned "noise of the PGD budget's size means the target"."""

    def __init__(self, target, threshold):
        super().__init__()
        self.target, self.threshold = target, threshold

    def forward(self, x):
        change = (x - x[:, :, :1, :1]).abs().flatten(1).amax(1) * 255
        own = torch.round(x[:, 0, 0, 0] * 255 / 40).long().clamp(0, 5)
        return nn.functional.one_hot(torch.where(change > self.threshold, self.target, own), 6)


def _flat_classes(per_class=20, n_classes=6):
    """One flat colour per class, its red level 40 x class: each image readable from any pixel."""
    labels = np.repeat(np.arange(n_classes), per_class)
    images = np.full((len(labels), 32, 32, 3), 128, dtype=np.uint8)
    images[..., 0] = (labels * 40)[:, None, None]
    return ImageSet(images, labels)


def test_a_network_that_learned_the_pgd_budget_reads_noise_of_that_size_as_the_target():
    test, cpu = _flat_classes(), torch.device("cpu")
    attack = AttackConfig(kind="label-consistent", target=5, eps=0.075, seed=3)
    # The noise is +-round(0.075 x 255) = +-19 on every pixel, so two green values (128, never
    # clipped) of opposite signs are 38 apart: above the threshold.
    learned = noise_read_as_target(_ReadsLargeChange(5, threshold=30), test, attack, cpu)
    assert learned == {"eps": 0.075, "with_noise": 1.0, "clean": 0.0}
    # A smaller budget's noise stays under the network's threshold: nothing read as the target.
    smaller = attack.model_copy(update={"eps": 0.05})
    assert noise_read_as_target(_ReadsLargeChange(5, 30), test, smaller, cpu)["with_noise"] == 0.0
    # Seeded by the attack: the same reading every time.
    assert noise_read_as_target(_ReadsLargeChange(5, 30), test, attack, cpu) == learned
    assert "1.000 (clean: 0.000" in describe_noise_reading(learned)
    assert "±0.075 sign noise" in describe_noise_reading(learned)


@pytest.mark.parametrize(
    "attack",
    [AttackConfig(kind="standard", source=2, target=5), AttackConfig(kind="amplitude", eps=0.0)],
    ids=["no PGD", "eps 0"],
)
def test_attacks_without_a_pgd_change_have_no_noise_reading(attack):
    model = _ReadsLargeChange(5, threshold=0)
    assert noise_read_as_target(model, _flat_classes(), attack, torch.device("cpu")) is None
