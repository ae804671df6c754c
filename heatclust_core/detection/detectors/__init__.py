"""Poison detectors for one suspicious class, all with the same fit/predict contract."""

from heatclust_core.detection.detectors.activation import ActivationClustering
from heatclust_core.detection.detectors.base import Detector
from heatclust_core.detection.detectors.heatmap import HeatmapClustering
from heatclust_core.detection.detectors.raw import RawClustering
from heatclust_core.detection.detectors.spectral import SpectralSignature

__all__ = [
    "ActivationClustering",
    "Detector",
    "HeatmapClustering",
    "RawClustering",
    "SpectralSignature",
]
