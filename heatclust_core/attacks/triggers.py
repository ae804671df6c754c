"""Backdoor triggers: the sticker and the reduced-amplitude checkerboard.

Images are (N, H, W, 3) uint8 arrays; stamping returns a new array and never changes its input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heatclust_core.config import (
    TRIGGER_WINDOW,
    AmplitudePattern,
    StickerColor,
    StickerPlacement,
)

YELLOW_GREEN = np.array([154, 205, 50], dtype=np.uint8)
# The paper's code stamped (245, 255, 0); its text calls the sticker yellow-green.
PAPER_CODE_YELLOW = np.array([245, 255, 0], dtype=np.uint8)
STICKER_COLORS: dict[str, np.ndarray] = {"yellow-green": YELLOW_GREEN, "yellow": PAPER_CODE_YELLOW}
# The amplitude trigger's lower-right pixel sits this many pixels from the right/bottom edges.
AMPLITUDE_MARGIN = 10


def window_origin(image_size: int) -> tuple[int, int]:
    """Top-left (row, col) of the central TRIGGER_WINDOW."""
    rows, cols = TRIGGER_WINDOW
    return (image_size - rows) // 2, (image_size - cols) // 2


def sticker_positions(
    n: int,
    size: int,
    image_size: int,
    rng: np.random.Generator,
    placement: StickerPlacement,
) -> np.ndarray:
    """(n, 2) random top-left corners of `size`-px stickers lying inside the central window:
    anywhere in it ("window"), or in one of its four corners ("corners")."""
    rows, cols = TRIGGER_WINDOW
    if size > min(rows, cols):
        raise ValueError(f"sticker size {size} does not fit the {rows}x{cols} window")
    row0, col0 = window_origin(image_size)
    row_last, col_last = row0 + rows - size, col0 + cols - size
    if placement == "corners":
        # The paper's code called numpy.random.choice((first, last), n) per coordinate, which
        # draws from those two values, not the range between them.
        r = np.where(rng.integers(0, 2, size=n) == 0, row0, row_last)
        c = np.where(rng.integers(0, 2, size=n) == 0, col0, col_last)
    else:
        r = rng.integers(row0, row_last + 1, size=n)
        c = rng.integers(col0, col_last + 1, size=n)
    return np.stack([r, c], axis=1)


def amplitude_position(size: int, image_size: int) -> tuple[int, int]:
    """Fixed top-left corner of the amplitude trigger (lower-right pixel 10 px from the edges)."""
    corner = image_size - 1 - AMPLITUDE_MARGIN
    return corner - size + 1, corner - size + 1


def checkerboard(size: int) -> np.ndarray:
    """(size, size) of +1/-1, +1 at the corners: the sign of each pixel's amplitude."""
    rows, cols = np.indices((size, size))
    return np.where((rows + cols) % 2 == 0, 1, -1).astype(np.int16)


def amplitude_signs(size: int, pattern: AmplitudePattern) -> np.ndarray:
    """(size, size) of +1/-1: the sign of the amplitude added at each pixel of the trigger.

    "paper" is the pattern the paper's code stamped (`insert_amplitude_backdoor`): for s = 3
    [[-1, -1, +1], [-1, +1, -1], [+1, -1, +1]], the checkerboard with its top-left pixel lowered
    too. Its top-left 2 x 2 pixels sum to -2 amp where a strict checkerboard's sum to 0, so more
    of it survives the bilinear resampling of the crop augmentation.
    """
    signs = checkerboard(size)
    if pattern == "paper" and size > 1:
        signs[0, 0] = -1
    return signs


@dataclass(frozen=True)
class StickerTrigger:
    """A `size` x `size` block of one colour at a random position in the central window (the
    defaults live in AttackConfig)."""

    size: int
    placement: StickerPlacement
    color: StickerColor

    def apply(self, images: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(stamped copy, (N, 2) top-left positions)."""
        out = images.copy()
        positions = sticker_positions(len(images), self.size, images.shape[1], rng, self.placement)
        rgb = STICKER_COLORS[self.color]
        for i, (r, c) in enumerate(positions):
            out[i, r : r + self.size, c : c + self.size] = rgb
        return out, positions


@dataclass(frozen=True)
class AmplitudeTrigger:
    """Adds +/-amp (signs from `amplitude_signs`) to all channels of a fixed `size` x `size`
    block."""

    size: int
    amp: int
    pattern: AmplitudePattern

    def apply(self, images: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        out = images.astype(np.int16)
        r, c = amplitude_position(self.size, images.shape[1])
        delta = (amplitude_signs(self.size, self.pattern) * self.amp)[:, :, None]
        out[:, r : r + self.size, c : c + self.size] += delta
        positions = np.tile(np.array([[r, c]]), (len(images), 1))
        return np.clip(out, 0, 255).astype(np.uint8), positions


Trigger = StickerTrigger | AmplitudeTrigger
