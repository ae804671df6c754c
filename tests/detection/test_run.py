"""Running a detector on a finished run: what is scored, saved, named and refused."""

import json
import shutil

import numpy as np
import pytest

from heatclust_core.config import RunConfig
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.run import (
    SAMPLE_FIELDS,
    detection_path,
    load_detection,
    load_detections,
    resolve_class,
    run_detection,
    without_sample_fields,
)
from heatclust_core.errors import ConfigError
from heatclust_core.storage.run_store import RunStore


def test_a_detection_scores_the_target_class_and_is_saved_under_its_name(tiny_run):
    store, run_id = tiny_run
    config = DetectConfig(detector="raw", n_components=2)
    result = run_detection(store, run_id, config, "cpu")

    train = store.load_train_set(run_id)
    target = store.load_config(run_id).attack.target
    members = np.flatnonzero(train.data.labels == target)
    assert result["class"] == target
    assert result["sample_index"] == members.tolist()
    assert result["n_poisoned"] == int(train.is_poisoned[members].sum()) > 0
    flagged = np.isin(result["cluster_labels"], result["flagged_clusters"])
    truth = np.asarray(result["sample_poisoned"], dtype=bool)
    assert result["tp"] == int((flagged & truth).sum())
    assert result["tp"] + result["tn"] + result["fp"] + result["fn"] == len(members)
    assert sum(result["cluster_sizes"]) == len(members)

    path = detection_path(store, run_id, config)
    assert path.name == f"{config.result_name()}.json"
    assert json.loads(path.read_text())["acc"] == result["acc"]
    assert load_detection(store, run_id, config)["cluster_labels"] == result["cluster_labels"]
    assert result["config"] in [saved["config"] for saved in load_detections(store, run_id).values]


def test_a_detection_on_another_class_looks_only_at_that_class(tiny_run):
    store, run_id = tiny_run
    result = run_detection(store, run_id, DetectConfig(detector="raw", class_id=0), "cpu")
    labels = store.load_train_set(run_id).data.labels
    assert result["class"] == 0
    assert result["n_samples"] == int((labels == 0).sum())


def test_a_damaged_detection_file_reads_as_absent_and_is_listed_as_damaged(tiny_run, tmp_path):
    shared, run_id = tiny_run
    store = RunStore(tmp_path / "models")  # a copy: the session's run stays undamaged
    shutil.copytree(shared.path(run_id), store.path(run_id))
    config = DetectConfig(detector="raw", n_components=3)
    run_detection(store, run_id, config, "cpu")
    path = detection_path(store, run_id, config)
    path.write_text('{"run_id": ')
    assert load_detection(store, run_id, config) is None
    assert [damage.path for damage in load_detections(store, run_id).damaged] == [path]


@pytest.mark.parametrize("class_id", [-1, 43, 99])
def test_a_class_outside_the_data_set_is_refused(class_id):
    names = [f"class {i}" for i in range(43)]
    with pytest.raises(ConfigError) as caught:
        resolve_class(class_id, RunConfig(), names)
    assert caught.value.parameter == "class_id"
    assert "must be in [0, 42]" in caught.value.message


def test_the_target_class_is_the_default():
    config = RunConfig().model_copy(
        update={"attack": RunConfig().attack.model_copy(update={"target": 5})}
    )
    assert resolve_class(None, config, [str(i) for i in range(43)]) == 5


def test_summaries_leave_the_per_sample_arrays_out():
    result = {"acc": 0.9, "sample_index": [1, 2], "cluster_labels": [0, 1], "mds": {}}
    assert without_sample_fields(result) == {"acc": 0.9}
    assert {"sample_index", "cluster_labels", "mds"} <= set(SAMPLE_FIELDS)


def test_a_detection_choosing_k_by_silhouette_saves_the_k_it_kept(tiny_run):
    store, run_id = tiny_run
    config = DetectConfig(detector="raw", n_components=2, k=3, k_selection="silhouette")
    result = run_detection(store, run_id, config, "cpu")
    silhouettes = result["silhouettes"]
    assert set(silhouettes) == {"2", "3"}
    assert result["k_chosen"] == int(max(silhouettes, key=silhouettes.get))
    assert result["silhouette"] == silhouettes[str(result["k_chosen"])]
    assert len(result["cluster_sizes"]) == result["k_chosen"]
    assert max(result["cluster_labels"]) < result["k_chosen"]
    # A fixed k saves its own name beside it.
    assert config.result_name() != DetectConfig(detector="raw", n_components=2, k=3).result_name()
