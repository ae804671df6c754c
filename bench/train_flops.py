"""Training against the machine's limit: flops per image, images per second, the matmul rate.

  python bench/train_flops.py [--batch 64] [--steps 20] [--precision float32|mixed] [--compile]

Counts the multiply-adds of one training step of the small Inception network (forward and
backward, torch's FlopCounterMode, 2 flops per multiply-add) on a batch of 32x32 images,
times the same steps (augmentation excluded), and measures the device's float32 (or bfloat16)
matmul rate on a square product of the size the convolutions lower to. Prints flops per
image, images/s, the achieved rate and its fraction of the measured matmul rate: how far
training is from what the arithmetic alone allows. The step is timed in both memory formats
(and compiled with torch.compile with `--compile`), in alternating rounds of one process so
that a noisy neighbour slows all alike; the median round counts. Run it alone: two torch
processes on two cores thrash.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from heatclust_core.training.loop import TRAINING_MEMORY_FORMAT, autocast_dtype, autocast_to
from heatclust_core.training.network import Classifier, pick_device


def step_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Flops of one forward + backward pass on the batch (x, y)."""
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def matmul_rate(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """Measured flop/s of a (size x size) @ (size x size) product."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - started)


def timed_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, low: torch.dtype | None):
    """A closure running one Adam training step of `model` on (x, y)."""
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast_to(x.device, low):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=15, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--precision", choices=("float32", "mixed"), default="float32")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--matmul-size", type=int, default=1024)
    args = parser.parse_args()

    device = pick_device()
    low = autocast_dtype(device, args.precision)
    formats = {"contiguous": torch.contiguous_format, "channels-last": torch.channels_last}
    variants = {}
    for name, memory_format in formats.items():
        torch.manual_seed(0)
        model = Classifier(43).to(device, memory_format=memory_format).train()
        x = torch.rand(args.batch, 3, 32, 32, device=device).to(memory_format=memory_format)
        y = torch.randint(0, 43, (args.batch,), device=device)
        variants[name] = timed_step(model, x, y, low)
        if args.compile and memory_format == TRAINING_MEMORY_FORMAT:
            started = time.perf_counter()
            compiled = timed_step(torch.compile(model), x, y, low)
            compiled()
            print(f"torch.compile: first step {time.perf_counter() - started:.1f} s")
            variants[f"{name}, compiled"] = compiled
    flops = step_flops(Classifier(43).to(device).train(), x, y)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for step in variants.values():
        for _ in range(3):
            step()
    rounds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, step in variants.items():
            sync()
            started = time.perf_counter()
            for _ in range(args.steps):
                step()
            sync()
            rounds[name].append((time.perf_counter() - started) / args.steps)
    rate = matmul_rate(device, low or torch.float32, args.matmul_size, 10)
    print(f"device {device}, {torch.get_num_threads()} threads, precision {low or torch.float32}")
    print(f"flops per image (forward + backward): {flops / args.batch / 1e6:.1f} M")
    print(f"matmul {args.matmul_size}^2: {rate / 1e9:.1f} GFLOP/s")
    baseline = None
    for name, seconds_per_round in rounds.items():
        seconds = float(np.median(seconds_per_round))
        baseline = baseline or seconds
        achieved = flops / seconds
        print(
            f"{name}: step of {args.batch} images {seconds * 1e3:.1f} ms "
            f"({args.batch / seconds:.0f} images/s, x{baseline / seconds:.2f}), "
            f"{achieved / 1e9:.1f} GFLOP/s = {achieved / rate:.3f} of the matmul rate"
        )
    print(f"an epoch of 8,900 images at the matmul rate: {8900 * flops / args.batch / rate:.1f} s")


if __name__ == "__main__":
    main()
