import os
from pathlib import Path

import pytest
import torch

from heatclust_core.config import AugmentConfig, DataConfig, TrainConfig

# Keep CPU tests quick and reproducible on the 2-core CI machine.
torch.set_num_threads(2)


@pytest.fixture
def tiny_data(tmp_path) -> DataConfig:
    """The 43-class synthetic set at 20 images per class on average (917 images), cached
    under a temporary folder."""
    return DataConfig(data_dir=str(tmp_path / "data"), images_per_class=20)


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
