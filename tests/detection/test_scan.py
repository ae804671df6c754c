"""The class scan: relevance maps, the confident joint, and every method on networks with a
backdoor."""

import numpy as np
import pytest
import torch
from torch import nn

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.data.imageset import ImageSet
from heatclust_core.detection.scan import (
    ScanConfig,
    label_disagreement,
    relevance_maps,
    robust_z,
    scan_classes,
    wilson_lower_bound,
)


def test_relevance_maps_are_pooled_shares_of_positive_relevance():
    heatmaps = np.zeros((2, 4, 4))
    heatmaps[0, 0, 0], heatmaps[0, 1, 1], heatmaps[0, 3, 3] = 1.0, 3.0, -5.0
    heatmaps[1] = 2.0
    maps = relevance_maps(heatmaps, pool=2)
    assert maps.shape == (2, 4)
    assert maps[0].tolist() == [1.0, 0.0, 0.0, 0.0]  # the negative pixel counts for nothing
    assert maps[1] == pytest.approx([0.25] * 4)
    assert relevance_maps(np.zeros((1, 4, 4)), 2).sum() == 0  # no positive relevance: zeros


@pytest.mark.parametrize("method", ["heatmap", "activation"])
def test_the_class_holding_poisons_ranks_first(two_class_backdoor, method):
    model, train_set = two_class_backdoor
    ranking = scan_classes(
        model, train_set, ["A", "B"], torch.device("cpu"), ScanConfig(method=method)
    )
    assert [entry["class"] for entry in ranking] == [0, 1]
    first = ranking[0]
    assert first["n_samples"] == (60 if method == "heatmap" else 160)
    assert 0 < first["smaller_share"] <= 0.5 and -1 <= first["score"] <= 1


def test_confident_joint_counts_only_confident_readings_of_another_class():
    # Class 0: 8 samples read confidently as 2, 2 only leaning to 1 (below class 1's mean
    # self-confidence); classes 1 and 2 read as themselves.
    labels = np.array([0] * 20 + [1] * 20 + [2] * 20)
    probabilities = np.zeros((60, 3))
    probabilities[:, :] = 0.05
    probabilities[np.arange(60), labels] = 0.9
    probabilities[:8] = [0.05, 0.05, 0.9]
    probabilities[8:10] = [0.5, 0.45, 0.05]
    counts = label_disagreement(labels, probabilities)
    assert counts[0, 2] == 8
    assert counts[0, 1] == 0 and np.all(np.diag(counts) == 0)
    assert counts[1:].sum() == 0


def test_robust_z_measures_in_median_absolute_deviations_with_a_floor():
    z = robust_z(np.array([0.1, 0.2, 0.3, 0.2, 0.9]))
    assert z[1] == 0 and z[4] == pytest.approx(0.7 / (1.4826 * 0.1))
    flat = robust_z(np.array([0.0, 0.0, 0.0, 0.02]))
    assert flat[3] == pytest.approx(0.02 / 1e-3)  # MAD 0: the floor is the scale


class _ColourReader(nn.Module):
    """A fixed network that reads an image's class off its dominant colour channel."""

    def forward(self, x):
        return 20.0 * x.mean(dim=(2, 3))


def test_labels_scan_names_the_class_holding_unlearned_poisons_and_their_source():
    # Red, green and blue images; 12 blue ones labelled red: poisons the network does not fit.
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, size=(132, 8, 8, 3), dtype=np.uint8)
    labels = np.repeat([0, 1, 2], 40)
    images[np.arange(120), :, :, labels] += 180
    images[120:, :, :, 2] += 180
    labels = np.concatenate([labels, np.zeros(12, dtype=int)])
    poisoned = np.arange(132) >= 120
    train_set = PoisonedSet(
        ImageSet(images, labels),
        poisoned,
        np.where(poisoned, 2, labels),
        np.where(poisoned[:, None], 0, -1),
    )
    ranking = scan_classes(
        _ColourReader(),
        train_set,
        ["red", "green", "blue"],
        torch.device("cpu"),
        ScanConfig(method="labels"),
    )
    assert ranking[0]["class"] == 0
    assert ranking[0]["suspected_source"] == 2
    assert ranking[0]["source_share"] == pytest.approx(12 / 52)
    assert ranking[0]["score"] == pytest.approx(wilson_lower_bound(12, 52))
    assert ranking[1]["score"] == 0 and ranking[2]["score"] == 0


def test_wilson_lower_bound_weighs_one_sample_of_a_rare_class_below_many_of_a_common_one():
    one_of_80, eleven_of_540 = wilson_lower_bound(np.array([1, 11]), np.array([80, 540]))
    assert one_of_80 < eleven_of_540 < 11 / 540
    assert wilson_lower_bound(np.array([0]), np.array([50]))[0] == 0
    # A textbook value: 10 of 100 at 95 %, [0.0552, 0.1744].
    assert wilson_lower_bound(np.array([10]), np.array([100]))[0] == pytest.approx(0.0552, abs=1e-4)


def test_trigger_scan_ranks_the_class_holding_the_pasted_sticker_first(two_class_backdoor):
    model, train_set = two_class_backdoor
    ranking = scan_classes(
        model, train_set, ["A", "B"], torch.device("cpu"), ScanConfig(method="trigger")
    )
    first, second = ranking
    assert first["class"] == 0 and first["n_samples"] == 60
    assert first["patch_other_share"] == 0 and first["patch_holders"] >= 2
    # The patch turns B's images into A: the attack's source, found by pasting it.
    assert first["score"] == first["patch_success"] > 0.3 and first["patch_source"] == 1
    assert second["score"] < first["score"]


def test_combined_scan_keeps_both_signals_and_ranks_by_the_larger_z(two_class_backdoor):
    model, train_set = two_class_backdoor
    ranking = scan_classes(
        model, train_set, ["A", "B"], torch.device("cpu"), ScanConfig(method="combined")
    )
    for entry in ranking:
        assert entry["score"] == max(entry["heatmap_z"], entry["labels_z"])
        assert {"silhouette", "smaller_share", "suspected_source", "source_share"} <= set(entry)
    assert ranking[0]["class"] == 0


def test_the_scan_config_hashes_only_its_methods_fields():
    assert ScanConfig().method == "trigger"
    heatmap = ScanConfig(method="heatmap")
    assert heatmap.model_copy(update={"layer": "fc1"}).result_name() == heatmap.result_name()
    activation = ScanConfig(method="activation")
    assert activation.model_copy(update={"pool": 4}).result_name() == activation.result_name()
    labels = ScanConfig(method="labels")
    assert labels.model_copy(update={"pool": 4}).result_name() == labels.result_name()
    assert ScanConfig(method="combined").result_name() != heatmap.result_name()
    trigger = ScanConfig(method="trigger")
    assert trigger.model_copy(update={"pool": 4}).result_name() == trigger.result_name()
    assert heatmap.model_copy(update={"trigger_tolerance": 0.1}).result_name() == (
        heatmap.result_name()
    )
    with pytest.raises(ValueError):
        ScanConfig(samples_per_class=5)
