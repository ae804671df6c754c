"""Reading the shipped example: its manifest, its run store and its landing page's heatmaps.

Apart from the builder (build.py) because the app's first page reads these: they load no
torch, scikit-learn or zennit, so that page draws while those load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heatclust_core.explain.tiles import HeatmapTile, read_tiles
from heatclust_core.storage.atomic import read_json_object
from heatclust_core.storage.run_store import RunStore

MANIFEST_FILE = "manifest.json"
MODELS_FOLDER = "models"
MANIFEST_KEYS = ("format", "main_run", "sweeps", "built", "seconds")
FORMAT = 1
# The landing page's heatmaps of the default run's target class, computed by the build.
GALLERY_FILE = "gallery.npz"
GALLERY_PER_GROUP = 4


def example_store(example_dir: str | Path) -> RunStore:
    """The example's runs, read-only."""
    return RunStore(Path(example_dir) / MODELS_FOLDER, read_only=True)


def read_manifest(example_dir: str | Path) -> dict[str, Any] | None:
    """The example's manifest; None when there is no example there. DamagedFileError when
    the manifest cannot be read."""
    path = Path(example_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    return read_json_object(path, MANIFEST_KEYS)


def read_gallery(example_dir: str | Path) -> tuple[list[HeatmapTile], list[HeatmapTile]] | None:
    """(poisoned tiles, clean tiles) of the main run's target class; None when the example
    keeps none. DamagedFileError when the file cannot be read."""
    path = Path(example_dir) / GALLERY_FILE
    if not path.is_file():
        return None
    tiles = read_tiles(path)
    return [t for t in tiles if t.poisoned], [t for t in tiles if not t.poisoned]
