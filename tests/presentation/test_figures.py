import numpy as np
import pandas as pd
import pytest

from heatclust_core.explain.point_cloud import point_cloud
from heatclust_core.explain.tiles import HeatmapTile
from heatclust_core.presentation.figures import (
    POISONED_COLOR,
    SOURCE_COLOR,
    cluster_scatter,
    detection_points,
    detector_table,
    heatmap_gallery_figure,
    per_class_asr_figure,
    point_cloud_figure,
    scan_figure,
)
from heatclust_core.presentation.sweep_figures import per_class_asr_sweep_figure

NAMES = ["a", "b", "c", "d"]
METRICS = {
    "class_names": NAMES,
    "per_class_asr": {"0": 0.1, "1": 0.9, "3": 0.2},  # class 2 is the target
    "masr": 0.4,
    "asr": 0.9,
}


def _detection(detector="hc", mds=True):
    detection = {
        "detector": detector,
        "class": 2,
        "class_name": "c",
        "acc": 0.75,
        "tpr": 0.5,
        "tnr": 1.0,
        "precision": 1.0,
        "f1": 2 / 3,
        "n_samples": 4,
        "n_poisoned": 2,
        "cluster_sizes": [3, 1],
        "flagged_clusters": [1],
        "seconds": {"features": 1.0, "clustering": 2.0, "total": 3.5},
        "config": {
            "detector": detector,
            "k": 2,
            "flag_rule": "smaller",
            "reducer": "pca",
            "n_components": 10,
            "layer": "relu",
            "normalize": False,
            "relevance_share": 0.99,
            "epsilon": 0.01,
            "lrp_composite": "epsilon-alpha2-beta1",
        },
        "sample_index": [10, 11, 12, 13],
        "cluster_labels": [0, 0, 1, 0],
        "embedding": [[0.0, 1.0], [0.1, 1.1], [5.0, 5.0], [0.2, 0.9]],
    }
    if mds:
        detection["mds"] = {"sample_position": [0, 2], "coords": [[-1.0, 0.0], [1.0, 0.0]]}
    return detection


def test_per_class_asr_bars_leave_out_the_target_and_draw_the_masr_line():
    figure = per_class_asr_figure(METRICS, source=1, target=2)
    bars = figure.data[0]
    assert list(bars.x) == ["0 a", "1 b", "3 d"] and list(bars.y) == [0.1, 0.9, 0.2]
    assert list(bars.marker.color)[1] == SOURCE_COLOR
    assert figure.layout.shapes[0].y0 == 0.4
    assert "target: 2 c (ASR 0.900 from source 1)" in figure.layout.annotations[-1].text


def test_per_class_asr_of_label_consistent_attacks_has_no_source_class():
    figure = per_class_asr_figure(METRICS, source=1, target=2, kind="amplitude")
    assert SOURCE_COLOR not in list(figure.data[0].marker.color)
    assert figure.layout.annotations[-1].text == "target: 2 c"
    assert "amplitude attack, as Figure 6" in figure.layout.title.text


def test_sweep_per_class_asr_groups_the_classes_by_the_varying_axis():
    def cell(amp, seed, rates):
        return {
            "kind": "amplitude", "p": 33.0, "sticker_size": 3, "amp": amp, "seed": seed,
            "run_id": f"r{amp}{seed}", "clean_accuracy": 0.97, "asr": rates["1"],
            "masr": sum(rates.values()) / len(rates), "per_class_asr": rates, "target": 2,
            "class_names": NAMES, "n_poisoned": 10, "detections": {},
        }  # fmt: skip

    record = {
        "config": {"detectors": []},
        "cells": [
            cell(128, 0, {"0": 0.8, "1": 1.0, "3": 0.6}),
            cell(128, 1, {"0": 0.6, "1": 1.0, "3": 0.4}),
            cell(32, 0, {"0": 0.1, "1": 0.2, "3": 0.0}),
            None,  # a cell not computed yet
        ],
    }
    figure = per_class_asr_sweep_figure(record)
    assert [bars.name.split(" ")[0] for bars in figure.data] == ["amp=128", "amp=32"]
    assert list(figure.data[0].x) == ["0 a", "1 b", "3 d"]
    assert list(figure.data[0].y) == pytest.approx([70.0, 100.0, 50.0])  # mean over seeds
    assert list(figure.data[1].y) == pytest.approx([10.0, 20.0, 0.0])
    assert "target 2 c" in figure.layout.title.text


def test_detector_table_has_the_papers_rates_and_stage_times():
    table = detector_table([_detection("hc"), _detection("ac", mds=False)])
    assert list(table["detector"]) == ["Heatmap Clustering", "Activation Clustering"]
    assert table.loc[0, "ACC"] == 0.75 and table.loc[0, "flagged"] == 1
    assert table.loc[0, "total s"] == 3.5 and pd.isna(table.loc[0, "pairwise s"])
    assert "layer relu" in table.loc[1, "settings"]
    # A result saved before k selection existed reads as fixed k; one that chose k says so.
    assert table.loc[0, "settings"].startswith("k=2, smaller; share 0.99")
    chosen = _detection("hc")
    chosen["config"] |= {"k": 4, "k_selection": "silhouette"}
    chosen["k_chosen"] = 3
    settings = detector_table([chosen]).loc[0, "settings"]
    assert settings.startswith("k=3 of 2-4 by silhouette, smaller;")


def test_cluster_points_carry_truth_flags_and_mds_where_computed():
    is_poisoned = np.zeros(20, dtype=bool)
    is_poisoned[[12, 13]] = True
    points = detection_points(_detection(), is_poisoned)
    assert list(points["truth"]) == ["clean", "clean", "poisoned", "poisoned"]
    assert list(points["flagged"]) == [False, False, True, False]
    assert points["mds_x"].notna().sum() == 2 and points.loc[2, "mds_x"] == 1.0

    mds = cluster_scatter(points, ("MDS 1", "MDS 2"), "t", mds=True)
    assert sum(len(trace.x) for trace in mds.data) == 2
    full = cluster_scatter(points, ("x", "y"), "t", mds=False)
    by_name = {trace.name: list(trace.customdata) for trace in full.data}
    assert by_name == {
        "cluster 0 · clean": [10, 11],
        "cluster 0 · poisoned": [13],
        "cluster 1 (flagged) · poisoned": [12],
    }
    assert {trace.marker.symbol for trace in full.data} == {"circle", "x"}


def _tile(sample, poisoned):
    heatmap = np.zeros((32, 32))
    heatmap[4:8, 4:8] = 1.0
    heatmap[20, 20] = -0.5
    return HeatmapTile(sample, np.zeros((32, 32, 3), np.uint8), heatmap, poisoned, 2)


def test_gallery_figure_pairs_each_image_with_its_heatmap():
    figure = heatmap_gallery_figure([_tile(1, True)], [_tile(2, False), _tile(3, False)], "c")
    kinds = [trace.type for trace in figure.data]
    assert kinds.count("image") == 3 and kinds.count("heatmap") == 3
    heat = next(trace for trace in figure.data if trace.type == "heatmap")
    assert heat.zmin == -1.0 and heat.zmax == 1.0  # symmetric around zero relevance
    titles = [a.text for a in figure.layout.annotations]
    assert "poisoned #1" in titles and "clean #3" in titles


def test_point_cloud_figure_draws_every_kept_pixel():
    tile = _tile(1, True)
    cloud = point_cloud(tile.heatmap, 1.0)
    figure = point_cloud_figure(tile, cloud)
    points = figure.data[2]
    assert len(points.x) == cloud.size == 16
    assert sum(points.customdata) == pytest.approx(1.0)


def test_scan_chart_puts_the_most_suspicious_class_on_top_and_marks_the_target():
    scan = {
        "ranking": [
            {"class": 2, "name": "c", "score": 0.4, "smaller_share": 0.3, "n_samples": 50},
            {"class": 0, "name": "a", "score": 0.1, "smaller_share": 0.5, "n_samples": 40},
        ]
    }
    bars = scan_figure(scan, target=2).data[0]
    assert list(bars.y) == ["0 a", "2 c"]  # plotly draws the last category on top
    assert list(bars.marker.color)[1] == POISONED_COLOR


def test_trigger_scan_chart_says_what_the_patch_did():
    entry = {
        "class": 5,
        "name": "e",
        "score": 0.9,
        "n_samples": 60,
        "patch_success": 0.9,
        "patch_source": 2,
        "enrichment": 750.0,
        "patch_size": 3,
        "patch_holders": 24,
    }
    clean = {"class": 1, "name": "b", "score": 0.0, "n_samples": 60, "patch_size": 0}
    inert = {"class": 3, "name": "d", "score": 0.0, "n_samples": 60, "patch_size": 2}
    inert |= {"patch_holders": 3, "enrichment": 12.0, "patch_success": 0.0, "patch_source": None}
    ranking = [entry, inert, clean]
    figure = scan_figure({"ranking": ranking, "config": {"method": "trigger"}}, target=5)
    assert "turned into each class" in figure.layout.title.text
    hovers = [row[0] for row in figure.data[0].customdata]  # least suspicious first
    assert "3 px patch in 24 samples, 750x" in hovers[2] and "turns 0.90 of class 2" in hovers[2]
    assert hovers[1].endswith("pasted, turns no other class")
    assert hovers[0] == "60 samples"
