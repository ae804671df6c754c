"""k-means under the Gromov-Wasserstein distance, with GW barycenters as means.

Centres are metric-measure spaces of a fixed support size with uniform weights, as in POT's
`entropic_gromov_barycenters`. k-means++ seeds them from samples (their heaviest points); each
iteration assigns every sample to its nearest centre, then moves each centre by the
square-loss barycenter update of Peyré et al. (2016), C = sum_s T_s^T C_s T_s / (p p^T),
reusing the plans the assignment step has just computed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from heatclust_core.errors import ConfigError
from heatclust_core.gw.engine import GWOptions, MetricMeasure, gromov_wasserstein
from heatclust_core.progress import Progress, silent


@dataclass(frozen=True)
class GWKMeansOptions:
    k: int = 2
    barycenter_size: int = 32
    max_iter: int = 10
    barycenter_iter: int = 2
    seed: int = 0

    def __post_init__(self):
        if self.k < 2:
            raise ConfigError("k", f"must be >= 2, got {self.k}")
        if self.barycenter_size < 2:
            raise ConfigError("barycenter_size", f"must be >= 2, got {self.barycenter_size}")
        if self.max_iter < 1 or self.barycenter_iter < 1:
            raise ConfigError("max_iter", "must be >= 1")


@dataclass
class GWKMeansResult:
    """labels: (N,); distances: (N, k) GW loss to each final centre; centres: k spaces."""

    labels: np.ndarray
    distances: np.ndarray
    centres: list[MetricMeasure]
    iterations: int
    n_gw: int = 0
    history: list[dict] = field(default_factory=list)


def seed_centre(space: MetricMeasure, size: int) -> MetricMeasure:
    """A centre of `size` points from a sample: its heaviest points, uniform weights."""
    keep = torch.argsort(space.p, descending=True)[: min(size, space.size)]
    C = space.C[keep][:, keep].clone()
    top = C.max()
    if top > 0:
        C = C / top
    return MetricMeasure(C, torch.full((len(keep),), 1.0 / len(keep), dtype=space.p.dtype))


def barycenter_step(
    members: Sequence[MetricMeasure], plans: Sequence[torch.Tensor], weights: torch.Tensor
) -> torch.Tensor:
    """Square-loss GW barycenter update: sum_s T_s^T C_s T_s / (p p^T); plans[s] is (n_s, N)."""
    total = None
    for space, plan in zip(members, plans, strict=True):
        plan = plan.to(torch.float64)
        term = plan.T @ space.C.to(torch.float64) @ plan
        total = term if total is None else total + term
    w = weights.to(torch.float64)
    return total / len(members) / torch.outer(w, w)


def _distances(spaces, centres, gw_options, device, return_plans):
    pairs = [(space, centre) for space in spaces for centre in centres]
    result = gromov_wasserstein(pairs, gw_options, device=device, return_plans=return_plans)
    k = len(centres)
    values = result.values.numpy().reshape(len(spaces), k)
    plans = None
    if return_plans:
        plans = [result.plans[i * k : (i + 1) * k] for i in range(len(spaces))]
    return values, plans


def gw_kmeans(
    spaces: Sequence[MetricMeasure],
    options: GWKMeansOptions = GWKMeansOptions(),
    gw_options: GWOptions = GWOptions(),
    device: torch.device | str | None = None,
    progress: Progress = silent,
) -> GWKMeansResult:
    n = len(spaces)
    if n < options.k:
        raise ConfigError("k", f"needs at least k={options.k} samples, got {n}")
    rng = np.random.default_rng(options.seed)
    n_gw = 0

    # k-means++: each next seed drawn with probability proportional to D(x)^2.
    first = int(rng.integers(n))
    centres = [seed_centre(spaces[first], options.barycenter_size)]
    nearest, _ = _distances(spaces, centres, gw_options, device, False)
    nearest = nearest[:, 0].clip(min=0)
    n_gw += n
    while len(centres) < options.k:
        weights = nearest**2
        pick = int(rng.choice(n, p=weights / weights.sum())) if weights.sum() > 0 else int(rng.integers(n))
        centres.append(seed_centre(spaces[pick], options.barycenter_size))
        d, _ = _distances(spaces, centres[-1:], gw_options, device, False)
        n_gw += n
        nearest = np.minimum(nearest, d[:, 0].clip(min=0))
    progress("clustering", 0.0, "seeded with k-means++")

    labels = np.full(n, -1)
    history = []
    iteration = 0
    for iteration in range(1, options.max_iter + 1):
        started = time.perf_counter()
        distances, plans = _distances(spaces, centres, gw_options, device, True)
        n_gw += n * options.k
        new_labels = distances.argmin(axis=1)
        changed = int((new_labels != labels).sum())
        labels = new_labels
        history.append({"iteration": iteration, "changed": changed, "seconds": time.perf_counter() - started})
        progress("clustering", iteration / options.max_iter, f"iteration {iteration}: {changed} moved")
        if changed == 0:
            break
        for c in range(options.k):
            members_index = np.flatnonzero(labels == c)
            if len(members_index) == 0:  # an emptied cluster restarts at the farthest sample
                far = int(distances.min(axis=1).argmax())
                centres[c] = seed_centre(spaces[far], options.barycenter_size)
                continue
            members = [spaces[i] for i in members_index]
            member_plans = [plans[i][c] for i in members_index]
            centre = centres[c]
            for step in range(options.barycenter_iter):
                if step > 0:
                    result = gromov_wasserstein(
                        [(m, centre) for m in members], gw_options, device=device, return_plans=True
                    )
                    member_plans = result.plans
                    n_gw += len(members)
                centre = MetricMeasure(barycenter_step(members, member_plans, centre.p), centre.p)
            centres[c] = centre
    else:
        distances, _ = _distances(spaces, centres, gw_options, device, False)
        n_gw += n * options.k
        labels = distances.argmin(axis=1)
    return GWKMeansResult(labels, distances, centres, iteration, n_gw, history)
