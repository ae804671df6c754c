"""Heatmap Clustering's GW k-means against the machine's limit: a cost model and its fraction.

  python bench/gw_flops.py --run RUN_ID [--models-dir models] [--samples N]

Runs HC's clustering (the run's DetectConfig defaults, without the MDS picture) on the
target class and records every GW solve the k-means makes: the (n, m) each pair was solved at
(padded inside its bucket), its outer iterations and its Sinkhorn kernel-vector products.
The cost model, in multiply-adds (MACs, 2 flops each), of one pair with an n-point cloud and
an m-point centre:

  per outer iteration   n^2 m + n m^2       the gradient C1 T C2 (C1 (n, n), T (n, m))
  per Sinkhorn product  n m                 K v or K^T u
  once per pair         n^2 m + n m^2       the loss of the final plan
  per k-means iteration, per sample   n^2 m + n m^2   its share of the barycenter update

plus 3 n m exponentials per outer iteration (the kernel and two log-sum-exps), counted apart.
The limit is the measured rate, in the engine's dtype, of the batched product (B, n, n) @ (B, n, m) at the
run's median sizes: what C1 T costs when nothing else does. Prints the totals, the achieved
rate (MACs over the clustering's wall time) and its fraction of that limit. Run it alone: two
torch processes on two cores thrash.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import heatclust_core.gw.kmeans as kmeans_module
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.run import build_detector
from heatclust_core.gw.engine import DEFAULT_DTYPE
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import pick_device


class SolveLog:
    """Wraps gromov_wasserstein and keeps, per call, the sizes and counts of its pairs."""

    def __init__(self, solve):
        self.solve = solve
        self.calls: list[dict[str, np.ndarray]] = []

    def __call__(self, pairs, *args, **kwargs):
        result = self.solve(pairs, *args, **kwargs)
        self.calls.append(
            {
                "sizes": np.array([(x.size, y.size) for x, y in pairs]),
                "padded": result.padded_sizes.numpy(),
                "iterations": result.iterations.numpy(),
                "matvecs": result.sinkhorn_matvecs.numpy(),
            }
        )
        return result


def solve_macs(calls: list[dict[str, np.ndarray]], padded: bool) -> dict[str, float]:
    """MACs of the recorded solves: gradient products, Sinkhorn products, final losses; and
    the exponentials. `padded`: at the sizes computed (True) or the clouds' own sizes."""
    gradient = sinkhorn = final = exps = 0.0
    for call in calls:
        sizes = call["padded" if padded else "sizes"].astype(np.float64)
        n, m = sizes[:, 0], sizes[:, 1]
        product = n * n * m + n * m * m
        gradient += float((call["iterations"] * product).sum())
        sinkhorn += float((call["matvecs"] * n * m).sum())
        final += float(product.sum())
        exps += float((3 * call["iterations"] * n * m).sum())
    return {"gradient": gradient, "sinkhorn": sinkhorn, "final": final, "exps": exps}


def batched_matmul_rate(
    b: int, n: int, m: int, device: torch.device, dtype: torch.dtype, repeats: int = 20
) -> float:
    """Measured flop/s of (b, n, n) @ (b, n, m) in `dtype`."""
    x = torch.rand(b, n, n, device=device, dtype=dtype)
    y = torch.rand(b, n, m, device=device, dtype=dtype)
    for _ in range(3):
        x @ y
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        x @ y
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2.0 * b * n * n * m * repeats / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--samples", type=int, default=0, help="first N of the class (0: all)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = pick_device(args.device)
    store = RunStore(args.models_dir)
    config = store.load_config(args.run)
    train_set = store.load_train_set(args.run)
    members = np.flatnonzero(train_set.data.labels == config.attack.target)
    if args.samples:
        members = members[: args.samples]
    detect = DetectConfig(mds_samples=0)
    detector = build_detector(detect, store.load_model(args.run, device), device, lambda *a: None)

    log = SolveLog(kmeans_module.gromov_wasserstein)
    kmeans_module.gromov_wasserstein = log
    try:
        detector.fit(train_set.data.images[members], train_set.data.labels[members])
    finally:
        kmeans_module.gromov_wasserstein = log.solve
    seconds = detector.seconds_["clustering"]
    kmeans = detector.kmeans_

    executed, useful = solve_macs(log.calls, padded=True), solve_macs(log.calls, padded=False)
    cloud_sizes = np.array([cloud.size for cloud in detector.point_clouds_])
    barycenter = float(
        kmeans.iterations
        * (cloud_sizes**2 * detect.barycenter_size + cloud_sizes * detect.barycenter_size**2).sum()
    )
    total = sum(executed[key] for key in ("gradient", "sinkhorn", "final")) + barycenter
    padded = np.concatenate([call["padded"] for call in log.calls])
    n_median, m_median = (int(v) for v in np.median(padded, axis=0))
    pairs = len(padded)
    outer = int(sum(call["iterations"].sum() for call in log.calls))
    batch = max(1, min(pairs, 2**24 // (n_median * n_median + 4 * n_median * m_median)))
    dtype = DEFAULT_DTYPE
    limit = batched_matmul_rate(batch, n_median, m_median, device, dtype)

    print(f"run {args.run}, class {config.attack.target}: {len(members)} samples on {device}")
    print(
        f"  clouds: median {int(np.median(cloud_sizes))} points (min {cloud_sizes.min()}, max "
        f"{cloud_sizes.max()}); centres {detect.barycenter_size} points; epsilon "
        f"{detect.epsilon}, gw_tol {detect.gw_tol}"
    )
    print(
        f"  solves: {pairs} pairs in {len(log.calls)} calls, {outer} outer iterations "
        f"({outer / pairs:.1f} per pair), {kmeans.iterations} k-means iterations"
    )
    print("  multiply-adds (executed, padded sizes; the clouds' own sizes in brackets):")
    for key in ("gradient", "sinkhorn", "final"):
        print(f"    {key:<12} {executed[key] / 1e9:8.2f} G  ({useful[key] / 1e9:.2f} G)")
    print(f"    {'barycenter':<12} {barycenter / 1e9:8.2f} G")
    print(f"    {'total':<12} {total / 1e9:8.2f} G; exponentials {executed['exps'] / 1e9:.2f} G")
    achieved = 2 * total / seconds
    print(f"  clustering wall time {seconds:.1f} s: {achieved / 1e9:.1f} GFLOP/s achieved")
    print(
        f"  limit: (B={batch}, {n_median}, {n_median}) @ ({n_median}, {m_median}) "
        f"{str(dtype).removeprefix('torch.')} (the engine's dtype) at "
        f"{limit / 1e9:.1f} GFLOP/s: the arithmetic alone would take {2 * total / limit:.1f} s"
    )
    print(f"  fraction of the limit: {achieved / limit:.3f}")


if __name__ == "__main__":
    main()
