"""Layer-wise relevance propagation with zennit on the small Inception network.

BatchNorm is merged into the preceding convolutions by zennit's canonizer; the Inception
module's concatenation needs no rule of its own, since relevance flows back through torch.cat
like a gradient and splits among the branches exactly. Relevance is taken at the input of the
network proper (the normalised image), so its sum matches the explained logit (see the test
of conservation).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import (
    EpsilonAlpha2Beta1,
    EpsilonAlpha2Beta1Flat,
    EpsilonPlus,
    EpsilonPlusFlat,
)

from heatclust_core.explain.options import COMPOSITE_NAMES, CompositeName, LRPOptions
from heatclust_core.training.network import Classifier, images_to_tensor

__all__ = ["COMPOSITE_NAMES", "CompositeName", "Explanation", "LRPOptions", "explain"]

_COMPOSITES = {
    "epsilon-plus-flat": EpsilonPlusFlat,
    "epsilon-plus": EpsilonPlus,
    "epsilon-alpha2-beta1-flat": EpsilonAlpha2Beta1Flat,
    "epsilon-alpha2-beta1": EpsilonAlpha2Beta1,
}


@dataclass
class Explanation:
    """relevance: (N, 3, H, W) input relevance; logits: (N, K); explained: (N,) class ids."""

    relevance: np.ndarray
    logits: np.ndarray
    explained: np.ndarray

    def heatmaps(self) -> np.ndarray:
        """(N, H, W): relevance summed over colour channels."""
        return self.relevance.sum(axis=1)

    def explained_logits(self) -> np.ndarray:
        return self.logits[np.arange(len(self.explained)), self.explained]


def explain(
    model: Classifier,
    images: np.ndarray,
    classes: np.ndarray | None,
    device: torch.device,
    options: LRPOptions = LRPOptions(),
    batch_size: int = 256,
) -> Explanation:
    """LRP of (N, H, W, 3) uint8 images for `classes` (N,) — or the predicted class if None."""
    net = copy.deepcopy(model.net).to(device).eval()
    composite = _COMPOSITES[options.composite](
        epsilon=options.epsilon,
        canonizers=[SequentialMergeBatchNorm()],
        zero_params=["bias"] if options.ignore_bias else None,
    )
    relevance, logits, explained = [], [], []
    with Gradient(model=net, composite=composite) as attributor:
        for start in range(0, len(images), batch_size):
            x = model.normalize(images_to_tensor(images[start : start + batch_size], device))
            with torch.no_grad():
                predicted = net(x).argmax(1)
            if classes is None:
                target = predicted
            else:
                target = torch.as_tensor(classes[start : start + batch_size], device=device)
            one_hot = torch.nn.functional.one_hot(target, num_classes=net.fc2.out_features)
            # Start from the explained logit itself, so relevance is in logit units.
            output, attribution = attributor(x, lambda out, mask=one_hot: out * mask)
            relevance.append(attribution.detach().cpu().numpy())
            logits.append(output.detach().cpu().numpy())
            explained.append(target.cpu().numpy())
    return Explanation(np.concatenate(relevance), np.concatenate(logits), np.concatenate(explained))
