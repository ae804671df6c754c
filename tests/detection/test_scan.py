"""The class scan: relevance maps, and both methods on a network with a backdoor."""

import numpy as np
import pytest
import torch

from heatclust_core.detection.scan import ScanConfig, relevance_maps, scan_classes


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


def test_the_scan_config_hashes_only_its_methods_fields():
    heatmap = ScanConfig()
    assert heatmap.model_copy(update={"layer": "fc1"}).result_name() == heatmap.result_name()
    activation = ScanConfig(method="activation")
    assert activation.model_copy(update={"pool": 4}).result_name() == activation.result_name()
    with pytest.raises(ValueError):
        ScanConfig(samples_per_class=5)
