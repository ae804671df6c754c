"""Where HeatClust keeps its files, overridable by environment variables.

HEATCLUST_DATA_DIR (default data/), HEATCLUST_MODELS_DIR (default models/) and
HEATCLUST_STATE_DIR (default state/: the job registry and job logs). Paths are relative to
the working directory, which is the repository root for `streamlit run app.py`.
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


def current() -> Settings:
    return Settings(
        data_dir=Path(os.environ.get("HEATCLUST_DATA_DIR", "data")),
        models_dir=Path(os.environ.get("HEATCLUST_MODELS_DIR", "models")),
        state_dir=Path(os.environ.get("HEATCLUST_STATE_DIR", "state")),
    )
