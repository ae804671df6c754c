"""Training with Adam and cross-entropy, early stopping on validation loss."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from heatclust_core.config import TrainConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.progress import Progress, silent
from heatclust_core.training.augment import augment_batch, build_augmentation, channel_stats
from heatclust_core.training.network import Classifier, images_to_tensor


@dataclass
class TrainResult:
    model: Classifier
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    precision: str = "float32"  # what the forward and backward passes ran in


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The lower precision `precision="mixed"` trains in on `device`, or None for float32.

    On CPU only where oneDNN has native bfloat16 (AVX512-BF16 or AMX): with AMX a training step
    is ~1.9x faster, with AVX512-BF16 alone slower (`bench/train_flops.py --precision mixed`);
    emulated bfloat16 would be slower still."""
    if precision != "mixed":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return None


def autocast_to(device: torch.device, low_precision: torch.dtype | None) -> torch.autocast:
    """Autocast to `low_precision` on `device`; a no-op context for None (float32)."""
    return torch.autocast(
        device.type, dtype=low_precision or torch.float32, enabled=low_precision is not None
    )


# channels-last: oneDNN's convolutions take NHWC without reordering. A float32 training step
# of 64 images ran 54.7 against 69.6 ms contiguous, the default train 376 against 444 s
# (2-core Xeon with AVX512-BF16, no AMX, `bench/train_flops.py`); bfloat16 with AMX gains
# ~20 % too, and GPUs' tensor cores want it.
TRAINING_MEMORY_FORMAT = torch.channels_last


def fgsm_examples(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    device: torch.device,
    low_precision: torch.dtype | None,
) -> torch.Tensor:
    """Inputs of fast adversarial training (Wong, Rice and Kolter 2020): one signed-gradient
    step of 1.25 eps from a uniform start in the L-inf ball of radius eps, projected back to
    it and to [0, 1]. x: (N, 3, H, W) in [0, 1]."""
    delta = torch.empty_like(x).uniform_(-eps, eps).requires_grad_(True)
    with autocast_to(device, low_precision):
        loss = nn.functional.cross_entropy(model((x + delta).clamp(0.0, 1.0)), y)
    (grad,) = torch.autograd.grad(loss, delta)
    delta = (delta.detach() + 1.25 * eps * grad.sign()).clamp(-eps, eps)
    return (x + delta).clamp(0.0, 1.0)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def evaluate_loss(
    model: nn.Module,
    data: ImageSet,
    device: torch.device,
    batch_size: int = 512,
    low_precision: torch.dtype | None = None,
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on `data`, no augmentation; under autocast to
    `low_precision` when given, as in training."""
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad(), autocast_to(device, low_precision):
        for start in range(0, len(data), batch_size):
            x = images_to_tensor(data.images[start : start + batch_size], device)
            y = torch.as_tensor(data.labels[start : start + batch_size], device=device)
            logits = model(x)
            total_loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    return total_loss / len(data), correct / len(data)


def train_classifier(
    train: ImageSet,
    val: ImageSet,
    n_classes: int,
    config: TrainConfig,
    device: torch.device,
    progress: Progress = silent,
    stage: str = "train",
    initial_model: Classifier | None = None,
) -> TrainResult:
    """Train a fresh Classifier, or a copy of `initial_model` (fine-tuning, its normalisation
    kept); returns the weights of the epoch with the lowest val loss."""
    seed_everything(config.seed)
    started = time.perf_counter()
    if initial_model is not None:
        model = copy.deepcopy(initial_model)
    elif config.augment.normalize:
        mean, std = channel_stats(train.images)
        model = Classifier(n_classes, mean, std, head_pool=config.head_pool)
    else:
        model = Classifier(n_classes, head_pool=config.head_pool)
    low_precision = autocast_dtype(device, config.precision)
    memory_format = TRAINING_MEMORY_FORMAT
    model.to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # Cosine decay over the epoch budget: the late, small steps are what fit fine features
    # such as a 3x3 trigger; early stopping still picks the best epoch.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    augment = build_augmentation(config.augment, train.images.shape[1])
    images = torch.as_tensor(train.images).permute(0, 3, 1, 2).contiguous()  # uint8 NCHW
    labels = torch.as_tensor(train.labels)
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    # float16 needs loss scaling against underflowing gradients; bfloat16 has float32's range.
    scaler = torch.amp.GradScaler(device.type, enabled=low_precision == torch.float16)

    result = TrainResult(
        model=model, precision=str(low_precision or torch.float32).removeprefix("torch.")
    )
    best_loss, best_state, since_best = math.inf, None, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        running = 0.0
        for step, start in enumerate(range(0, len(train), config.batch_size)):
            batch = order[start : start + config.batch_size]
            if len(batch) < 2:  # BatchNorm needs two samples
                continue
            x = augment_batch(images[batch], augment, config.augment.group_size).to(
                device, memory_format=memory_format
            )
            y = labels[batch].to(device)
            if config.adversarial_eps > 0:
                x = fgsm_examples(model, x, y, config.adversarial_eps, device, low_precision)
            optimizer.zero_grad(set_to_none=True)
            with autocast_to(device, low_precision):
                loss = nn.functional.cross_entropy(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            running += loss.item() * len(batch)
            done = (epoch - 1 + (step + 1) / steps_per_epoch) / config.epochs
            progress(stage, done, f"epoch {epoch}/{config.epochs}")
        schedule.step()
        val_loss, val_acc = evaluate_loss(model, val, device, low_precision=low_precision)
        result.history.append(
            {
                "epoch": epoch,
                "train_loss": running / len(train),
                "val_loss": val_loss,
                "val_acc": val_acc,
            }
        )
        progress(
            stage,
            epoch / config.epochs,
            f"epoch {epoch}/{config.epochs} val_loss {val_loss:.3f} val_acc {val_acc:.3f}",
        )
        if val_loss < best_loss:
            best_loss, since_best, result.best_epoch = val_loss, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
            if since_best >= config.patience:
                result.stopped_early = True
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to(memory_format=torch.contiguous_format).eval()
    result.seconds = time.perf_counter() - started
    progress(stage, 1.0, f"done, best epoch {result.best_epoch}")
    return result
