"""Remediation on a tiny run: the cleaned run, its cache, DER and ExRe."""

import numpy as np
import pytest

from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import (
    RemediateConfig,
    defence_effectiveness,
    exclusionary_reclassification,
    load_remediations,
    remediate,
)
from heatclust_core.detection.run import load_detection
from heatclust_core.errors import ConfigError


def test_der_follows_backdoorbench():
    assert defence_effectiveness(1.0, 0.0, 0.95, 0.95) == 1.0
    assert defence_effectiveness(1.0, 0.0, 0.95, 0.85) == pytest.approx(0.95)
    # A rise in ASR or in accuracy counts as no change.
    assert defence_effectiveness(0.2, 0.5, 0.90, 0.93) == 0.5


def test_exre_clears_a_cluster_the_cleaned_network_gives_its_own_label():
    detection = {"class": 2, "cluster_labels": [0, 0, 0, 1, 1, 1, 1], "flagged_clusters": [0, 1]}
    predicted = np.array([2, 2, 1, 4, 4, 4, 2])
    truth = np.array([0, 0, 0, 1, 1, 1, 0], dtype=bool)
    names = ["a", "b", "c", "d", "e"]
    first, second = exclusionary_reclassification(detection, predicted, truth, 0.5, names)
    assert first["verdict"] == "cleared" and first["own_label_share"] == pytest.approx(2 / 3)
    assert second["verdict"] == "confirmed" and second["suspected_source"] == 4
    assert second["suspected_source_name"] == "e" and first["suspected_source_name"] == "b"
    assert (second["size"], second["truly_poisoned"]) == (4, 3)


@pytest.mark.parametrize("mode", ["retrain", "finetune"])
def test_remediation_trains_the_run_without_the_flagged_samples(tiny_run, mode):
    store, run_id = tiny_run
    config = RemediateConfig(detect=DetectConfig(detector="ac"), mode=mode, finetune_epochs=1)
    result = remediate(store, run_id, config, "cpu")
    detection = load_detection(store, run_id, config.detect)
    flagged = np.isin(detection["cluster_labels"], detection["flagged_clusters"])
    flagged_ids = np.asarray(detection["sample_index"])[flagged]
    # The flags, and the samples holding the trigger the search recovered from them.
    removed = np.asarray(result["removed_index"])
    assert np.isin(flagged_ids, removed).all() and result["flagged"] == len(flagged_ids)
    trigger = result["trigger"]
    assert result["removed"] == len(removed) == len(flagged_ids) + trigger["added"]
    attacked_pool = store.load_train_set(run_id)
    assert result["removed_poisoned"] == int(attacked_pool.is_poisoned[removed].sum())

    cleaned = store.load_config(result["run_id"])
    assert cleaned.removal.source_run == run_id and cleaned.removal.mode == mode
    assert list(cleaned.removal.removed) == sorted(removed.tolist())
    assert len(store.load_train_set(result["run_id"]).is_poisoned) == len(
        attacked_pool.is_poisoned
    ) - len(removed)
    assert result["clean_accuracy_after"] == store.load_metrics(result["run_id"])["clean_accuracy"]
    assert result["der"] == pytest.approx(
        defence_effectiveness(
            result["asr_before"],
            result["asr_after"],
            result["clean_accuracy_before"],
            result["clean_accuracy_after"],
        )
    )
    if mode == "retrain":
        assert [v["cluster"] for v in result["exre"]] == detection["flagged_clusters"]
    else:
        assert result["exre"] is None
        assert (
            cleaned.train.epochs == 1 and len(store.load_metrics(result["run_id"])["history"]) == 1
        )

    again = remediate(store, run_id, config, "cpu")
    assert again["cached"] and again["run_id"] == result["run_id"]
    assert any(r["mode"] == mode for r in load_remediations(store, run_id).values)


def test_the_attacked_runs_id_does_not_depend_on_the_removal_field(tiny_run):
    store, run_id = tiny_run
    assert store.load_config(run_id).run_id() == run_id


def test_a_detection_that_flags_nothing_is_refused(tiny_run, monkeypatch):
    import heatclust_core.detection.remediation as remediation

    store, run_id = tiny_run
    monkeypatch.setattr(
        remediation,
        "load_detection",
        lambda *args: {"sample_index": [0, 1], "cluster_labels": [0, 0], "flagged_clusters": []},
    )
    with pytest.raises(ConfigError, match="flagged no sample"):
        remediate(store, run_id, RemediateConfig(detect=DetectConfig(detector="raw")), "cpu")


def test_a_selection_is_removed_instead_of_a_detections_flags(tiny_run, tmp_path):
    from heatclust_core.cli import main

    store, run_id = tiny_run
    pool = store.load_train_set(run_id)
    target = store.load_config(run_id).attack.target
    members = np.flatnonzero(pool.data.labels == target)
    chosen = sorted(set(members[pool.is_poisoned[members]][:3].tolist() + members[:2].tolist()))
    (tmp_path / "selection.csv").write_text(
        "sample_id,poisoned\n" + "".join(f"{i},x\n" for i in chosen)
    )
    assert (
        main(
            [
                "remediate",
                "--run",
                run_id,
                "--models-dir",
                str(store.root),
                "--remove-from",
                str(tmp_path / "selection.csv"),
                "--quiet",
            ]
        )
        == 0
    )
    config = RemediateConfig(removed=tuple(chosen))
    result = remediate(store, run_id, config, "cpu")
    assert result["cached"] and result["detector"] == "selection"
    assert result["removed_index"] == chosen
    assert result["removed_poisoned"] == int(pool.is_poisoned[chosen].sum())
    assert result["detection"].startswith("selection-")
    cleaned = store.load_config(result["run_id"])
    assert list(cleaned.removal.removed) == chosen
    (verdict,) = result["exre"]
    assert verdict["size"] == len(chosen)


@pytest.mark.parametrize(
    ("removed", "message"), [((), "empty"), ((10**6,), "not samples of class")]
)
def test_a_selection_outside_the_class_is_refused_before_training(tiny_run, removed, message):
    store, run_id = tiny_run
    with pytest.raises(ConfigError, match=message) as caught:
        remediate(store, run_id, RemediateConfig(removed=removed), "cpu")
    assert caught.value.parameter == "removed"


def test_names_of_remediations_saved_before_selections_and_the_trigger_search_are_kept():
    import hashlib
    import json

    config = RemediateConfig(mode="finetune", trigger_search=False)
    trigger_fields = {"trigger_search", "trigger_max_size", "trigger_tolerance"}
    content = config.model_dump(exclude={"detect", "removed"} | trigger_fields) | {
        "detect": config.detect.result_name()
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    assert config.result_name() == f"finetune-{digest[:10]}"
    assert RemediateConfig(removed=(1, 2)).result_name() != RemediateConfig().result_name()
    searched = RemediateConfig(mode="finetune")
    assert searched.result_name() != config.result_name()
    assert searched.model_copy(update={"trigger_tolerance": 0.1}).result_name() != (
        searched.result_name()
    )


def test_the_trigger_search_removes_the_poisons_the_flags_missed(tiny_run, monkeypatch):
    # Heatmaps that peak on each sticker, as a trained network's do on the poisons it reads
    # through the trigger; the flags hold only half of the class's poisons.
    from heatclust_core.detection import remediation
    from heatclust_core.explain.lrp import Explanation

    store, run_id = tiny_run
    pool = store.load_train_set(run_id)
    target = store.load_config(run_id).attack.target
    members = np.flatnonzero(pool.data.labels == target)
    poisons = np.flatnonzero(pool.is_poisoned[members])
    flagged = np.zeros(len(members), dtype=bool)
    flagged[poisons[: len(poisons) // 2 + 1]] = True

    def peaked(model, images, classes, device, options):
        index_of = {pool.data.images[i].tobytes(): i for i in members}
        maps = np.zeros((len(images), *images.shape[1:3]), dtype=np.float32)
        for m, image in zip(maps, images, strict=True):
            r, c = pool.trigger_positions[index_of[image.tobytes()]]
            m[r : r + 3, c : c + 3] = 1.0
        return Explanation(maps[:, None].repeat(3, axis=1), np.zeros((len(images), 2)), classes)

    monkeypatch.setattr(remediation, "explain", peaked)
    found = remediation.trigger_removal(
        store, run_id, pool, members, flagged, RemediateConfig(), "cpu"
    )
    assert found["found"] and found["size"] == 3 and found["support"] == 1.0
    assert sorted(found["matched_index"]) == sorted(members[poisons])
    assert found["matched"] == found["matched_poisoned"] == len(poisons)
    assert found["added"] == found["added_poisoned"] == len(poisons) - flagged.sum()
