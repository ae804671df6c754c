import numpy as np
import torch
from torch import nn

from heatclust_core.attacks.metrics import attack_metrics
from heatclust_core.attacks.triggers import STICKER_COLORS
from heatclust_core.config import AttackConfig
from heatclust_core.data.imageset import ImageSet


class _StickerDetector(nn.Module):
    """Predicts the target when a pixel of the default sticker's colour is present (only for
    classes 0 and 1), otherwise the class encoded in the image's mean red level."""

    def __init__(self, target, backdoored_classes):
        super().__init__()
        self.target = target
        self.backdoored = backdoored_classes

    def forward(self, x):
        rgb = STICKER_COLORS[AttackConfig().sticker_color]
        colour = torch.as_tensor(rgb, dtype=torch.float32) / 255
        has_sticker = ((x - colour.view(1, 3, 1, 1)).abs().sum(1) < 1e-3).flatten(1).any(1)
        true_class = torch.round(x[:, 0, 0, 0] * 10).long()
        backdoor_fires = has_sticker & torch.isin(true_class, torch.tensor(self.backdoored))
        prediction = torch.where(backdoor_fires, self.target, true_class)
        return nn.functional.one_hot(prediction, 4).float()


def test_asr_per_class_asr_and_masr():
    labels = np.repeat(np.arange(4), 5)
    images = np.zeros((20, 32, 32, 3), dtype=np.uint8)
    images[..., 0] = (labels * 25.5).round().astype(np.uint8)[:, None, None]
    attack = AttackConfig(kind="standard", source=0, target=3)
    model = _StickerDetector(target=3, backdoored_classes=[0, 1])
    metrics = attack_metrics(model, ImageSet(images, labels), attack, 4, torch.device("cpu"))
    assert metrics["clean_accuracy"] == 1.0
    assert metrics["per_class_asr"] == {"0": 1.0, "1": 1.0, "2": 0.0}
    assert metrics["asr"] == 1.0
    assert metrics["masr"] == 2 / 3
