"""Poison detectors for one suspicious class, all with the same fit/predict contract."""

from heatclust_core.detectors.activation import ActivationClustering
from heatclust_core.detectors.base import Detector
from heatclust_core.detectors.heatmap import HeatmapClustering
from heatclust_core.detectors.raw import RawClustering
from heatclust_core.detectors.spectral import SpectralSignature

__all__ = [
    "ActivationClustering",
    "Detector",
    "HeatmapClustering",
    "RawClustering",
    "SpectralSignature",
]
