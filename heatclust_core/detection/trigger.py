"""Trigger recovery: read the pasted patch off the flagged samples, then find it in every sample.

A detector flags the samples whose heatmaps or activations look like the poisons'; it misses
the poisons whose heatmaps hold little of the trigger (on the default run HC's 14 missed
poisons hold a median 0.24 of their relevance in the sticker, the found ones 0.68). Those
images still carry the sticker itself. Where a poison's relevance peaks, its image holds the
sticker, pixel for pixel the same in every poison: of the flagged samples' densest windows,
the one the most flagged images hold is the candidate, even where the poisons are a minority
of the flags. It is a trigger if enough flagged samples hold it and it is far more common in
the class than in the other classes (a natural patch, a flat background, is common in every
class; the sticker's poisons are all relabelled into this one), and then every sample of the
class holding it (to a per-pixel tolerance) is poisoned however its network reads it. Patches
pasted as they are (the sticker attacks, label-consistent included) are found; an additive
trigger (the reduced-amplitude attack) changes with the image under it and is not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

# A patch is the trigger when at least this many flagged samples hold it ...
MIN_HOLDERS = 5
# ... and it is at least this many times more common in the class than in the other classes.
# Natural 2 px patches (a sign's flat colours) reach 43x in some clean classes; a pasted
# sticker on 10 % of a class, 400x against 4,000 other samples (README, "The trigger search").
MIN_ENRICHMENT = 100.0
# Densest windows tried as the patch, at most (a seeded sample of the flagged samples').
MAX_CANDIDATES = 128
# The search's defaults (remediation's and the class scan's fields): the largest side tried,
# px, and the largest per-pixel difference (0..1) at which a window holds the patch.
DEFAULT_MAX_SIZE = 5
DEFAULT_TOLERANCE = 0.02
_CHUNK = 256
_HOLDER_CHUNK = 32


@dataclass(frozen=True)
class TriggerSearch:
    """patch: (s, s, 3) in [0, 1], the recovered trigger (None if none was found); size: s px;
    holders: flagged samples holding it; support: their share of the flagged samples;
    background: share of the class's other samples holding it; class_share: share of the
    whole class holding it; other_share: share of the other classes' samples holding it;
    distance: (N,) over the class, the smallest largest per-pixel difference between the patch
    and any s x s window of the image (0..1); position: (N, 2) that window's top-left (row,
    col); matched: (N,) distance <= tolerance (all False if no patch was found). Where none
    was found, the other fields are those of the size whose patch the most flagged samples held.
    """

    patch: np.ndarray | None
    size: int
    holders: int
    support: float
    background: float
    class_share: float
    other_share: float
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
    rows, cols = images.shape[1] - size + 1, images.shape[2] - size + 1
    reference = torch.from_numpy(patch.astype(np.float32)).permute(2, 0, 1)[None]
    distance, position = [], []
    for start in range(0, len(images), _CHUNK):
        batch = torch.from_numpy(images[start : start + _CHUNK]).permute(0, 3, 1, 2).float() / 255
        # The largest difference over the window, one of its s x s offsets at a time.
        worst = torch.zeros(len(batch), rows, cols)
        for dr in range(size):
            for dc in range(size):
                shifted = batch[:, :, dr : dr + rows, dc : dc + cols]
                difference = (shifted - reference[:, :, dr : dr + 1, dc : dc + 1]).abs_()
                torch.maximum(worst, difference.amax(1), out=worst)
        smallest, where = worst.flatten(1).min(dim=1)
        distance.append(smallest.numpy())
        position.append(np.stack([where.numpy() // cols, where.numpy() % cols], axis=1))
    return np.concatenate(distance), np.concatenate(position)


def _window(images: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """(M, s, s, 3) in [0, 1]: each image's s x s window at its corner."""
    return (
        np.stack(
            [images[i, r : r + size, c : c + size] for i, (r, c) in enumerate(corners)]
        ).astype(np.float32)
        / 255
    )


def _holders(images: np.ndarray, candidates: np.ndarray, tolerance: float) -> np.ndarray:
    """(C, N) bool: whether image n holds candidate c ((C, s, s, 3) in [0, 1]) in some window
    within `tolerance` per pixel. The windows within the Euclidean radius that this implies
    come from one convolution a chunk; only those are checked pixel by pixel."""
    size = candidates.shape[1]
    filters = torch.from_numpy(candidates.astype(np.float32)).permute(0, 3, 1, 2)
    radius = tolerance * tolerance * filters[0].numel() + 1e-5  # rounding of the expansion
    norms = filters.square().sum(dim=(1, 2, 3))
    held = torch.zeros(len(candidates), len(images), dtype=torch.bool)
    # Small chunks: on flat images every window is near, and the near windows' indices
    # (images x candidates x windows at most) must stay small.
    for start in range(0, len(images), _HOLDER_CHUNK):
        chunk = images[start : start + _HOLDER_CHUNK]
        batch = torch.from_numpy(chunk).permute(0, 3, 1, 2).float() / 255
        energy = torch.nn.functional.avg_pool2d(
            batch.square().sum(1, keepdim=True), size, stride=1
        ) * (size * size)
        squared = (
            energy + norms[None, :, None, None] - 2 * torch.nn.functional.conv2d(batch, filters)
        )
        image, candidate, row, col = (squared <= radius).nonzero(as_tuple=True)
        worst = torch.zeros(len(image))
        for dr in range(size):
            for dc in range(size):
                pixel = batch[image, :, row + dr, col + dc]
                worst = torch.maximum(worst, (pixel - filters[candidate, :, dr, dc]).abs().amax(1))
        exact = worst <= tolerance
        held[candidate[exact], start + image[exact]] = True
    return held.numpy()


def _most_shared_patch(
    flagged_images: np.ndarray, corners: np.ndarray, size: int, tolerance: float, rng
) -> tuple[np.ndarray, int]:
    """Of the flagged samples' densest windows, the one the most flagged images hold (each
    within `tolerance` somewhere), as the median of those images' matching windows; and how
    many hold it. The poisons whose relevance peaks on the sticker all offer the same patch, so
    it wins even where they are a minority of the flags."""
    candidates = _window(flagged_images, corners, size)
    if len(candidates) > MAX_CANDIDATES:
        # Sampled before duplicates are merged, so a patch many flagged samples offer is in.
        candidates = candidates[rng.choice(len(candidates), MAX_CANDIDATES, replace=False)]
    candidates = np.unique(candidates, axis=0)
    held = _holders(flagged_images, candidates, tolerance)
    best = int(held.sum(1).argmax())
    _, position = best_matches(flagged_images[held[best]], candidates[best])
    patch = np.median(_window(flagged_images[held[best]], position, size), axis=0)
    return patch, int(held[best].sum())


def _nothing(n_images: int, size: int = 0, holders: int = 0, support: float = 0.0) -> TriggerSearch:
    """A search that found no trigger and matched none of the class's n_images samples."""
    return TriggerSearch(
        None,
        size,
        holders,
        support,
        0.0,
        0.0,
        0.0,
        np.full(n_images, np.inf),
        np.zeros((n_images, 2), np.int64),
        np.zeros(n_images, dtype=bool),
    )


def _search_at(images, flagged, heatmaps, other_images, size, tolerance, rng) -> TriggerSearch:
    flagged_images = images[flagged]
    patch, holders = _most_shared_patch(
        flagged_images, densest_windows(heatmaps, size), size, tolerance, rng
    )
    if holders < MIN_HOLDERS:  # no trigger whatever the rest holds: spare the control's search
        return _nothing(len(images), size, holders, holders / len(flagged))
    distance, position = best_matches(images, patch)
    matched = distance <= tolerance
    rest = np.ones(len(images), dtype=bool)
    rest[flagged] = False
    other_share = 0.0
    if len(other_images):
        other_share = float((best_matches(other_images, patch)[0] <= tolerance).mean())
    return TriggerSearch(
        patch,
        size,
        holders=holders,
        support=float(matched[flagged].mean()),
        background=float(matched[rest].mean()) if rest.any() else 0.0,
        class_share=float(matched.mean()),
        other_share=other_share,
        distance=distance,
        position=position,
        matched=matched,
    )


def smoothed_share(share, count: int):
    """A share of `count` images with one more image holding the patch added: a patch absent
    from the other classes is not infinitely enriched (add-one smoothing)."""
    return (share * count + 1) / (count + 1)


def _is_trigger(search: TriggerSearch, n_others: int) -> bool:
    """Enough flagged samples hold the patch, and it is far more common in this class than in
    the others (a natural patch, such as a flat background, is common in every class)."""
    other = smoothed_share(search.other_share, n_others)
    return search.holders >= MIN_HOLDERS and search.class_share >= MIN_ENRICHMENT * other


def recover_trigger(
    images: np.ndarray,
    flagged: np.ndarray,
    heatmaps: np.ndarray,
    other_images: np.ndarray,
    max_size: int = DEFAULT_MAX_SIZE,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
) -> TriggerSearch:
    """Recover a pasted trigger from the flagged samples and find it in all of `images`.

    images: (N, H, W, 3) uint8, the class searched; flagged: (M,) indices into images of a
    detector's flags; heatmaps: (M, H, W) their LRP heatmaps; other_images: (K, H, W, 3)
    uint8 samples of the other classes (the control). Sizes from max_size down to 2 px are
    tried and the largest at which the most shared patch is a trigger (MIN_HOLDERS,
    MIN_ENRICHMENT) wins: a window larger than the sticker takes in the varying image around
    it. tolerance: largest per-pixel difference (0..1) at which a window holds the patch."""
    flagged = np.asarray(flagged, dtype=np.int64)
    if len(flagged) != len(heatmaps):
        raise ValueError(f"{len(flagged)} flagged samples but {len(heatmaps)} heatmaps")
    rng = np.random.default_rng(seed)
    closest = None  # the size whose patch the most flagged samples hold, if none is a trigger
    if len(flagged):
        for size in range(min(max_size, *images.shape[1:3]), 1, -1):
            search = _search_at(images, flagged, heatmaps, other_images, size, tolerance, rng)
            if _is_trigger(search, len(other_images)):
                return search
            if closest is None or search.holders > closest.holders:
                closest = search
    if closest is None:
        return _nothing(len(images))
    return replace(closest, patch=None, matched=np.zeros(len(images), dtype=bool))


@dataclass(frozen=True)
class PatchCandidate:
    """A patch a sample of one class shares: patch (s, s, 3) in [0, 1]; holders: sampled images
    holding it, at positions (holders, 2) (top-left row, col); class_share: their share of the
    sample; other_share: share of the other classes' images holding it; enrichment: class_share
    over other_share add-one smoothed."""

    patch: np.ndarray
    holders: int
    class_share: float
    other_share: float
    enrichment: float
    positions: np.ndarray

    @property
    def size(self) -> int:
        return self.patch.shape[0]


def enriched_patches(
    images: np.ndarray,
    heatmaps: np.ndarray,
    other_images: np.ndarray,
    max_size: int = DEFAULT_MAX_SIZE,
    tolerance: float = DEFAULT_TOLERANCE,
    min_holders: int = 2,
    min_enrichment: float = 0.0,
    keep: int = 3,
) -> list[PatchCandidate]:
    """The `keep` patches where a class sample's heatmaps peak that the sample holds most often
    compared with the other classes, most enriched first: the class scan's trigger candidates,
    with no detector's flags to start from.

    images: (M, H, W, 3) uint8, a sample of the class; heatmaps: (M, H, W) their LRP heatmaps;
    other_images: (K, H, W, 3) uint8 of the other classes. Each sampled image's densest window
    (sides max_size..2) is a candidate; those at least `min_holders` sampled images hold are
    looked for in the other classes; those at least `min_enrichment` times as common in the
    sample are kept. A flat colour is held as often elsewhere; a pasted sticker
    only in the class its poisons were relabelled into (and so, less often, is a detail of the
    class's own sign: the scan tells them apart by pasting them, see scan.py)."""
    found: list[PatchCandidate] = []
    for size in range(min(max_size, *images.shape[1:3]), 1, -1):
        candidates = np.unique(_window(images, densest_windows(heatmaps, size), size), axis=0)
        held = _holders(images, candidates, tolerance)
        shared = np.flatnonzero(held.sum(1) >= min_holders)
        if not len(shared):
            continue
        other = np.zeros(len(shared))
        if len(other_images):
            other = _holders(other_images, candidates[shared], tolerance).mean(1)
        smoothed = smoothed_share(other, len(other_images))
        for index, other_share, other_smoothed in zip(shared, other, smoothed, strict=True):
            holding = np.flatnonzero(held[index])
            share = len(holding) / len(images)
            enrichment = share / other_smoothed
            if enrichment < min_enrichment:
                continue  # before the positions: most candidates stop here
            _, positions = best_matches(images[holding], candidates[index])
            found.append(
                PatchCandidate(
                    candidates[index],
                    len(holding),
                    share,
                    float(other_share),
                    float(enrichment),
                    positions,
                )
            )
    return sorted(found, key=lambda c: c.enrichment, reverse=True)[:keep]


def paste_patch(
    images: np.ndarray, patch: np.ndarray, positions: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Copies of (N, H, W, 3) uint8 images with the (s, s, 3) patch in [0, 1] pasted at a
    position drawn for each from `positions` (P, 2), where the class's images hold it."""
    size = patch.shape[0]
    stamped = images.copy()
    pixels = np.round(patch * 255).astype(np.uint8)
    for image, (r, c) in zip(
        stamped, positions[rng.integers(0, len(positions), len(images))], strict=True
    ):
        image[r : r + size, c : c + size] = pixels
    return stamped


def trigger_summary(trigger: dict) -> str:
    """One line on a remediation's trigger search."""
    held = (
        f"held by {trigger['holders']} flagged samples ({trigger['support']:.0%}), "
        f"{trigger['background']:.0%} of the class's other samples and "
        f"{trigger['other_share']:.1%} of the other classes'"
    )
    if not trigger["found"]:
        return (
            f"trigger search: no patch of the flagged samples is a trigger (the most shared, "
            f"{trigger['size']} px, is {held}); nothing added"
        )
    return (
        f"trigger search: a {trigger['size']} x {trigger['size']} px patch {held}; "
        f"{trigger['added']} more samples removed ({trigger['added_poisoned']} poisoned)"
    )


def trigger_patch_image(trigger: dict) -> np.ndarray | None:
    """(s, s, 3) uint8 image of a remediation's recovered patch; None if none was found."""
    if not trigger or trigger.get("patch") is None:
        return None
    return np.clip(np.asarray(trigger["patch"], dtype=float) * 255, 0, 255).astype(np.uint8)
