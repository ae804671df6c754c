import numpy as np
import pytest
import torch
from torch import nn

from heatclust_core.attacks.pgd import pgd_linf
from heatclust_core.attacks.poison import (
    _random_other_classes,
    poison,
    poison_count,
    poisoned_mask,
)
from heatclust_core.attacks.triggers import STICKER_COLORS
from heatclust_core.config import AttackConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.errors import ConfigError


def _pool(per_class=60, n_classes=6, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(per_class * n_classes, 32, 32, 3), dtype=np.uint8)
    return ImageSet(images, np.repeat(np.arange(n_classes), per_class))


class _Linear(nn.Module):
    """A small real classifier on [0, 1] images for PGD tests."""

    def __init__(self, n_classes=6):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(32 * 32 * 3, n_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_standard_attack_moves_source_images_to_the_target_at_share_p():
    pool = _pool()
    attack = AttackConfig(kind="standard", source=2, target=5, p=33, seed=1)
    result = poison(pool, attack, 6)
    n = result.is_poisoned.sum()
    assert n == round(33 / 67 * 60) == 30
    target_members = result.data.labels == 5
    assert result.is_poisoned[target_members].mean() == pytest.approx(30 / 90)
    assert np.all(result.original_labels[result.is_poisoned] == 2)
    assert np.all(result.data.labels[result.is_poisoned] == 5)
    # every poisoned image carries the sticker, no clean image was touched
    clean = ~result.is_poisoned
    np.testing.assert_array_equal(result.data.images[clean], pool.images[clean])
    for image, (r, c) in zip(
        result.data.images[result.is_poisoned],
        result.trigger_positions[result.is_poisoned],
        strict=True,
    ):
        assert np.all(image[r : r + 3, c : c + 3] == STICKER_COLORS[attack.sticker_color])
    assert np.all(result.trigger_positions[clean] == -1)


def test_attacks_are_deterministic_given_the_seed():
    pool = _pool()
    attack = AttackConfig(kind="standard", source=2, target=5, p=15, seed=3)
    a, b = poison(pool, attack, 6), poison(pool, attack, 6)
    np.testing.assert_array_equal(a.is_poisoned, b.is_poisoned)
    np.testing.assert_array_equal(a.data.images, b.data.images)
    c = poison(pool, attack.model_copy(update={"seed": 4}), 6)
    assert not np.array_equal(a.is_poisoned, c.is_poisoned)


def test_label_consistent_keeps_labels_and_poisons_p_percent_of_the_target():
    pool = _pool()
    attack = AttackConfig(kind="label-consistent", source=2, target=5, p=50, eps=8 / 255)
    result = poison(pool, attack, 6, surrogate=_Linear(), device=torch.device("cpu"))
    assert result.is_poisoned.sum() == 30
    np.testing.assert_array_equal(result.data.labels, pool.labels)
    assert np.all(pool.labels[result.is_poisoned] == 5)


def test_amplitude_attack_uses_the_fixed_checkerboard():
    pool = ImageSet(np.full((120, 32, 32, 3), 100, np.uint8), np.repeat(np.arange(2), 60))
    attack = AttackConfig(kind="amplitude", source=0, target=1, p=10, amp=32, eps=0.0)
    result = poison(pool, attack, 2, surrogate=_Linear(2), device=torch.device("cpu"))
    poisoned = result.data.images[result.is_poisoned]
    assert len(poisoned) == 6
    assert set(np.unique(poisoned[:, 19:22, 19:22]).tolist()) == {68, 132}


def test_pgd_stays_within_budget_and_raises_the_loss():
    pool = _pool(per_class=8)
    model = _Linear()
    eps = 8 / 255
    adv = pgd_linf(model, pool.images, pool.labels, eps, 5, 0.015, torch.device("cpu"))
    assert np.abs(adv.astype(int) - pool.images.astype(int)).max() <= 8

    def loss(images):
        x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255
        return nn.functional.cross_entropy(model(x), torch.as_tensor(pool.labels)).item()

    assert loss(adv) > loss(pool.images) + 0.1


def test_targeted_pgd_moves_images_toward_their_targets():
    pool = _pool(per_class=8)
    model = _Linear()
    targets = (pool.labels + 1) % 6
    adv = pgd_linf(
        model, pool.images, pool.labels, 8 / 255, 5, 0.015, torch.device("cpu"), targets=targets
    )
    assert np.abs(adv.astype(int) - pool.images.astype(int)).max() <= 8

    def target_loss(images):
        x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255
        return nn.functional.cross_entropy(model(x), torch.as_tensor(targets)).item()

    assert target_loss(adv) < target_loss(pool.images) - 0.1


def test_random_pgd_targets_are_other_classes_and_leave_untargeted_poisons_alone():
    pool = _pool()
    untargeted = AttackConfig(kind="label-consistent", source=2, target=5, p=50)
    cpu = torch.device("cpu")
    before = poison(pool, untargeted, 6, surrogate=_Linear(), device=cpu)
    random = poison(pool, untargeted.model_copy(update={"pgd_target": "random"}), 6, _Linear(), cpu)
    np.testing.assert_array_equal(before.is_poisoned, random.is_poisoned)
    assert not np.array_equal(before.data.images, random.data.images)
    labels = np.repeat(np.arange(6), 100)
    drawn = _random_other_classes(labels, 6, np.random.default_rng(0))
    assert not np.any(drawn == labels)
    assert set(drawn.tolist()) == set(range(6))


def test_too_large_p_is_refused_naming_p():
    counts = np.array([10, 10, 10])
    with pytest.raises(ConfigError) as error:
        poison_count(AttackConfig(kind="standard", source=0, target=1, p=90), counts)
    assert error.value.parameter == "attack.p"
    assert "source class 0 has only 10" in error.value.message


@pytest.mark.parametrize("kind", ["none", "standard", "label-consistent", "amplitude"])
def test_the_poisoned_mask_is_the_attacks_choice_without_a_surrogate(kind):
    pool = _pool()
    attack = AttackConfig(kind=kind, source=2, target=5, p=20, seed=3)
    surrogate = _Linear() if attack.uses_pgd else None
    attacked = poison(pool, attack, 6, surrogate, torch.device("cpu"))
    mask = poisoned_mask(pool.labels, attack, 6)
    assert np.array_equal(mask, attacked.is_poisoned)
    assert mask.any() == (kind != "none")
