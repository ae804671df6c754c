"""Poison detectors for one suspicious class, all with the same fit/predict contract.

The classes load on first use (PEP 562): their modules need torch and scikit-learn, which a
config or a page that only shows saved results should not wait for."""

from importlib import import_module

_HOMES = {
    "ActivationClustering": "activation",
    "Detector": "base",
    "HeatmapClustering": "heatmap",
    "RawClustering": "raw",
    "SpectralSignature": "spectral",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
