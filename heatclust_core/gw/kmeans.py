"""k-means under the Gromov-Wasserstein distance, with GW barycenters as means.

Centres are metric-measure spaces of a fixed support size with uniform weights, as in POT's
`entropic_gromov_barycenters`. k-means++ seeds each from a sample (that sample's own GW
barycenter, started at its heaviest points); each iteration assigns every sample to its
nearest centre, then moves each centre by the
square-loss barycenter update of Peyré et al. (2016), C = sum_s T_s^T C_s T_s / (p p^T),
reusing the plans the assignment step has just computed. Every (sample, centre) solve
starts from that pair's last plan and Sinkhorn potentials (PairState): after the first
iterations the centres barely move, and a warm pair converges in a few steps.
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
    max_iter: int = 50
    barycenter_iter: int = 1
    seed: int = 0
    # Stop once an assignment moves at most this share of the samples (0: until none moves).
    # The labels then match the centres they were assigned to, as at exact convergence.
    tol_moved: float = 0.0
    # Start each (sample, centre) solve where the pair's last one ended; False restarts every
    # solve at p q^T, as one POT call per pair does.
    warm_start: bool = True

    def __post_init__(self):
        if self.k < 2:
            raise ConfigError("k", f"must be >= 2, got {self.k}")
        if self.barycenter_size < 2:
            raise ConfigError("barycenter_size", f"must be >= 2, got {self.barycenter_size}")
        if self.max_iter < 1 or self.barycenter_iter < 1:
            raise ConfigError("max_iter", "must be >= 1")
        if not 0 <= self.tol_moved < 1:
            raise ConfigError("tol_moved", f"must be in [0, 1), got {self.tol_moved}")


@dataclass
class GWKMeansResult:
    """labels: (N,); distances: (N, k) GW loss to each final centre; centres: k spaces;
    states[i][c]: where pair (i, c)'s last solve ended (kept only with keep_states, so that a
    fit with more centres can start from this one)."""

    labels: np.ndarray
    distances: np.ndarray
    centres: list[MetricMeasure]
    iterations: int
    n_gw: int = 0
    history: list[dict] = field(default_factory=list)
    states: list[list] | None = None


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


@dataclass
class PairState:
    """Where a (sample, centre) pair's last solve ended: plan (n, m) and, when the backend
    has them, Sinkhorn log-potentials (f (n,), g (m,)). The next solve of the pair starts
    there, since centres move little between iterations."""

    plan: torch.Tensor
    potentials: tuple[torch.Tensor, torch.Tensor] | None = None


class EngineBackend:
    """Distances and barycenters with the batched engine (the default backend of gw_kmeans).

    Another backend (the POT loop of bench/hc.py) only needs the same two methods.
    """

    def __init__(self, gw_options: GWOptions = GWOptions(), device=None, barycenter_iter: int = 1):
        self.gw_options = gw_options
        self.device = device
        self.barycenter_iter = barycenter_iter
        self.n_gw = 0
        self.n_gw_iterations = 0  # outer GW iterations over all solves

    def _solve(self, pairs, starts, return_states: bool):
        result = gromov_wasserstein(
            pairs,
            self.gw_options,
            device=self.device,
            return_plans=return_states,
            initial_plans=None if starts is None else [s and s.plan for s in starts],
            initial_potentials=None if starts is None else [s and s.potentials for s in starts],
        )
        self.n_gw += len(pairs)
        self.n_gw_iterations += int(result.iterations.sum())
        states = None
        if return_states:
            states = [
                PairState(plan, potentials)
                for plan, potentials in zip(result.plans, result.potentials, strict=True)
            ]
        return result.values.numpy(), states

    def distances(self, spaces, centres, return_states: bool, starts=None):
        """(N, k) GW losses, and when asked states[i][c] (a PairState, plan (n_i, centre size)).

        starts[i][c], a PairState or None, is where pair (i, c) starts."""
        pairs = [(space, centre) for space in spaces for centre in centres]
        flat_starts = None if starts is None else [s for row in starts for s in row]
        values, flat_states = self._solve(pairs, flat_starts, return_states)
        k = len(centres)
        states = None
        if return_states:
            states = [flat_states[i * k : (i + 1) * k] for i in range(len(spaces))]
        return values.reshape(len(spaces), k), states

    def barycenter(
        self, members, states, centre: MetricMeasure, warm_start: bool = True
    ) -> MetricMeasure:
        """Move `centre` towards the members' barycenter, starting from the members' states
        (their plans; with warm_start, also where the next solves start).

        Returns the new centre; `states` is updated in place with the last step's."""
        for step in range(self.barycenter_iter):
            if step > 0:
                pairs = [(m, centre) for m in members]
                starts = list(states) if warm_start else None
                states[:] = self._solve(pairs, starts, True)[1]
            plans = [state.plan for state in states]
            centre = MetricMeasure(barycenter_step(members, plans, centre.p), centre.p)
        return centre


def gw_kmeans(
    spaces: Sequence[MetricMeasure],
    options: GWKMeansOptions = GWKMeansOptions(),
    gw_options: GWOptions = GWOptions(),
    device: torch.device | str | None = None,
    progress: Progress = silent,
    backend=None,
    start: GWKMeansResult | None = None,
    keep_states: bool = False,
) -> GWKMeansResult:
    """k-means of `spaces` under GW. With `start` (a fit of the same spaces with fewer
    centres, made with keep_states), its final centres are kept and only the missing ones are
    drawn by k-means++ from its distances: a path over k = 2, 3, ... then costs one seeding,
    and each larger k begins next to a settled clustering."""
    n = len(spaces)
    if n < options.k:
        raise ConfigError("k", f"needs at least k={options.k} samples, got {n}")
    if start is not None and (start.states is None or len(start.centres) >= options.k):
        raise ValueError("start must hold fewer than k centres and their states")
    if backend is None:
        backend = EngineBackend(gw_options, device, options.barycenter_iter)
    rng = np.random.default_rng(options.seed)

    def compressed_seed(index: int) -> MetricMeasure:
        # The GW barycenter of the one sample: a smooth summary of its whole cloud, of the
        # same kind as the barycenters the centres become. A bare subset of its points would
        # sit farther from every sample than any barycenter, and its cluster would empty.
        start = seed_centre(spaces[index], options.barycenter_size)
        states = backend.distances([spaces[index]], [start], True)[1][0]
        return backend.barycenter([spaces[index]], list(states), start, options.warm_start)

    # k-means++: each next seed drawn with probability proportional to D(x)^2. The seeding's
    # distances and plans are those of the first assignment (the centres have not moved
    # since), so they are kept for it rather than solved a second time.
    centres, columns, state_columns = [], [], []
    if start is not None:
        centres = list(start.centres)
        columns = list(start.distances.T)
        state_columns = [[row[c] for row in start.states] for c in range(len(centres))]

    def next_pick() -> int:
        weights = np.min(columns, axis=0).clip(min=0) ** 2 if columns else np.zeros(n)
        if weights.sum() > 0:
            return int(rng.choice(n, p=weights / weights.sum()))
        return int(rng.integers(n))

    while len(centres) < options.k:
        centres.append(compressed_seed(next_pick()))
        seed_distances, seed_states = backend.distances(spaces, centres[-1:], True)
        columns.append(seed_distances[:, 0])
        state_columns.append([row[0] for row in seed_states])
    seeded = "seeded with k-means++"
    if start is not None:
        seeded = f"seeded from k = {len(start.centres)} with k-means++"
    progress("clustering", 0.0, seeded)

    labels = np.full(n, -1)  # every sample counts as moved by the first assignment
    history = []
    iteration = 0
    converged = False
    # Each (sample, centre) pair restarts where its last solve ended (for members, the last
    # barycenter step's): the centres move little between iterations.
    states = None
    for iteration in range(1, options.max_iter + 1):
        started = time.perf_counter()
        if iteration == 1:
            distances = np.stack(columns, axis=1)
            states = [list(row) for row in zip(*state_columns, strict=True)]
        else:
            distances, states = backend.distances(
                spaces, centres, True, states if options.warm_start else None
            )
        new_labels = distances.argmin(axis=1)
        changed = int((new_labels != labels).sum())
        labels = new_labels
        history.append(
            {"iteration": iteration, "changed": changed, "seconds": time.perf_counter() - started}
        )
        converged = changed <= options.tol_moved * n
        # max_iter is a cap, not a forecast (a clean split settles in 2-5 iterations): a
        # converged run reports its stage done instead of stopping at iteration / max_iter.
        progress(
            "clustering",
            1.0 if converged else iteration / options.max_iter,
            f"iteration {iteration}: {changed} moved" + (", converged" if converged else ""),
        )
        if converged:
            break
        for c in range(options.k):
            members_index = np.flatnonzero(labels == c)
            if len(members_index) == 0:  # an emptied cluster restarts at the farthest sample
                far = int(distances.min(axis=1).argmax())
                centres[c] = compressed_seed(far)
                for row in states:
                    row[c] = None
                continue
            members = [spaces[i] for i in members_index]
            member_states = [states[i][c] for i in members_index]
            centres[c] = backend.barycenter(members, member_states, centres[c], options.warm_start)
            for i, state in zip(members_index, member_states, strict=True):
                states[i][c] = state
    if not converged:  # the centres moved after the last assignment
        distances, final_states = backend.distances(
            spaces, centres, keep_states, states if options.warm_start else None
        )
        labels = distances.argmin(axis=1)
        if keep_states:
            states = final_states
    return GWKMeansResult(
        labels,
        distances,
        centres,
        iteration,
        getattr(backend, "n_gw", 0),
        history,
        states if keep_states else None,
    )
