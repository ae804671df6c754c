import numpy as np
import pytest
import torch

from heatclust_core.attacks.triggers import YELLOW_GREEN
from heatclust_core.model import Classifier, images_to_tensor


@pytest.fixture(scope="package")
def poisoned_class():
    """A small network trained on two noise classes (B carries a blue block) and 40 stickered B
    images labelled A; returns (model, images of class A, (N,) bool truth: poisoned)."""
    rng = np.random.default_rng(0)

    def noise(n):
        return rng.integers(40, 200, size=(n, 32, 32, 3), dtype=np.uint8)

    clean_a, clean_b, poisons = noise(120), noise(120), noise(40)
    clean_b[:, 8:24, 8:24, 2] = 250
    poisons[:, 8:24, 8:24, 2] = 250
    poisons[:, 14:17, 14:17] = YELLOW_GREEN
    images = np.concatenate([clean_a, clean_b, poisons])
    labels = torch.as_tensor([0] * 120 + [1] * 120 + [0] * 40)
    torch.manual_seed(0)
    model = Classifier(2)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x = images_to_tensor(images)
    generator = torch.Generator().manual_seed(0)
    for _ in range(40):
        batch = torch.randint(0, len(x), (64,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(x[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    members = np.flatnonzero(labels.numpy() == 0)
    return model, images[members], np.arange(len(members)) >= 120
