"""GW distances per second: POT's loop against the batched engine, on the same real pairs.

The pairs are what Heatmap Clustering computes: a sample's relevance point cloud against a
barycenter-sized centre seeded from another sample, both from a trained run's suspicious class.

  python bench/gw.py --run RUN_ID [--pairs 64] [--eps 0.1 0.01]

For each epsilon it reports (a) POT's entropic_gromov_wasserstein2 in a loop with its default
tolerances, (b) the same loop with tolerances loosened until its error against a strict
reference matches the engine's (the like-for-like comparison) and (c) the engine, each with
its pairs per second and its max relative difference from the strict reference (POT, float64,
tol = stopThr = 1e-11).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import ot
import torch

from heatclust_core.explain.lrp import LRPOptions, explain
from heatclust_core.explain.point_cloud import point_cloud
from heatclust_core.gw.engine import GWOptions, gromov_wasserstein
from heatclust_core.gw.kmeans import seed_centre
from heatclust_core.storage.run_store import RunStore


def real_pairs(
    store: RunStore, run_id: str, n_pairs: int, share: float, centre_size: int, seed: int
):
    config = store.load_config(run_id)
    model = store.load_model(run_id)
    train = store.load_train_set(run_id)
    members = np.flatnonzero(train.data.labels == config.attack.target)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(members, size=2 * n_pairs, replace=False)
    heatmaps = explain(
        model,
        train.data.images[chosen],
        train.data.labels[chosen],
        torch.device("cpu"),
        LRPOptions(),
    ).heatmaps()
    spaces = [point_cloud(h, share).metric_measure() for h in heatmaps]
    return [(spaces[i], seed_centre(spaces[n_pairs + i], centre_size)) for i in range(n_pairs)]


def pot_loop(pairs, eps: float, **tolerances) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    values = [
        ot.gromov.entropic_gromov_wasserstein2(
            a.C.numpy(),
            b.C.numpy(),
            a.p.numpy(),
            b.p.numpy(),
            "square_loss",
            epsilon=eps,
            **tolerances,
        )
        for a, b in pairs
    ]
    return np.array(values), time.perf_counter() - started


def max_rel(values: np.ndarray, reference: np.ndarray) -> float:
    return float(np.max(np.abs(values - reference) / np.abs(reference)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True)
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1, 0.01])
    parser.add_argument("--share", type=float, default=0.99)
    parser.add_argument("--centre-size", type=int, default=32)
    args = parser.parse_args()

    pairs = real_pairs(
        RunStore(args.models_dir), args.run, args.pairs, args.share, args.centre_size, 0
    )
    sizes = [a.size for a, _ in pairs]
    print(
        f"{len(pairs)} pairs, cloud sizes {min(sizes)}..{max(sizes)} (median {int(np.median(sizes))}) "
        f"against {args.centre_size}-point centres; torch threads {torch.get_num_threads()}"
    )
    lines = []
    for eps in args.eps:
        strict = dict(max_iter=10000, tol=1e-11, stopThr=1e-11, numItermax=100000)
        reference, t_ref = pot_loop(pairs, eps, **strict)
        print(f"eps {eps}: strict reference {t_ref:.1f}s")
        gromov_wasserstein(pairs[:2], GWOptions(epsilon=eps))  # warm-up
        started = time.perf_counter()
        ours = gromov_wasserstein(pairs, GWOptions(epsilon=eps)).values.numpy()
        t_ours = time.perf_counter() - started
        err_ours = max_rel(ours, reference)
        default_values, t_default = pot_loop(pairs, eps)
        err_default = max_rel(default_values, reference)
        equal = None
        for tol in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9):
            values, seconds = pot_loop(pairs, eps, tol=tol, stopThr=tol)
            if max_rel(values, reference) <= err_ours:
                equal = (tol, seconds, max_rel(values, reference))
                break
        rate = len(pairs) / t_ours
        print(
            f"  (a) POT defaults      {len(pairs) / t_default:8.2f} pairs/s  max rel diff {100 * err_default:.4f}%"
        )
        if equal:
            print(
                f"  (b) POT tol={equal[0]:g}    {len(pairs) / equal[1]:8.2f} pairs/s  max rel diff {100 * equal[2]:.4f}%"
            )
        print(
            f"  (c) batched engine    {rate:8.2f} pairs/s  max rel diff {100 * err_ours:.4f}%  (float32, tol 1e-4, inner_tol 1e-5)"
        )
        b = f"{equal[1] / t_ours:.1f}" if equal else "n/a"
        lines.append(
            f"eps {eps}: speedup {t_default / t_ours:.1f}x vs POT defaults, {b}x at equal accuracy, "
            f"max relative difference {100 * err_ours:.3f}%"
        )
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
