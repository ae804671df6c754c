"""Which cluster is called poisoned: the rules of ART's ActivationDefence cluster analyser."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from heatclust_core.errors import ConfigError

FlagRule = Literal["smaller", "relative-size", "silhouette"]
FLAG_RULES: tuple[str, ...] = get_args(FlagRule)
KSelection = Literal["fixed", "silhouette"]
K_SELECTIONS: tuple[str, ...] = get_args(KSelection)


def candidate_ks(k: int, selection: str) -> range:
    """The numbers of clusters a detector fits: k alone, or 2..k to choose among by silhouette."""
    if selection not in K_SELECTIONS:
        raise ConfigError(
            "k_selection", f"must be one of {', '.join(K_SELECTIONS)}, got {selection!r}"
        )
    if selection == "silhouette" and k < 3:
        raise ConfigError("k", f"must be >= 3 to choose k by silhouette among 2..k, got {k}")
    return range(2 if selection == "silhouette" else k, k + 1)


def flag_clusters(
    labels: np.ndarray,
    k: int,
    rule: str = "smaller",
    silhouette: float | None = None,
    size_threshold: float = 0.35,
    silhouette_threshold: float = 0.1,
) -> list[int]:
    """Cluster ids flagged as poisoned.

    smaller: the cluster with the fewest members. relative-size: every cluster holding less
    than `size_threshold` of the samples. silhouette: as relative-size, but only when the
    clustering's silhouette score exceeds `silhouette_threshold` (a clean split is needed).
    """
    sizes = np.bincount(labels, minlength=k)
    if rule == "smaller":
        return [int(np.argmin(sizes))]
    shares = sizes / sizes.sum()
    small = [int(c) for c in np.flatnonzero(shares < size_threshold)]
    if rule == "relative-size":
        return small
    if rule == "silhouette":
        if silhouette is None:
            raise ValueError("the silhouette rule needs the clustering's silhouette score")
        return small if silhouette > silhouette_threshold else []
    raise ConfigError("flag_rule", f"must be one of {', '.join(FLAG_RULES)}, got {rule!r}")


def centroid_silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean simplified silhouette from distances to the k centres, (N, k): (b - a) / max(a, b)."""
    n = len(labels)
    own = distances[np.arange(n), labels]
    others = distances.copy()
    others[np.arange(n), labels] = np.inf
    nearest_other = others.min(axis=1)
    denominator = np.maximum(np.maximum(own, nearest_other), 1e-12)
    return float(np.mean((nearest_other - own) / denominator))
