"""Fault injection: damaged files in a models/ folder of several runs never take a page down."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import AttackConfig, RunConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.data.synthetic import CLASS_NAMES
from heatclust_core.storage.atomic import write_json
from heatclust_core.storage.run_store import (
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TRAIN_SET_FILE,
    RunStore,
)
from heatclust_core.training.network import Classifier

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = (
    "pages/home.py",
    "pages/dataset.py",
    "pages/attack.py",
    "pages/inspect.py",
    "pages/compare.py",
    "pages/runs.py",
)

# Drives the app (AppTest) over tiny runs trained by job processes: the slow tier.
pytestmark = pytest.mark.slow
HEALTHY = ("a00000000001", "a00000000002")
# One run per damaged file kind, named by the file.
DAMAGED = {
    MODEL_FILE: "d00000000001",
    CONFIG_FILE: "d00000000002",
    METRICS_FILE: "d00000000003",
    TRAIN_SET_FILE: "d00000000004",
}
MISSING = "d00000000005"  # a folder that lost its training set


def _save(store: RunStore, run_id: str) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([2, 5], 12)
    images = rng.integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8)
    is_poisoned = (labels == 5) & (np.arange(len(labels)) % 3 == 0)
    positions = np.where(is_poisoned[:, None], 11, -1)
    poisoned = PoisonedSet(ImageSet(images, labels), is_poisoned, labels, positions)
    metrics = {
        "class_names": list(CLASS_NAMES),
        "history": [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "val_acc": 0.5}],
        "clean_accuracy": 0.5,
        "asr": 0.5,
        "masr": 0.2,
        "per_class_asr": {"2": 0.5},
        "per_class_accuracy": {"2": 0.5, "5": 0.5},
        "n_poisoned": int(is_poisoned.sum()),
        "train_seconds": 1.0,
        "device": "cpu",
    }
    config = RunConfig(attack=AttackConfig(source=2, target=5))
    store.save(run_id, Classifier(len(CLASS_NAMES)), config, metrics, poisoned)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.fixture(scope="module")
def damaged_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    store = RunStore(root / "models")
    for run_id in (*HEALTHY, *DAMAGED.values(), MISSING):
        _save(store, run_id)
    for name, run_id in DAMAGED.items():
        _truncate(store.path(run_id) / name)
    (store.path(MISSING) / TRAIN_SET_FILE).unlink()
    for folder, name in (("detections", "hc-0123456789.json"), ("scans", "scan-0123456789.json")):
        write_json(store.path(HEALTHY[0]) / folder / name, {"class": 5})
        _truncate(store.path(HEALTHY[0]) / folder / name)
    write_json(store.root / "sweeps" / "0123456789ab.json", {"sweep_id": "0123456789ab"})
    _truncate(store.root / "sweeps" / "0123456789ab.json")
    return {"data": root / "data", "models": root / "models", "state": root / "state"}


@pytest.fixture
def env(monkeypatch, damaged_env):
    for name, path in damaged_env.items():
        monkeypatch.setenv(f"HEATCLUST_{name.upper()}_DIR", str(path))
    monkeypatch.setenv("HEATCLUST_SHOW_EXAMPLE", "0")
    return damaged_env


def _open(page: str, **query) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _texts(app: AppTest) -> str:
    return " ".join(e.value for kind in ("error", "warning", "info") for e in app.get(kind))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_draws_beside_damaged_runs(env, page):
    _open(page)


def test_runs_page_lists_each_damaged_run_with_its_reason_and_offers_to_delete_it(env):
    app = _open("pages/runs.py")
    damaged = next(t for t in app.dataframe if "problem" in t.value.columns).value
    reasons = dict(zip(damaged["run"], damaged["problem"], strict=True))
    for name, run_id in DAMAGED.items():
        assert reasons[run_id].startswith(f"{name} is damaged"), reasons[run_id]
    assert TRAIN_SET_FILE in reasons[MISSING]
    finished = next(t for t in app.dataframe if "clean accuracy" in t.value.columns).value
    assert sorted(finished["run"]) == sorted(HEALTHY)
    assert set(DAMAGED.values()) <= set(app.selectbox(key="delete-run").options)


@pytest.mark.parametrize("run_id", [*DAMAGED.values(), MISSING])
def test_inspect_of_a_damaged_run_says_why_and_shows_a_healthy_one(env, run_id):
    app = _open("pages/inspect.py", run=run_id)
    assert f"Run {run_id} cannot be opened" in _texts(app)
    assert app.selectbox[0].value in HEALTHY


def test_inspect_lists_damaged_detection_files_and_draws_the_rest(env):
    app = _open("pages/inspect.py", run=HEALTHY[0])
    assert "hc-0123456789.json is damaged" in _texts(app)


def test_compare_reports_a_damaged_sweep_record(env):
    app = _open("pages/compare.py")
    assert "0123456789ab.json is damaged" in _texts(app)


def test_other_runs_still_open_from_the_library(env):
    store = RunStore(env["models"])
    assert store.run_ids() == sorted(HEALTHY)
    for run_id in HEALTHY:
        store.load_model(run_id), store.load_train_set(run_id), store.load_metrics(run_id)
