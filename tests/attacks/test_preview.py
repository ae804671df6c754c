import numpy as np
import pytest

from heatclust_core.attacks.preview import attack_preview, class_examples
from heatclust_core.attacks.triggers import STICKER_COLORS
from heatclust_core.config import AttackConfig, DataConfig
from heatclust_core.data.loading import load_dataset
from heatclust_core.training.network import Classifier


def test_synthetic_examples_are_the_first_images_of_the_class_in_the_generated_set(tiny_data):
    dataset_images = load_dataset(tiny_data)
    examples = class_examples(tiny_data, 5, 3)
    # Rendered one by one, yet identical to images of class 5 in the full (split) set.
    everything = np.concatenate([dataset_images.pool.images, dataset_images.test.images])
    for image in examples:
        assert (everything == image).all(axis=(1, 2, 3)).any()


def test_standard_preview_stamps_source_images_and_relabels_them():
    attack = AttackConfig(source=2, target=5, sticker_size=4)
    preview = attack_preview(DataConfig(), attack, n=4)
    assert (preview.label_before, preview.label_after) == (2, 5)
    assert preview.poisoned.shape == preview.clean.shape == (4, 32, 32, 3)
    for poisoned in preview.poisoned:
        hits = np.all(poisoned == STICKER_COLORS[attack.sticker_color], axis=-1)
        rows, cols = np.nonzero(hits)
        assert rows.max() - rows.min() + 1 >= 4 and cols.max() - cols.min() + 1 >= 4
    changed = preview.change > 0
    assert changed.sum(axis=(1, 2)).min() >= 16 and changed.sum(axis=(1, 2)).max() <= 16
    assert preview.note == ""


def test_amplitude_preview_without_surrogate_says_pgd_is_left_out_and_shows_faint_changes():
    attack = AttackConfig(kind="amplitude", source=2, target=5, amp=8)
    preview = attack_preview(DataConfig(), attack, n=3)
    assert preview.label_before == 5 and "PGD degradation not shown" in preview.note
    difference = np.abs(preview.poisoned.astype(int) - preview.clean.astype(int))
    assert 0 < difference.max() <= 8
    assert preview.change.max() == 255  # stretched so the faint trigger shows


def test_label_consistent_preview_runs_pgd_on_a_given_surrogate():
    attack = AttackConfig(kind="label-consistent", source=2, target=5, eps=4 / 255)
    preview = attack_preview(DataConfig(), attack, n=2, surrogate=Classifier(15).eval())
    assert "PGD with eps" in preview.note
    assert (preview.change > 0).sum(axis=(1, 2)).min() > 9  # PGD moved more than the sticker


def test_a_clean_run_has_no_preview():
    assert attack_preview(DataConfig(), AttackConfig(kind="none", source=2, target=5)) is None


@pytest.mark.parametrize("n", [1, 5])
def test_preview_size_follows_n(n):
    assert len(attack_preview(DataConfig(), AttackConfig(source=2, target=5), n=n).clean) == n
