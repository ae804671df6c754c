import pytest
import torch

from heatclust_core.config import AugmentConfig, DataConfig, TrainConfig

# Keep CPU tests quick and reproducible on the 2-core CI machine.
torch.set_num_threads(2)


@pytest.fixture
def tiny_data(tmp_path) -> DataConfig:
    """A 15-class synthetic set of 40 images per class, cached under a temporary folder."""
    return DataConfig(data_dir=str(tmp_path / "data"), images_per_class=40)


@pytest.fixture
def tiny_train() -> TrainConfig:
    return TrainConfig(epochs=1, batch_size=64, augment=AugmentConfig())
