"""Sweeps: grids of runs (attack kind x p x s x amp x seed), each trained and scanned by the
detectors through the same cache as single runs, aggregated into the paper's tables."""

from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.presets import PRESETS, preset
from heatclust_core.sweeps.runner import run_sweep
from heatclust_core.sweeps.tables import sweep_table

__all__ = ["PRESETS", "SweepConfig", "preset", "run_sweep", "sweep_table"]
