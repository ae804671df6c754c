"""The paper's experiments as named sweeps on the embedded data (Tables 1, 2, 4 and 5).

Each runs with the default training budget (40 epochs; table5 20 at its reduced budget), so a
cell and a single `train` with the same attack share one cached network, and with the paper's
own budget (100 epochs, early-stopping patience 20) when asked for the full one; the precision
and the head's pooling are the base run's."""

from __future__ import annotations

from dataclasses import dataclass

from heatclust_core.config import SHARED_TRAIN_FIELDS, RunConfig, TrainConfig
from heatclust_core.errors import ConfigError
from heatclust_core.sweeps.config import SweepConfig

TABLE_TRAIN = TrainConfig()
PAPER_TRAIN = TABLE_TRAIN.model_copy(update={"epochs": 100, "patience": 20})
PAPER_P = (33.0, 15.0, 10.0, 5.0, 2.0)


@dataclass(frozen=True)
class Preset:
    description: str
    sweep: dict
    reduced_train: TrainConfig = TABLE_TRAIN
    reduced_seeds: tuple[int, ...] | None = None


PRESETS: dict[str, Preset] = {
    "table1": Preset(
        "Table 1: standard sticker attack, s=3, p in 33/15/10/5/2 %",
        {"kinds": ("standard",), "p": PAPER_P, "sticker_size": (3,)},
    ),
    "table2": Preset(
        "Table 2: label-consistent attack, s=3, p in 33/15/10/5/2 %",
        {"kinds": ("label-consistent",), "p": PAPER_P, "sticker_size": (3,)},
    ),
    "table4": Preset(
        "Table 4: label-consistent attack with reduced amplitude 128/64/32, p=33 %",
        {"kinds": ("amplitude",), "p": (33.0,), "amp": (128, 64, 32), "sticker_size": (3,)},
    ),
    "table5": Preset(
        "Table 5: label-consistent attack, p in 33/15 %, 10 seeds (mean and variance)",
        {"kinds": ("label-consistent",), "p": (33.0, 15.0), "seeds": tuple(range(10))},
        reduced_train=TABLE_TRAIN.model_copy(update={"epochs": 20}),
        reduced_seeds=(0, 1, 2),
    ),
}


def preset(name: str, full: bool = False, base: RunConfig | None = None) -> tuple[SweepConfig, str]:
    """(the sweep, a sentence saying which budget it runs with). The cells train with the
    preset's budget and `base`'s precision and head pooling."""
    if name not in PRESETS:
        raise ConfigError("preset", f"must be one of {', '.join(PRESETS)}, got {name!r}")
    chosen = PRESETS[name]
    base = base or RunConfig()
    axes = dict(chosen.sweep)
    if full:
        train = PAPER_TRAIN
        note = f"{chosen.description}; full budget: the paper's {train.epochs} epochs"
    else:
        train = chosen.reduced_train
        if chosen.reduced_seeds is not None:
            axes["seeds"] = chosen.reduced_seeds
        note = (
            f"{chosen.description}; reduced budget: {train.epochs} epochs (paper: "
            f"{PAPER_TRAIN.epochs})"
            + (f", {len(axes['seeds'])} seeds (paper: 10)" if chosen.reduced_seeds else "")
            + "; --full for the paper's"
        )
    shared = {field: getattr(base.train, field) for field in SHARED_TRAIN_FIELDS}
    train = train.model_copy(update=shared)
    sweep = SweepConfig(name=name, base=base.model_copy(update={"train": train}), **axes)
    return sweep, note
