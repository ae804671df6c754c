import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.attacks.triggers import YELLOW_GREEN
from heatclust_core.config import AugmentConfig, DataConfig, RunConfig, TrainConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.data.loading import load_dataset
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.scan import ScanConfig
from heatclust_core.example.build import ExamplePlan, build_example
from heatclust_core.example.shipped import read_manifest
from heatclust_core.explore.config import EmbedConfig
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.training.network import Classifier, images_to_tensor

# Keep CPU tests quick and reproducible on the 2-core CI machine.
torch.set_num_threads(2)


def pytest_collection_modifyitems(items):
    """A real-browser test is a slow one too: `-m "not slow"` is the whole quick tier."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_synthetic_cache(tmp_path_factory) -> Path:
    """The cache folder of the 20-images-per-class synthetic set, generated once (~1 s)."""
    data_dir = tmp_path_factory.mktemp("tiny-synthetic") / "data"
    load_dataset(DataConfig(data_dir=str(data_dir), images_per_class=20))
    return data_dir / "cache"


@pytest.fixture
def tiny_data_dir(tmp_path, tiny_synthetic_cache) -> Path:
    """A fresh data folder holding a copy of the tiny set's cache: tests may damage it."""
    data_dir = tmp_path / "data"
    shutil.copytree(tiny_synthetic_cache, data_dir / "cache")
    return data_dir


@pytest.fixture
def tiny_data(tiny_data_dir) -> DataConfig:
    """The 43-class synthetic set at 20 images per class on average (917 images), cached
    in a test's own folder."""
    return DataConfig(data_dir=str(tiny_data_dir), images_per_class=20)


@pytest.fixture
def tiny_train() -> TrainConfig:
    return TrainConfig(epochs=1, batch_size=64, augment=AugmentConfig())


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium for the real-browser tests; CI (HEATCLUST_REQUIRE_BROWSER) fails
    without it instead of skipping."""
    if not CHROMIUM.exists():
        if os.environ.get("HEATCLUST_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
        pytest.skip(f"{CHROMIUM} is not installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def two_class_backdoor() -> tuple[Classifier, PoisonedSet]:
    """A small network trained on two noise classes (B carries a blue block) and 40 stickered
    B images labelled A: (model, the 280-sample training set with its poison mask)."""
    rng = np.random.default_rng(0)

    def noise(n):
        return rng.integers(40, 200, size=(n, 32, 32, 3), dtype=np.uint8)

    clean_a, clean_b, poisons = noise(120), noise(120), noise(40)
    clean_b[:, 8:24, 8:24, 2] = 250
    poisons[:, 8:24, 8:24, 2] = 250
    poisons[:, 14:17, 14:17] = YELLOW_GREEN
    images = np.concatenate([clean_a, clean_b, poisons])
    labels = np.array([0] * 120 + [1] * 120 + [0] * 40)
    torch.manual_seed(0)
    # The 2 x 2 average head: with 40 steps on noise the global-max head fits every poison too,
    # but its heatmaps give the trigger scan no enriched patch (patch_success 0). On the
    # example's global-max network the scan finds the 3 px sticker (success 1.00, next 0.05).
    model = Classifier(2, head_pool="average")
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = images_to_tensor(images), torch.as_tensor(labels)
    generator = torch.Generator().manual_seed(0)
    for _ in range(40):
        batch = torch.randint(0, len(x), (64,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    is_poisoned = np.arange(len(images)) >= 240
    positions = np.where(is_poisoned[:, None], 14, -1)
    original = np.array([0] * 120 + [1] * 160)
    return model.eval(), PoisonedSet(ImageSet(images, labels), is_poisoned, original, positions)


@pytest.fixture(scope="session")
def tiny_example(tmp_path_factory):
    """An example built once from 1-epoch runs on the 20-images-per-class set, with every part
    of the real one (detections with an MDS picture, a scan, embeddings, sweeps over p and
    over amp):
    (example folder, work folder, data folder, plan)."""
    root = tmp_path_factory.mktemp("tiny-example")
    data = DataConfig(data_dir=str(root / "data"), images_per_class=20)
    base = RunConfig(data=data, train=TrainConfig(epochs=1, batch_size=64))
    plan = ExamplePlan(
        run=base,
        detections=(
            DetectConfig(detector="ac"),
            DetectConfig(detector="ss"),
            # Fewer, coarser clouds than the default and a larger epsilon: a 1-epoch network's
            # diffuse heatmaps take GW at the default 0.003 ~15x longer than at 0.02.
            DetectConfig(
                detector="hc", mds_samples=6, relevance_share=0.8, max_iter=3, epsilon=0.02
            ),
        ),
        scan=ScanConfig(samples_per_class=12),
        embeddings=(
            EmbedConfig(method="umap"),
            EmbedConfig(method="spectral"),
            EmbedConfig(method="gw-mds", landmarks=5),
        ),
        sweeps=(
            SweepConfig(
                name="tiny-p", base=base, kinds=("standard",), p=(33.0, 15.0), detectors=("ac",)
            ),
            SweepConfig(
                name="tiny-amp", base=base, kinds=("amplitude",), amp=(128,), detectors=("ss",)
            ),
        ),
    )
    build_example(root / "example", root / "work", plan, device="cpu")
    return root / "example", root / "work", root / "data", plan


@pytest.fixture
def example_env(monkeypatch, tmp_path, tiny_example):
    """The app's folders for a test: the tiny example shown, empty models/ and state/. Returns
    the example's manifest."""
    example_dir, _, data_dir, _ = tiny_example
    monkeypatch.setenv("HEATCLUST_EXAMPLE_DIR", str(example_dir))
    monkeypatch.setenv("HEATCLUST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HEATCLUST_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HEATCLUST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("HEATCLUST_SHOW_EXAMPLE", raising=False)
    return read_manifest(example_dir)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 1-epoch run of the default attack on the 20-images-per-class set, trained once for
    the session: (its run store, run id). Tests add results to it (detections, embeddings,
    cleaned runs), never change it."""
    from heatclust_core.pipeline import train_run
    from heatclust_core.storage.run_store import RunStore

    root = tmp_path_factory.mktemp("tiny-run")
    store = RunStore(root / "models")
    config = RunConfig(
        data=DataConfig(data_dir=str(root / "data"), images_per_class=20),
        train=TrainConfig(epochs=1),
    )
    return store, train_run(config, store, "cpu").run_id
