"""Activation Clustering (Chen et al. 2018): hidden activations -> PCA or FastICA (10 dims) ->
k-means++. Chen et al. reduced with ICA; the Heatmap Clustering paper ran AC with PCA, our
default."""

from __future__ import annotations

import numpy as np
import torch

from heatclust_core.detection.detectors.base import Detector, check_reducer, reduce_features
from heatclust_core.detection.detectors.settings import DEFAULT_LAYER
from heatclust_core.errors import ConfigError
from heatclust_core.training.network import Classifier, images_to_tensor


def layer_names(model: Classifier) -> list[str]:
    """Names of the network's modules whose output can be clustered."""
    return [name for name, _ in model.net.named_modules() if name]


def check_layer(model: Classifier, layer: str) -> None:
    if layer not in layer_names(model):
        names = ", ".join(layer_names(model))
        raise ConfigError("layer", f"unknown layer {layer!r}; choose one of {names}")


def activations(
    model: Classifier, images: np.ndarray, layer: str, device: torch.device, batch_size: int = 512
) -> np.ndarray:
    """(N, D) flattened outputs of `layer` (a module name of model.net) for uint8 images."""
    check_layer(model, layer)
    modules = dict(model.net.named_modules())
    captured: list[torch.Tensor] = []
    hook = modules[layer].register_forward_hook(
        lambda _m, _i, out: captured.append(out.flatten(1).cpu())
    )
    model.eval().to(device)
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                model(images_to_tensor(images[start : start + batch_size], device))
    finally:
        hook.remove()
    return torch.cat(captured).numpy()


class ActivationClustering(Detector):
    name = "ac"

    def __init__(
        self,
        model: Classifier,
        layer: str = DEFAULT_LAYER,
        reducer: str = "pca",
        n_components: int = 10,
        normalize: bool = False,
        device: torch.device | str = "cpu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_layer(model, layer)
        check_reducer(reducer, n_components)
        self.model = model
        self.layer = layer
        self.reducer = reducer
        self.n_components = n_components
        self.normalize = normalize
        self.device = torch.device(device)

    def fit(self, images: np.ndarray, labels: np.ndarray) -> ActivationClustering:
        with self._timed("features"):
            acts = activations(self.model, images, self.layer, self.device)
            if self.normalize:
                # Unit-length activations: clusters by direction, not by overall magnitude.
                acts = acts / np.maximum(np.linalg.norm(acts, axis=1, keepdims=True), 1e-12)
            reduced = reduce_features(acts, self.reducer, self.n_components, self.seed)
        self._cluster_vectors(reduced)
        return self
