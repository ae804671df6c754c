"""A detection's settings: which detector on which class, and each detector's own knobs, as one
validated config whose fields are the CLI's flags and the Inspect page's widgets."""

from __future__ import annotations

import hashlib
import json
from typing import Literal, get_args

from pydantic import Field, model_validator

from heatclust_core.config import SEED_MAX, BaseConfig
from heatclust_core.detection.detectors.flagging import FlagRule, KSelection, candidate_ks
from heatclust_core.detection.detectors.settings import DEFAULT_LAYER, SS_MULTIPLIER, Reducer
from heatclust_core.explain.options import CompositeName, LRPOptions

DetectorName = Literal["raw", "ac", "ss", "hc"]
DETECTORS: tuple[str, ...] = get_args(DetectorName)


class DetectConfig(BaseConfig):
    detector: DetectorName = Field(
        "hc",
        description="raw clustering, Activation Clustering, Spectral Signatures or Heatmap "
        "Clustering",
    )
    class_id: int | None = Field(None, ge=0, description="suspicious class (default: the target)")
    k: int = Field(
        2,
        title="Clusters k",
        ge=2,
        le=10,
        description="clusters (with k selection by silhouette: the largest k tried)",
    )
    k_selection: KSelection = Field(
        "fixed",
        title="Choice of k",
        description="fixed: k clusters; silhouette: each k from 2 to k, keeping the clustering "
        "whose silhouette is highest (HC: the simplified silhouette of the GW distances to the "
        "centres)",
    )
    flag_rule: FlagRule = Field(
        "smaller", title="Flag rule", description="which cluster is called poisoned (ART's rules)"
    )
    seed: int = Field(
        0, title="Seed", ge=0, le=SEED_MAX, description="seed of the reduction and k-means"
    )
    # raw and activation clustering
    reducer: Reducer = Field(
        "pca", title="Raw / AC reducer", description="raw/AC: PCA or FastICA before k-means"
    )
    n_components: int = Field(10, ge=1, le=1000, description="raw/AC: reduced dimensions")
    # activation clustering and spectral signatures
    layer: str = Field(
        DEFAULT_LAYER,
        description="AC/SS: module of the network whose activations are used (relu: the last "
        "hidden layer)",
    )
    normalize: bool = Field(
        False,
        title="AC: unit-length activations",
        description="AC: unit-length activations before the reduction (not in the paper)",
    )
    # spectral signatures
    expected_share: float = Field(
        0.33,
        title="SS expected poisoned share",
        gt=0,
        le=round(1 / SS_MULTIPLIER, 4),
        description=f"SS: assumed poisoned share of the class; {SS_MULTIPLIER} x it is flagged",
    )
    # heatmap clustering
    relevance_share: float = Field(
        0.99,
        title="HC relevance share",
        gt=0,
        le=1,
        description="HC: share of positive relevance kept per heatmap",
    )
    # Trigger pixels lie 0.03-0.1 apart once distances are scaled to 1: an epsilon above their
    # squares blurs the trigger's mass over the cloud, and the clusters follow relevance spread.
    epsilon: float = Field(
        0.003,
        title="HC entropic epsilon",
        gt=0,
        le=100,
        description="HC: entropic regularisation of GW (distances are scaled to a maximum of 1)",
    )
    gw_tol: float = Field(
        1e-3,
        gt=0,
        le=0.1,
        description="HC: relative plan change at which a GW solve stops (1e-4 made the same "
        "k-means moves in 1.4x the time)",
    )
    # One pair in a hundred oscillates for hundreds of outer steps at epsilon 0.003, and a
    # batch waits for its slowest pair. Both caps against 500 and 20: clustering the default
    # run's class 30.6 -> 21.1 s, the same flags; table1's p = 15 %, 69.3 -> 46.5 s, ACC 0.632
    # -> 0.639 (no setting finds those poisons). README "Benchmarks".
    gw_max_iter: int = Field(
        50,
        ge=1,
        le=10000,
        description="HC: outer GW iterations of one solve at most (500 before; the same flags "
        "on the default run)",
    )
    gw_inner_iter: int = Field(
        10,
        ge=1,
        le=10000,
        description="HC: Sinkhorn iterations per outer GW iteration at most (20 before)",
    )
    barycenter_size: int = Field(32, ge=2, le=1024, description="HC: points of each barycenter")
    # k-means runs until no sample moves, as the paper's does. Stopping once at most 0.5 % moved
    # ended table1's p = 5 % class (483 samples) at iteration 7 with ACC 0.876, 0.923 and
    # 0.899 for seeds 0, 1, 2; run to the end (14-30 iterations) 0.977, 0.977 and 0.913, and
    # p = 2 % 0.829 against 0.748. A class with a strong backdoor ends within 2-5 iterations
    # either way (p = 33, 15, 10 % and the label-consistent p = 33 %: the same flags, the
    # default run's clustering as fast).
    max_iter: int = Field(50, ge=1, le=1000, description="HC: k-means iterations at most")
    tol_moved: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="HC: k-means stops once an iteration moves at most this share of the "
        "samples (0: until none moves)",
    )
    # One barycenter step per k-means iteration, as in plain k-means: a second one re-solved
    # every member and took 1.25-1.4x the time for the same ACC within 0.002 (p = 15 and 33).
    barycenter_iter: int = Field(
        1, ge=1, le=100, description="HC: barycenter steps per k-means iteration"
    )
    pool: int = Field(
        1,
        title="HC heatmap pooling, px",
        ge=1,
        le=8,
        description="HC: sum-pool the heatmaps pool x pool before the point clouds (fewer "
        "points, faster GW; 1: the paper's pixel clouds)",
    )
    mds_samples: int = Field(
        20,
        title="HC samples in the MDS picture",
        ge=0,
        le=1000,
        description="HC: samples whose all-pairs GW matrix MDS draws (M^2/2 solves; 0: none)",
    )
    mds_pool: int = Field(
        2,
        title="HC MDS picture pooling, px",
        ge=1,
        le=8,
        description="HC: sum-pool the picture's heatmaps pool x pool before its all-pairs GW "
        "(2: ~10x faster, distances correlated 0.98 with the pixel clouds')",
    )
    explain_class: Literal["label", "predicted"] = Field(
        "label", description="HC: explain the labelled or the predicted class"
    )
    lrp_composite: CompositeName = Field(
        LRPOptions().composite,
        title="HC LRP composite",
        description="HC: zennit composite of the heatmaps",
    )

    @model_validator(mode="after")
    def _k_selection_has_a_choice(self) -> DetectConfig:
        candidate_ks(self.k, self.k_selection)
        return self

    def relevant_fields(self) -> dict:
        """The fields this detector reads: what its result's name hashes, so that a field added
        for one detector leaves the saved results of the others where they are."""
        common = {"detector", "class_id", "seed"}
        if self.detector != "ss":
            common |= {"k", "k_selection", "flag_rule"}
        return _without_neutral(
            self.model_dump(include=common | set(DETECTOR_FIELDS[self.detector]))
        )

    def hashed_content(self) -> dict:
        """Every field, less those added later at their neutral value: what ids that contain
        a DetectConfig (sweeps) hash, so that adding a field keeps the ids saved before."""
        return _without_neutral(self.model_dump())

    def result_name(self) -> str:
        text = json.dumps(self.relevant_fields(), sort_keys=True)
        return f"{self.detector}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


# Fields added after results were saved, and the value that means "as before": left out of
# result names and ids at that value, so that saved results keep their names (a default that
# differs from it names new results apart from those computed before it).
NEUTRAL_VALUES = {
    "pool": 1,
    "gw_max_iter": 500,
    "gw_inner_iter": 20,
    "mds_pool": 1,
    "k_selection": "fixed",
}


def _without_neutral(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if NEUTRAL_VALUES.get(k, object()) != v}


# Each detector's own settings in DetectConfig, beside detector, class_id, seed, k, k_selection
# and flag_rule.
DETECTOR_FIELDS: dict[str, tuple[str, ...]] = {
    "raw": ("reducer", "n_components"),
    "ac": ("layer", "reducer", "n_components", "normalize"),
    "ss": ("layer", "expected_share"),
    "hc": (
        "relevance_share",
        "epsilon",
        "gw_tol",
        "gw_max_iter",
        "gw_inner_iter",
        "barycenter_size",
        "max_iter",
        "tol_moved",
        "barycenter_iter",
        "mds_samples",
        "mds_pool",
        "explain_class",
        "lrp_composite",
        "pool",
    ),
}
