import json
import os
import time

import numpy as np
import pytest
import torch
from safetensors.torch import save

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import STICKER_FIELDS, UNHASHED_STICKER, AttackConfig, RunConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.data.synthetic import CLASS_NAMES
from heatclust_core.errors import DamagedFileError, RunNotFoundError
from heatclust_core.storage.catalog import damaged_rows, run_rows
from heatclust_core.storage.run_store import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TRAIN_SET_FILE,
    RunStore,
)
from heatclust_core.training.network import Classifier

RUN_FILES = (MODEL_FILE, CONFIG_FILE, METRICS_FILE, TRAIN_SET_FILE)
HEALTHY, VICTIM = "aaaaaaaaaaaa", "bbbbbbbbbbbb"


def save_run(store: RunStore, run_id: str, clean_accuracy: float = 0.9, model=None) -> None:
    labels = np.arange(6) % 3
    data = ImageSet(np.full((6, 32, 32, 3), 7, np.uint8), labels)
    poisoned = PoisonedSet(data, labels == 0, labels, np.full((6, 2), -1))
    metrics = {
        "class_names": list(CLASS_NAMES),
        "history": [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "val_acc": 0.5}],
        "clean_accuracy": clean_accuracy,
        "asr": 1.0,
        "masr": 0.2,
        "per_class_asr": {"2": 1.0},
    }
    config = RunConfig(attack=AttackConfig(source=2, target=5))
    store.save(run_id, model or Classifier(len(CLASS_NAMES)), config, metrics, poisoned)


def truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def store(tmp_path) -> RunStore:
    store = RunStore(tmp_path / "models")
    save_run(store, HEALTHY)
    save_run(store, VICTIM)
    return store


@pytest.mark.parametrize("name", RUN_FILES)
def test_a_truncated_file_marks_its_run_damaged_and_leaves_the_others_usable(store, name):
    truncate(store.path(VICTIM) / name)
    reason = store.problem(VICTIM)
    assert reason is not None and reason.startswith(f"{name} is damaged")
    assert store.run_ids() == [HEALTHY] and not store.exists(VICTIM)
    assert store.damaged() == {VICTIM: reason}
    assert [row["run"] for row in run_rows(store)] == [HEALTHY]
    assert damaged_rows(store) == [{"run": VICTIM, "problem": reason}]
    store.load_model(HEALTHY), store.load_train_set(HEALTHY), store.load_config(HEALTHY)


@pytest.mark.parametrize(
    ("name", "load"),
    [
        (MODEL_FILE, RunStore.load_model),
        (CONFIG_FILE, RunStore.load_config),
        (METRICS_FILE, RunStore.load_metrics),
        (TRAIN_SET_FILE, RunStore.load_train_set),
    ],
)
def test_loading_a_damaged_file_raises_one_line_naming_it(store, name, load):
    truncate(store.path(VICTIM) / name)
    with pytest.raises(DamagedFileError) as caught:
        load(store, VICTIM)
    message = str(caught.value)
    assert "\n" not in message and name in message and VICTIM in message


def test_a_json_file_without_the_keys_pages_read_is_damaged(store):
    (store.path(VICTIM) / METRICS_FILE).write_text('{"clean_accuracy": 0.5}')
    assert "no asr" in store.problem(VICTIM)
    (store.path(VICTIM) / METRICS_FILE).write_text("[1, 2]")
    assert "not an object" in store.problem(VICTIM)


def test_a_run_folder_missing_a_file_is_listed_and_replaced_by_the_next_save(store):
    (store.path(VICTIM) / TRAIN_SET_FILE).unlink()
    assert store.damaged() == {VICTIM: f"unfinished or damaged: no {TRAIN_SET_FILE}"}
    with pytest.raises(RunNotFoundError):
        store.load_train_set(VICTIM)
    save_run(store, VICTIM, clean_accuracy=0.5)  # the retraining's save
    assert store.damaged() == {} and store.run_ids() == [HEALTHY, VICTIM]
    assert store.load_metrics(VICTIM)["clean_accuracy"] == 0.5


def test_a_truncated_run_is_replaced_by_the_next_save(store):
    truncate(store.path(VICTIM) / MODEL_FILE)
    save_run(store, VICTIM, clean_accuracy=0.4)
    assert store.exists(VICTIM) and store.load_metrics(VICTIM)["clean_accuracy"] == 0.4


def test_a_healthy_run_is_not_overwritten_by_a_twin(store):
    save_run(store, HEALTHY, clean_accuracy=0.1)
    assert store.load_metrics(HEALTHY)["clean_accuracy"] == 0.9


def test_other_folders_beside_the_runs_are_not_runs(store):
    (store.root / "sweeps").mkdir()
    assert store.damaged() == {} and store.run_ids() == [HEALTHY, VICTIM]


def test_leftovers_of_killed_processes_are_removed_once_old(store):
    old_staging = store.root / f".staging-{VICTIM}-12345678"
    old_staging.mkdir()
    young_staging = store.root / f".staging-{HEALTHY}-87654321"
    young_staging.mkdir()
    old_tmp = store.path(HEALTHY) / f".{METRICS_FILE}.abc.tmp"
    old_tmp.write_text("{")
    two_hours_ago = time.time() - 7200
    for path in (old_staging, old_tmp):
        os.utime(path, (two_hours_ago, two_hours_ago))
    removed = store.remove_leftovers(older_than_s=3600)
    assert sorted(removed) == sorted([old_staging, old_tmp])
    assert young_staging.exists() and store.run_ids() == [HEALTHY, VICTIM]


def test_saved_files_follow_the_umask_so_a_team_can_share_them(store):
    for name in RUN_FILES:
        assert (store.path(HEALTHY) / name).stat().st_mode & 0o044 == 0o044, name


def test_a_partial_training_set_keeps_some_images_and_says_which(store, tmp_path):
    from heatclust_core.storage.run_store import write_partial_train_set

    full = store.load_train_set(HEALTHY)
    path = store.path(HEALTHY) / TRAIN_SET_FILE
    write_partial_train_set(path, full, np.array([4, 1]))
    partial = store.load_train_set(HEALTHY)
    assert partial.image_available.tolist() == [False, True, False, False, True, False]
    assert partial.has_images(np.array([1, 4])) and not partial.has_images(np.array([0, 1]))
    assert np.array_equal(partial.data.images[[1, 4]], full.data.images[[1, 4]])
    assert not partial.data.images[[0, 2, 3, 5]].any()
    assert np.array_equal(partial.is_poisoned, full.is_poisoned)
    assert full.image_available is None and full.has_images(np.arange(6))


def test_a_read_only_store_serves_results_only_runs_and_refuses_writes(store):
    from heatclust_core.errors import StorageError

    for name in (MODEL_FILE, TRAIN_SET_FILE):
        (store.path(VICTIM) / name).unlink()
    assert VICTIM not in store.run_ids()  # a writable store needs the network
    shipped = RunStore(store.root, read_only=True)
    assert shipped.run_ids() == [HEALTHY, VICTIM]
    assert shipped.has_network(HEALTHY) and not shipped.has_network(VICTIM)
    assert shipped.load_metrics(VICTIM)["clean_accuracy"] == 0.9
    with pytest.raises(RunNotFoundError, match="results of run"):
        shipped.load_train_set(VICTIM)
    with pytest.raises(StorageError, match="read-only"):
        save_run(shipped, "cccccccccccc")
    with pytest.raises(StorageError, match="read-only"):
        shipped.delete(HEALTHY)
    assert shipped.exists(HEALTHY)


def test_a_config_written_before_the_sticker_fields_reads_as_the_sticker_it_was_trained_with(store):
    """Those runs all had the yellow-green sticker in the window, not today's default."""
    path = store.path(HEALTHY) / CONFIG_FILE
    stored = json.loads(path.read_text())
    for name in STICKER_FIELDS:
        del stored["config"]["attack"][name]
    path.write_text(json.dumps(stored))
    config = store.load_config(HEALTHY)
    assert {name: getattr(config.attack, name) for name in STICKER_FIELDS} == UNHASHED_STICKER
    assert AttackConfig().sticker_color != UNHASHED_STICKER["sticker_color"]
    # Run ids of such configs are the ones they were saved under.
    resolved = config.resolved(CLASS_NAMES)
    assert not set(STICKER_FIELDS) & resolved.hashed_content()["attack"].keys()


@pytest.mark.parametrize("head_pool", ["max", "global-max"])
def test_a_network_comes_back_with_the_head_pooling_it_was_saved_with(store, head_pool):
    """The pooling has no weights: the file's metadata says it, and files from before it was
    recorded hold average-pooling networks."""
    model = Classifier(len(CLASS_NAMES), head_pool=head_pool).eval()
    save_run(store, "cccccccccccc", model=model)
    loaded = store.load_model("cccccccccccc")
    assert loaded.head_pool == head_pool
    assert isinstance(loaded.net.head_pool, torch.nn.AdaptiveMaxPool2d)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    # A file saved without the key (before head_pool existed) holds an average-pooling head.
    path = store.path(HEALTHY) / MODEL_FILE
    state = Classifier(len(CLASS_NAMES), head_pool="average").state_dict()
    path.write_bytes(save(state, metadata={"n_classes": str(len(CLASS_NAMES))}))
    assert store.load_model(HEALTHY).head_pool == "average"
    path.write_bytes(save(state, metadata={"head_pool": "median"}))
    with pytest.raises(DamagedFileError, match="median"):
        store.load_model(HEALTHY)
