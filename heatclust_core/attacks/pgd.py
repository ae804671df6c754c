"""Projected gradient descent in the L-inf ball, used to degrade label-consistent poisons."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from heatclust_core.training.network import images_to_tensor


def pgd_linf(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    eps: float,
    steps: int,
    step_size: float,
    device: torch.device,
    batch_size: int = 256,
    targets: np.ndarray | None = None,
) -> np.ndarray:
    """Maximise the loss of `model` for `labels` within ||x' - x||_inf <= eps (pixel scale
    0..1), or, given `targets` (N,), minimise the loss for those classes instead.

    images: (N, H, W, 3) uint8. Returns uint8 images whose change per pixel is at most
    floor(eps * 255) levels, so rounding never breaks the budget.
    """
    if eps == 0 or len(images) == 0:
        return images.copy()
    model.eval()
    out = np.empty_like(images)
    for start in range(0, len(images), batch_size):
        x = images_to_tensor(images[start : start + batch_size], device)
        y = torch.as_tensor(labels[start : start + batch_size], device=device)
        direction = 1.0
        if targets is not None:
            y = torch.as_tensor(targets[start : start + batch_size], device=device)
            direction = -1.0
        x_adv = x.clone()
        for _ in range(steps):
            x_adv.requires_grad_(True)
            loss = direction * nn.functional.cross_entropy(model(x_adv), y)
            (grad,) = torch.autograd.grad(loss, x_adv)
            with torch.no_grad():
                x_adv = x_adv + step_size * grad.sign()
                x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
        out[start : start + batch_size] = (
            x_adv.detach().permute(0, 2, 3, 1).mul(255).round().cpu().numpy()
        )
    budget = int(np.floor(eps * 255 + 1e-6))
    delta = np.clip(out.astype(np.int16) - images.astype(np.int16), -budget, budget)
    return (images.astype(np.int16) + delta).astype(np.uint8)
