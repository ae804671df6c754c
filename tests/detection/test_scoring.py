import numpy as np

from heatclust_core.detection.scoring import detection_metrics


def test_counts_and_rates_by_hand():
    flagged = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    truth = np.array([1, 1, 0, 1, 0, 0, 0, 0, 1, 0], dtype=bool)
    m = detection_metrics(flagged, truth)
    assert (m["tp"], m["tn"], m["fp"], m["fn"]) == (3, 5, 1, 1)
    assert m["acc"] == 0.8 and m["tpr"] == 0.75 and m["tnr"] == 5 / 6
    assert m["precision"] == 0.75 and m["f1"] == 0.75
    assert m["confusion_matrix"] == [[5, 1], [1, 3]]


def test_no_poison_gives_undefined_tpr():
    m = detection_metrics(np.zeros(4, bool), np.zeros(4, bool))
    assert np.isnan(m["tpr"]) and m["tnr"] == 1.0 and m["acc"] == 1.0
