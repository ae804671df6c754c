"""A detector built from Python gets the defaults the CLI and the app use (DetectConfig)."""

import inspect

import pytest

from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.detectors import (
    ActivationClustering,
    HeatmapClustering,
    RawClustering,
    SpectralSignature,
)
from heatclust_core.detection.detectors.base import Detector

CONFIG = DetectConfig()


def _defaults(cls) -> dict:
    return {
        name: parameter.default
        for klass in (cls, Detector)
        for name, parameter in inspect.signature(klass.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize(
    "cls", [RawClustering, ActivationClustering, SpectralSignature, HeatmapClustering]
)
def test_every_detector_parameter_defaults_to_the_configs_default(cls):
    defaults = _defaults(cls)
    shared = set(defaults) & set(DetectConfig.model_fields)
    assert {"k", "flag_rule", "seed"} <= shared
    if cls is not SpectralSignature:  # SS flags by score, without k-means
        assert "k_selection" in shared
    for name in shared:
        assert defaults[name] == getattr(CONFIG, name), f"{cls.__name__}.{name}"


def test_heatmap_clustering_explains_with_the_configs_lrp_composite():
    assert _defaults(HeatmapClustering)["lrp"].composite == CONFIG.lrp_composite


def test_a_detectors_result_name_hashes_only_its_own_settings():
    from heatclust_core.detection.config import DETECTOR_FIELDS, DETECTORS

    owned = {name for fields in DETECTOR_FIELDS.values() for name in fields}
    common = {"detector", "class_id", "seed", "k", "k_selection", "flag_rule"}
    assert set(DetectConfig.model_fields) == owned | common
    assert set(DETECTOR_FIELDS) == set(DETECTORS)
    hc = DetectConfig(detector="hc")
    assert hc.model_copy(update={"expected_share": 0.1}).result_name() == hc.result_name()
    assert hc.model_copy(update={"epsilon": 0.01}).result_name() != hc.result_name()
    ss = DetectConfig(detector="ss")
    assert ss.model_copy(update={"k": 3}).result_name() == ss.result_name()
    assert ss.model_copy(update={"k_selection": "silhouette"}).result_name() == ss.result_name()
