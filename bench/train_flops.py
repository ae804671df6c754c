"""Training against the machine's limit: flops per image, images per second, the matmul rate.

  python bench/train_flops.py [--batch 64] [--steps 20] [--precision float32|mixed]

Counts the multiply-adds of one training step of the small Inception network (forward and
backward, torch's FlopCounterMode, 2 flops per multiply-add) on a batch of 32x32 images,
times the same steps (augmentation excluded), and measures the device's float32 (or bfloat16)
matmul rate on a square product of the size the convolutions lower to. Prints flops per
image, images/s, the achieved rate and its fraction of the measured matmul rate: how far
training is from what the arithmetic alone allows. Run it alone: two torch processes on two
cores thrash.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from heatclust_core.model import Classifier, pick_device
from heatclust_core.training import autocast_dtype, autocast_to, training_memory_format


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--precision", choices=("float32", "mixed"), default="float32")
    parser.add_argument("--matmul-size", type=int, default=1024)
    args = parser.parse_args()

    device = pick_device()
    low = autocast_dtype(device, args.precision)
    memory_format = training_memory_format(device, low)
    torch.manual_seed(0)
    model = Classifier(43).to(device, memory_format=memory_format).train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(args.batch, 3, 32, 32, device=device).to(memory_format=memory_format)
    y = torch.randint(0, 43, (args.batch,), device=device)
    flops = step_flops(model, x, y)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast_to(device, low):
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / args.steps
    rate = matmul_rate(device, low or torch.float32, args.matmul_size, 10)
    images_per_s = args.batch / seconds
    achieved = flops / seconds
    print(f"device {device}, {torch.get_num_threads()} threads, precision {low or torch.float32}")
    print(f"flops per image (forward + backward): {flops / args.batch / 1e6:.1f} M")
    print(f"step of {args.batch} images: {seconds * 1e3:.1f} ms, {images_per_s:.0f} images/s")
    print(f"achieved: {achieved / 1e9:.1f} GFLOP/s")
    print(f"matmul {args.matmul_size}^2: {rate / 1e9:.1f} GFLOP/s")
    print(f"fraction of the matmul rate: {achieved / rate:.3f}")
    print(f"an epoch of 8,900 images at the matmul rate: {8900 * flops / args.batch / rate:.1f} s")


if __name__ == "__main__":
    main()
