"""Training-time augmentation with torchvision transforms v2, each one switchable.

Normalisation is not applied here: its statistics live in the Classifier (see training/network.py), so the
same model works on raw [0, 1] images for attacks, metrics and explanations.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms import v2

from heatclust_core.config import AugmentConfig


def build_augmentation(config: AugmentConfig, image_size: int = 32) -> v2.Compose:
    """A per-sample transform: (3, H, W) uint8 tensor -> (3, H, W) float32 in [0, 1]."""
    steps: list[torch.nn.Module] = []
    if config.random_resized_crop:
        steps.append(
            v2.RandomResizedCrop(
                image_size,
                scale=(config.crop_scale, 1.0),
                ratio=(config.crop_ratio_min, config.crop_ratio_max),
                antialias=True,
            )
        )
    if config.random_rotation:
        steps.append(v2.RandomRotation(config.rotation))
    if config.color_jitter:
        steps.append(
            v2.ColorJitter(
                brightness=config.brightness,
                contrast=config.contrast,
                saturation=config.saturation,
                hue=config.hue or None,
            )
        )
    if config.random_affine:
        translate = (config.translate, config.translate) if config.translate else None
        steps.append(
            v2.RandomAffine(
                degrees=config.affine_degrees, translate=translate, shear=config.shear or None
            )
        )
    if config.random_grayscale:
        steps.append(v2.RandomGrayscale(p=config.grayscale_p))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if config.sign_noise:
        steps.append(RandomSignNoise(config.noise_amplitude, config.noise_share))
    return v2.Compose(steps)


class RandomSignNoise(torch.nn.Module):
    """Adds +-`amplitude` (pixel scale 0..1, sign drawn per pixel and channel) to a random
    `share` of the images of a (N, 3, H, W) or (3, H, W) float batch, clamped to [0, 1].

    Unlike the transforms before it, each image is drawn on its own, not once per group: the
    noise stands in for a per-image PGD change, which a shared draw would not."""

    def __init__(self, amplitude: float, share: float) -> None:
        super().__init__()
        self.amplitude, self.share = amplitude, share

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        signs = torch.randint(0, 2, batch.shape, dtype=batch.dtype) * 2 - 1
        chosen = (torch.rand(len(batch)) < self.share).to(batch.dtype).view(-1, 1, 1, 1)
        noised = (batch + chosen * signs * self.amplitude).clamp(0, 1)
        return noised if images.dim() == 4 else noised[0]

    def extra_repr(self) -> str:
        return f"amplitude={self.amplitude}, share={self.share}"


def augment_batch(images: torch.Tensor, transform: v2.Compose, group_size: int) -> torch.Tensor:
    """Augment (N, 3, H, W) uint8 images, one random draw per group of `group_size` samples.

    v2 transforms draw one set of parameters per call; calling them per small group rather than
    per image cuts the Python overhead that dominates on CPU, while every epoch still sees fresh
    draws for every sample. group_size=1 is the classic per-sample augmentation.
    """
    return torch.cat([transform(group) for group in images.split(group_size)])


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of (N, H, W, 3) uint8 images, on the [0, 1] scale."""
    pixels = images.reshape(-1, 3).astype(np.float64) / 255.0
    std = np.maximum(pixels.std(axis=0), 1e-3)
    return tuple(float(v) for v in pixels.mean(axis=0)), tuple(float(v) for v in std)
