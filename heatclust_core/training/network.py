"""The small Inception-v3 variant of the paper: a stem, one Inception module, a dense head.

About 0.44 million trainable parameters with the default head (0.93 million with a 2 x 2
one), most of them in the head where they cost little compute, so the network trains on a
2-core CPU in minutes. Conv+BN+ReLU blocks are `nn.Sequential`, the form zennit's BatchNorm
canonizer merges. The input of `Classifier` is an image batch in [0, 1] (N, 3, 32, 32);
normalisation is its first step, so attacks and explanations work in pixel space.
"""

from __future__ import annotations

import torch
from torch import nn

from heatclust_core.config import HeadPool, TrainConfig
from heatclust_core.errors import ConfigError

# Side of the map each head pooling leaves for the dense layers.
HEAD_CELLS: dict[HeadPool, int] = {"average": 2, "max": 2, "global-max": 1}
DEFAULT_HEAD_POOL: HeadPool = TrainConfig.model_fields["head_pool"].default


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )


class InceptionA(nn.Module):
    """Inception-v3 module A: 1x1, 5x5, double-3x3 and pooled branches, concatenated."""

    def __init__(self, c_in: int, pool_features: int = 32):
        super().__init__()
        self.branch1x1 = ConvBNReLU(c_in, 64, 1)
        self.branch5x5 = nn.Sequential(ConvBNReLU(c_in, 48, 1), ConvBNReLU(48, 64, 5))
        self.branch3x3dbl = nn.Sequential(
            ConvBNReLU(c_in, 64, 1), ConvBNReLU(64, 96, 3), ConvBNReLU(96, 96, 3)
        )
        self.branch_pool = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
            ConvBNReLU(c_in, pool_features, 1),
        )
        self.out_channels = 64 + 64 + 96 + pool_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1x1, self.branch5x5, self.branch3x3dbl, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)


class SmallInception(nn.Module):
    """(N, 3, 32, 32) normalised images -> (N, n_classes) logits; the head pools the Inception
    module's 8 x 8 map to 2 x 2 (average, max) or 1 x 1 (global-max) by `head_pool`."""

    def __init__(
        self,
        n_classes: int,
        hidden: int = 640,
        dropout: float = 0.3,
        head_pool: HeadPool = DEFAULT_HEAD_POOL,
    ):
        super().__init__()
        self.stem = nn.Sequential(ConvBNReLU(3, 32, 3), ConvBNReLU(32, 64, 3, stride=2))
        self.pool = nn.MaxPool2d(2)
        self.inception = InceptionA(64)
        # Average: every run's head before global max became the default. Max keeps a small
        # trigger's response whole where averaging spreads it over a 16 x 16-pixel quadrant;
        # a 2 x 2 head still gives each quadrant its own weights, so a trigger is learnt once
        # per quadrant it was seen in. Global max gives it one set of weights wherever it sits.
        cells = HEAD_CELLS[head_pool]
        self.head_pool = (
            nn.AdaptiveAvgPool2d(cells) if head_pool == "average" else nn.AdaptiveMaxPool2d(cells)
        )
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(self.inception.out_channels * cells * cells, hidden)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer, (N, hidden): Activation Clustering's input."""
        x = self.head_pool(self.inception(self.pool(self.stem(x))))
        # The dense head runs in float32 even under autocast: a near-perfectly classified
        # sample's logits (|z| ~ 20) would keep 8 bits of mantissa in bfloat16, steps of 0.125,
        # which rounds away the small late-training gradients that fit fine features such as
        # a 3x3 trigger. The convolutions, where the time goes, keep the low precision.
        with torch.autocast(x.device.type, enabled=False):
            return self.relu(self.fc1(self.flatten(x.float())))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        with torch.autocast(features.device.type, enabled=False):
            return self.fc2(self.dropout(features))


class Classifier(nn.Module):
    """Channel normalisation followed by the network; input in [0, 1]."""

    def __init__(
        self,
        n_classes: int,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        head_pool: HeadPool = DEFAULT_HEAD_POOL,
    ):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.net = SmallInception(n_classes, head_pool=head_pool)

    @property
    def head_pool(self) -> HeadPool:
        """The head's pooling, read from the layer itself (it has no weights to say it)."""
        layer = self.net.head_pool
        if isinstance(layer, nn.AdaptiveAvgPool2d):
            return "average"
        return "global-max" if layer.output_size in (1, (1, 1)) else "max"

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        # v2.Normalize's arithmetic on buffers: saved with the weights, no host sync on CUDA.
        return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", "CUDA was requested but is not available on this machine")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ConfigError("device", f"must be auto, cpu or cuda[:N], got {requested!r}")
    return torch.device(requested)


def available_devices() -> list[str]:
    """Devices a job can be sent to: "auto", "cpu", and each CUDA device."""
    return ["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def device_description(device: torch.device | str = "auto") -> str:
    """E.g. "CUDA: NVIDIA H100 80GB HBM3" or "CPU (2 threads)"."""
    device = pick_device(device) if isinstance(device, str) else device
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def images_to_tensor(images, device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, H, W, 3) uint8 array -> (N, 3, H, W) float32 tensor in [0, 1]."""
    tensor = torch.as_tensor(images).permute(0, 3, 1, 2)
    return tensor.to(device=device, dtype=torch.float32).div_(255.0)


def batched_logits(
    model: nn.Module, images, device: torch.device | str = "cpu", batch_size: int = 512
) -> torch.Tensor:
    """(N, K) float32 logits on the CPU of (N, H, W, 3) uint8 images, in eval mode and
    batches of `batch_size`."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(images_to_tensor(images[start : start + batch_size], device))
            out.append(logits.float().cpu())
    return torch.cat(out) if out else torch.empty(0, 0)
