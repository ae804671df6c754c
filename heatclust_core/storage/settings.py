"""Where HeatClust keeps its files, overridable by environment variables.

HEATCLUST_DATA_DIR (default data/), HEATCLUST_MODELS_DIR (default models/),
HEATCLUST_STATE_DIR (default state/: the job registry and job logs) and HEATCLUST_EXAMPLE_DIR
(default example/: the shipped example, read-only; HEATCLUST_SHOW_EXAMPLE=0 hides it). Paths
are relative to the working directory, which is the repository root for `streamlit run app.py`.

The web app reads data only from HEATCLUST_DATA_DIR and the folders listed in
HEATCLUST_DATA_ROOTS (separated by the OS path separator, ":" on Linux): a page offers these as
a choice and never takes a typed path, so a browser cannot make the server read or write
elsewhere. The command line takes any --data-dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    models_dir: Path
    state_dir: Path
    data_roots: tuple[Path, ...]
    example_dir: Path
    show_example: bool


def current() -> Settings:
    return Settings(
        data_dir=Path(os.environ.get("HEATCLUST_DATA_DIR", "data")),
        models_dir=Path(os.environ.get("HEATCLUST_MODELS_DIR", "models")),
        state_dir=Path(os.environ.get("HEATCLUST_STATE_DIR", "state")),
        data_roots=_data_roots(),
        example_dir=Path(os.environ.get("HEATCLUST_EXAMPLE_DIR", "example")),
        show_example=os.environ.get("HEATCLUST_SHOW_EXAMPLE", "1").strip().lower()
        not in ("0", "false", "no", "off"),
    )


def _data_roots() -> tuple[Path, ...]:
    """The data folders the web app may use: HEATCLUST_DATA_DIR first, then the listed ones."""
    listed = os.environ.get("HEATCLUST_DATA_ROOTS", "").split(os.pathsep)
    roots = [os.environ.get("HEATCLUST_DATA_DIR", "data"), *filter(None, listed)]
    return tuple(dict.fromkeys(Path(os.path.normpath(root)) for root in roots))
