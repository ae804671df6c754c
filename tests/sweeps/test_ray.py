"""The Ray executor on a local Ray instance with 2 CPUs: cells run as tasks in scratch folders
and come back to the driver, which writes them to its own store."""

import pytest

from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps import run_sweep
from heatclust_core.sweeps.executors import LocalExecutor, RayExecutor
from tests.helpers import tiny_sweep

# Starts a local Ray instance and trains tiny networks: the slow tier.
pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_cells_computed_on_ray_workers_land_in_the_drivers_store(tmp_path, local_ray):
    # A relative data folder: each worker generates the synthetic set in its own scratch.
    sweep = tiny_sweep("data", p=(20.0, 30.0))
    store = RunStore(tmp_path / "models")
    record = run_sweep(sweep, store, RayExecutor(), "cpu")
    assert record["complete"]
    run_ids = [cell["run_id"] for cell in record["cells"]]
    assert sorted(store.run_ids()) == sorted(run_ids)
    for run_id in run_ids:
        assert store.load_model(run_id) is not None and (store.path(run_id) / "detections").is_dir()
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]

    # The same cells here: the same runs and the same poisoned samples (training itself is
    # not bit-identical across processes with other thread counts, so its scores may differ).
    local = RunStore(tmp_path / "local")
    here = run_sweep(sweep, local, LocalExecutor(), "cpu")
    for remote_cell, local_cell in zip(record["cells"], here["cells"], strict=True):
        assert remote_cell["run_id"] == local_cell["run_id"]
        assert remote_cell["n_poisoned"] == local_cell["n_poisoned"] > 0
        remote_set = store.load_train_set(remote_cell["run_id"])
        local_set = local.load_train_set(local_cell["run_id"])
        assert (remote_set.is_poisoned == local_set.is_poisoned).all()
        assert (remote_set.data.images == local_set.data.images).all()
        assert 0 <= remote_cell["detections"]["ac"]["acc"] <= 1
