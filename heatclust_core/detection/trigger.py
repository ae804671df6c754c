"""Trigger recovery: read the pasted patch off the flagged samples, then find it in every sample.

A detector flags the samples whose heatmaps or activations look like the poisons'; it misses
the poisons whose heatmaps hold little of the trigger (on the default run HC's 14 missed
poisons hold a median 0.24 of their relevance in the sticker, the found ones 0.68). Those
images still carry the sticker itself. Where the flagged samples' relevance peaks, their
images share one patch: its pixelwise median over the flagged samples is the trigger, and any
sample of the class holding that patch (to a per-pixel tolerance) is poisoned however its
network reads it. A patch found in most flagged samples and in far fewer of the rest is a
trigger; a false alarm's peaks (sign content, background) give no such patch, and nothing is
added. Patches pasted as they are (the sticker attacks, label-consistent included) are found;
an additive trigger (the reduced-amplitude attack) changes with the image under it and is not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

# A patch is the trigger when at least this share of the flagged samples holds it ...
MIN_SUPPORT = 0.5
# ... and it is at least this many times more common among them than among the rest.
MIN_SPECIFICITY = 2.0
# Rounds of re-aligning each flagged sample's window (by a pixel) to the current median patch.
ALIGN_ROUNDS = 3
_CHUNK = 256


@dataclass(frozen=True)
class TriggerSearch:
    """patch: (s, s, 3) in [0, 1], the recovered trigger (None if none was found); size: s px;
    support: share of the flagged samples holding it; background: share of the others holding
    it; distance: (N,) over the searched samples, the smallest largest per-pixel difference
    between the patch and any s x s window of the image (0..1); position: (N, 2) that window's
    top-left (row, col); matched: (N,) distance <= tolerance (all False if no patch was found).
    Where none was found, size, support, background and distance are those of the size whose
    patch the most flagged samples held.
    """

    patch: np.ndarray | None
    size: int
    support: float
    background: float
    distance: np.ndarray
    position: np.ndarray
    matched: np.ndarray

    @property
    def found(self) -> bool:
        return self.patch is not None


def densest_windows(heatmaps: np.ndarray, size: int) -> np.ndarray:
    """(M, H, W) heatmaps -> (M, 2) top-left (row, col) of each one's size x size window
    holding the most positive relevance."""
    positive = torch.from_numpy(np.clip(heatmaps, 0, None).astype(np.float32))[:, None]
    sums = torch.nn.functional.avg_pool2d(positive, size, stride=1)[:, 0]
    width = sums.shape[2]
    best = sums.flatten(1).argmax(1).numpy()
    return np.stack([best // width, best % width], axis=1)


def best_matches(images: np.ndarray, patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W, 3) uint8 images, (s, s, 3) patch in [0, 1] -> (N,) the smallest over the
    images' s x s windows of the largest per-pixel difference, and (N, 2) that window's
    top-left (row, col)."""
    size = patch.shape[0]
    width = images.shape[2] - size + 1
    reference = torch.from_numpy(patch.astype(np.float32)).permute(2, 0, 1).reshape(-1, 1)
    distance, position = [], []
    for start in range(0, len(images), _CHUNK):
        batch = torch.from_numpy(images[start : start + _CHUNK]).permute(0, 3, 1, 2).float() / 255
        windows = torch.nn.functional.unfold(batch, size)  # (B, 3 s s, windows)
        differences = (windows - reference).abs().amax(dim=1)
        smallest, where = differences.min(dim=1)
        distance.append(smallest.numpy())
        position.append(np.stack([where.numpy() // width, where.numpy() % width], axis=1))
    return np.concatenate(distance), np.concatenate(position)


def _median_patch(images: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    windows = [images[i, r : r + size, c : c + size] for i, (r, c) in enumerate(corners)]
    return np.median(np.stack(windows).astype(np.float32) / 255, axis=0)


def _align(images: np.ndarray, corners: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """Each image's window within a pixel of its corner that is closest to `patch`."""
    size = patch.shape[0]
    limit = np.array(images.shape[1:3]) - size
    best_corners = corners.copy()
    best = np.full(len(images), np.inf)
    for shift in [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]:
        moved = np.clip(corners + shift, 0, limit)
        windows = np.stack(
            [images[i, r : r + size, c : c + size] for i, (r, c) in enumerate(moved)]
        ).astype(np.float32)
        difference = np.abs(windows / 255 - patch).reshape(len(images), -1).max(axis=1)
        closer = difference < best
        best[closer], best_corners[closer] = difference[closer], moved[closer]
    return best_corners


def _search_at(images, flagged, heatmaps, size, tolerance) -> TriggerSearch:
    corners = densest_windows(heatmaps, size)
    flagged_images = images[flagged]
    patch = _median_patch(flagged_images, corners, size)
    for _ in range(ALIGN_ROUNDS):
        aligned = _align(flagged_images, corners, patch)
        if np.array_equal(aligned, corners):
            break
        corners = aligned
        patch = _median_patch(flagged_images, corners, size)
    distance, position = best_matches(images, patch)
    matched = distance <= tolerance
    others = np.ones(len(images), dtype=bool)
    others[flagged] = False
    support = float(matched[flagged].mean())
    background = float(matched[others].mean()) if others.any() else 0.0
    return TriggerSearch(patch, size, support, background, distance, position, matched)


def recover_trigger(
    images: np.ndarray,
    flagged: np.ndarray,
    heatmaps: np.ndarray,
    max_size: int = 5,
    tolerance: float = 0.02,
) -> TriggerSearch:
    """Recover a pasted trigger from the flagged samples and find it in all of `images`.

    images: (N, H, W, 3) uint8, the class searched; flagged: (M,) indices into images of a
    detector's flags; heatmaps: (M, H, W) their LRP heatmaps. Sizes from max_size down to 2 px
    are tried and the largest at which one patch is a trigger (MIN_SUPPORT, MIN_SPECIFICITY)
    wins: a window larger than the sticker takes in the varying image around it.
    tolerance: largest per-pixel difference (0..1) at which a window holds the patch."""
    flagged = np.asarray(flagged, dtype=np.int64)
    if len(flagged) != len(heatmaps):
        raise ValueError(f"{len(flagged)} flagged samples but {len(heatmaps)} heatmaps")
    closest = None  # the size whose patch the most flagged samples hold, if none is a trigger
    if len(flagged):
        for size in range(min(max_size, *images.shape[1:3]), 1, -1):
            search = _search_at(images, flagged, heatmaps, size, tolerance)
            if search.support >= MIN_SUPPORT and search.support >= MIN_SPECIFICITY * (
                search.background
            ):
                return search
            if closest is None or search.support > closest.support:
                closest = search
    if closest is None:
        n = len(images)
        return TriggerSearch(
            None, 0, 0.0, 0.0, np.full(n, np.inf), np.zeros((n, 2), np.int64), np.zeros(n, bool)
        )
    return replace(closest, patch=None, matched=np.zeros(len(images), dtype=bool))


def trigger_summary(trigger: dict) -> str:
    """One line on a remediation's trigger search."""
    if not trigger["found"]:
        return (
            f"trigger search: no patch shared by the flagged samples (best {trigger['size']} px: "
            f"{trigger['support']:.0%} of them, {trigger['background']:.0%} of the rest); "
            "nothing added"
        )
    return (
        f"trigger search: a {trigger['size']} x {trigger['size']} px patch in "
        f"{trigger['support']:.0%} of the flagged samples and {trigger['background']:.0%} of "
        f"the rest; {trigger['added']} more samples removed ({trigger['added_poisoned']} "
        "poisoned)"
    )
