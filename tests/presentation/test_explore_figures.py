"""The explorer's figures and tables, from a hand-made embedding."""

import numpy as np

from heatclust_core.presentation.explore_figures import (
    choice_of_k_figure,
    cluster_table,
    embedding_figure,
    sample_frame,
)

NAMES = [f"class {c}" for c in range(6)]


def _embedding(eigenvalues=None):
    return {
        "sample_index": [10, 11, 12, 13, 14],
        "sample_poisoned": [1, 1, 0, 0, 0],
        "predicted": [5, 5, 5, 2, 5],
        "trigger_share": [0.8, 0.6, None, None, None],
        "coords": [[0, 0], [0, 1], [5, 5], [6, 5], [5, 6]],
        "k_choice": [
            {"k": 2, "silhouette": 0.7, "sizes": [3, 2], "flagged": [1], "labels": [1, 1, 0, 0, 0]},
            {
                "k": 3,
                "silhouette": 0.4,
                "sizes": [2, 2, 1],
                "flagged": [2],
                "labels": [0, 0, 1, 1, 2],
            },
        ],
        "eigenvalues": eigenvalues,
    }


def test_the_frame_joins_truth_prediction_clusters_and_a_detection():
    detection = {
        "sample_index": [10, 11, 12, 13, 14],
        "cluster_labels": [0, 0, 1, 1, 1],
        "flagged_clusters": [0],
    }
    frame = sample_frame(_embedding(), 2, detection, NAMES)
    assert frame["truth"].tolist() == ["poisoned", "poisoned", "clean", "clean", "clean"]
    assert frame["flagged"].tolist() == [True, True, False, False, False]
    assert frame["predicted"][3] == "2 · class 2"
    assert frame["detection"][0] == "cluster 0 (flagged)"
    table = cluster_table(frame)
    assert table.to_dict("records")[1] == {
        "cluster": 1,
        "size": 2,
        "poisoned": 2,
        "poisoned share": 1.0,
        "flagged": True,
    }


def test_the_scatter_marks_the_selection_and_carries_the_sample_ids():
    frame = sample_frame(_embedding(), 2, None, NAMES)
    figure = embedding_figure(frame, "truth", ["a", "b"], "t", selection=[11, 13])
    by_name = {trace.name: trace for trace in figure.data}
    assert list(by_name["poisoned"].customdata) == [10, 11]
    assert list(by_name["poisoned"].selectedpoints) == [1]
    assert list(by_name["clean"].selectedpoints) == [1]
    assert embedding_figure(frame, "truth", ["a", "b"], "t").data[0].selectedpoints is None


def test_colouring_by_trigger_share_puts_samples_without_a_location_apart():
    frame = sample_frame(_embedding(), 3, None, NAMES)
    names = [trace.name for trace in embedding_figure(frame, "trigger", ["a", "b"], "t").data]
    assert names == ["relevance on the trigger", "no trigger location"]
    clusters = [t.name for t in embedding_figure(frame, "cluster", ["a", "b"], "t").data]
    assert clusters == ["cluster 0", "cluster 1", "cluster 2 (flagged)"]


def test_the_choice_of_k_shows_the_eigengap_for_a_spectral_embedding():
    assert len(choice_of_k_figure(_embedding(), 2).data) == 1
    figure = choice_of_k_figure(_embedding([0.0, 0.01, 0.5, 0.55]), 2)
    assert len(figure.data) == 2
    np.testing.assert_allclose(figure.data[1].y, [0.49, 0.05])
