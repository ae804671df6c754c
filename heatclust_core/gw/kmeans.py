"""k-means under the Gromov-Wasserstein distance, with GW barycenters as means.

Centres are metric-measure spaces of a fixed support size with uniform weights, as in POT's
`entropic_gromov_barycenters`. k-means++ seeds each from a sample (that sample's own GW
barycenter, started at its heaviest points); each iteration assigns every sample to its
nearest centre, then moves each centre by the
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
    """A sample's heaviest `size` points with uniform weights: the start of a centre."""
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


class EngineBackend:
    """Distances and barycenters with the batched engine (the default backend of gw_kmeans).

    Another backend (the POT loop of bench/hc.py) only needs the same two methods.
    """

    def __init__(self, gw_options: GWOptions = GWOptions(), device=None, barycenter_iter: int = 2):
        self.gw_options = gw_options
        self.device = device
        self.barycenter_iter = barycenter_iter
        self.n_gw = 0

    def distances(self, spaces, centres, return_plans: bool):
        """(N, k) GW losses, and when asked plans[i][c] of shape (n_i, centre size)."""
        pairs = [(space, centre) for space in spaces for centre in centres]
        result = gromov_wasserstein(
            pairs, self.gw_options, device=self.device, return_plans=return_plans
        )
        self.n_gw += len(pairs)
        k = len(centres)
        values = result.values.numpy().reshape(len(spaces), k)
        plans = None
        if return_plans:
            plans = [result.plans[i * k : (i + 1) * k] for i in range(len(spaces))]
        return values, plans

    def barycenter(self, members, plans, centre: MetricMeasure) -> MetricMeasure:
        """Move `centre` towards the members' barycenter, starting from the given plans."""
        for step in range(self.barycenter_iter):
            if step > 0:
                pairs = [(m, centre) for m in members]
                plans = gromov_wasserstein(
                    pairs, self.gw_options, device=self.device, return_plans=True
                ).plans
                self.n_gw += len(pairs)
            centre = MetricMeasure(barycenter_step(members, plans, centre.p), centre.p)
        return centre


def gw_kmeans(
    spaces: Sequence[MetricMeasure],
    options: GWKMeansOptions = GWKMeansOptions(),
    gw_options: GWOptions = GWOptions(),
    device: torch.device | str | None = None,
    progress: Progress = silent,
    backend=None,
) -> GWKMeansResult:
    n = len(spaces)
    if n < options.k:
        raise ConfigError("k", f"needs at least k={options.k} samples, got {n}")
    if backend is None:
        backend = EngineBackend(gw_options, device, options.barycenter_iter)
    rng = np.random.default_rng(options.seed)

    def compressed_seed(index: int) -> MetricMeasure:
        # The GW barycenter of the one sample: a smooth summary of its whole cloud, of the
        # same kind as the barycenters the centres become. A bare subset of its points would
        # sit farther from every sample than any barycenter, and its cluster would empty.
        start = seed_centre(spaces[index], options.barycenter_size)
        plans = backend.distances([spaces[index]], [start], True)[1][0]
        return backend.barycenter([spaces[index]], plans, start)

    # k-means++: each next seed drawn with probability proportional to D(x)^2.
    first = int(rng.integers(n))
    centres = [compressed_seed(first)]
    nearest = backend.distances(spaces, centres, False)[0][:, 0].clip(min=0)
    while len(centres) < options.k:
        weights = nearest**2
        if weights.sum() > 0:
            pick = int(rng.choice(n, p=weights / weights.sum()))
        else:
            pick = int(rng.integers(n))
        centres.append(compressed_seed(pick))
        d = backend.distances(spaces, centres[-1:], False)[0][:, 0].clip(min=0)
        nearest = np.minimum(nearest, d)
    progress("clustering", 0.0, "seeded with k-means++")

    labels = np.full(n, -1)
    history = []
    iteration = 0
    converged = False
    for iteration in range(1, options.max_iter + 1):
        started = time.perf_counter()
        distances, plans = backend.distances(spaces, centres, True)
        new_labels = distances.argmin(axis=1)
        changed = int((new_labels != labels).sum())
        labels = new_labels
        history.append(
            {"iteration": iteration, "changed": changed, "seconds": time.perf_counter() - started}
        )
        progress(
            "clustering", iteration / options.max_iter, f"iteration {iteration}: {changed} moved"
        )
        if changed == 0:
            converged = True
            break
        for c in range(options.k):
            members_index = np.flatnonzero(labels == c)
            if len(members_index) == 0:  # an emptied cluster restarts at the farthest sample
                far = int(distances.min(axis=1).argmax())
                centres[c] = compressed_seed(far)
                continue
            members = [spaces[i] for i in members_index]
            centres[c] = backend.barycenter(
                members, [plans[i][c] for i in members_index], centres[c]
            )
    if not converged:  # the centres moved after the last assignment
        distances, _ = backend.distances(spaces, centres, False)
        labels = distances.argmin(axis=1)
    return GWKMeansResult(
        labels, distances, centres, iteration, getattr(backend, "n_gw", 0), history
    )
