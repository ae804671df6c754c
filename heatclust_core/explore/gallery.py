"""Gallery tiles of selected samples: the input, its LRP heatmap in a colour map, or the
heatmap laid over the input."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from plotly.colors import get_colorscale, sample_colorscale

from heatclust_core.explore.view import COLOUR_MAPS

# The picture is small; each pixel becomes a SCALE x SCALE block so a tile is legible.
SCALE = 3


def colour_table(cmap: str, steps: int = 256) -> np.ndarray:
    """(steps, 3) uint8 RGB of a COLOUR_MAPS entry, sampled from plotly's colour scale."""
    colours = sample_colorscale(
        get_colorscale(COLOUR_MAPS[cmap]), np.linspace(0, 1, steps), colortype="tuple"
    )
    return np.clip(np.round(np.asarray(colours) * 255), 0, 255).astype(np.uint8)


def colourise(heatmap: np.ndarray, cmap: str) -> np.ndarray:
    """(H, W) relevance -> (H, W, 3) uint8. bwr is diverging around zero (red for the label,
    blue against, scaled by the largest magnitude); the others show positive relevance."""
    table = colour_table(cmap)
    if cmap == "bwr":
        limit = float(np.abs(heatmap).max()) or 1.0
        unit = 0.5 + 0.5 * heatmap / limit
    else:
        positive = np.clip(heatmap, 0, None)
        unit = positive / (float(positive.max()) or 1.0)
    return table[np.clip(np.round(unit * (len(table) - 1)), 0, len(table) - 1).astype(int)]


def gallery_tile(image: np.ndarray, heatmap: np.ndarray, mode: str, cmap: str) -> np.ndarray:
    """(H*SCALE, W*SCALE, 3) uint8 tile of one sample in `mode` (GALLERY_MODES)."""
    if mode == "input":
        tile = image
    elif mode == "heatmap":
        tile = colourise(heatmap, cmap)
    else:
        # The input in grey, coloured where relevance is large (weight = |R| / max |R|).
        grey = image.mean(axis=2, keepdims=True).repeat(3, axis=2)
        weight = np.abs(heatmap) / (float(np.abs(heatmap).max()) or 1.0)
        weight = np.sqrt(weight)[..., None]
        tile = (1 - weight) * grey + weight * colourise(heatmap, cmap)
    tile = np.asarray(tile, dtype=np.float64)
    return np.kron(tile, np.ones((SCALE, SCALE, 1))).round().astype(np.uint8)


def thumbnail_uri(image: np.ndarray, quality: int = 90) -> str:
    """A (H, W, 3) uint8 image as a JPEG data URI (a 32 x 32 sign: about 1 kB), for the hover
    preview; the browser enlarges it."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
