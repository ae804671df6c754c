import numpy as np

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import AttackConfig, RunConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.data.synthetic import CLASS_NAMES
from heatclust_core.storage.catalog import run_label, run_rows
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import Classifier


def _save(store: RunStore, run_id: str, attack: AttackConfig, asr: float) -> None:
    labels = np.arange(4)
    data = ImageSet(np.zeros((4, 32, 32, 3), np.uint8), labels)
    poisoned = PoisonedSet(data, np.zeros(4, bool), labels, np.full((4, 2), -1))
    metrics = {
        "class_names": list(CLASS_NAMES),
        "history": [{"epoch": 1}, {"epoch": 2}],
        "clean_accuracy": 0.9,
        "asr": asr,
        "masr": 0.1,
        "per_class_asr": {"0": asr},
        "train_seconds": 12.0,
    }
    store.save(run_id, Classifier(15), RunConfig(attack=attack), metrics, poisoned)


def test_rows_describe_each_run_newest_first_and_skip_broken_folders(tmp_path):
    store = RunStore(tmp_path)
    _save(store, "aaaaaaaaaaaa", AttackConfig(source=2, target=5), 1.0)
    _save(store, "bbbbbbbbbbbb", AttackConfig(kind="amplitude", source=2, target=5, amp=32), 0.2)
    (tmp_path / "cccccccccccc").mkdir()  # a folder without its files is no run
    rows = run_rows(store)
    assert [row["run"] for row in rows] == ["bbbbbbbbbbbb", "aaaaaaaaaaaa"]
    amplitude, standard = rows
    assert amplitude["amp"] == 32 and amplitude["eps"] is not None
    assert standard["amp"] is None and standard["eps"] is None
    assert standard["target"] == "5 Speed limit (80km/h)" and standard["epochs"] == 2
    assert run_label(standard) == "aaaaaaaaaaaa · standard p=33% · ASR 1.00"


def test_deleting_a_run_removes_only_its_folder(tmp_path):
    store = RunStore(tmp_path)
    _save(store, "aaaaaaaaaaaa", AttackConfig(source=2, target=5), 1.0)
    _save(store, "bbbbbbbbbbbb", AttackConfig(source=2, target=5, p=10), 1.0)
    assert store.delete("aaaaaaaaaaaa") and not store.delete("aaaaaaaaaaaa")
    assert store.run_ids() == ["bbbbbbbbbbbb"]
    assert [p.name for p in tmp_path.iterdir()] == ["bbbbbbbbbbbb"]
