"""A sweep's typed configuration and the grid of run configs it expands to."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence

from pydantic import Field, field_validator

from heatclust_core.config import (
    STICKER_FIELDS,
    UNHASHED_AMP_PATTERN,
    AttackConfig,
    AttackKind,
    BaseConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    build,
)
from heatclust_core.detection.config import DetectConfig, DetectorName


class SweepConfig(BaseConfig):
    """Axes left empty keep the base run's value. A seed sets the attack's and training's
    seed together (trigger positions, chosen samples, initialisation, batches)."""

    name: str = Field("sweep", min_length=1, max_length=80)
    base: RunConfig = RunConfig()
    kinds: tuple[AttackKind, ...] = ()
    p: tuple[float, ...] = ()
    sticker_size: tuple[int, ...] = ()
    amp: tuple[int, ...] = ()
    seeds: tuple[int, ...] = (0,)
    detectors: tuple[DetectorName, ...] = ("ac", "hc")
    # Tables need no MDS picture: it would cost more than the clustering on small classes.
    detect: DetectConfig = DetectConfig(mds_samples=0)

    @field_validator("seeds", "detectors")
    @classmethod
    def _not_empty(cls, value: tuple) -> tuple:
        if not value:
            raise ValueError("needs at least one value")
        return value

    def cells(self) -> list[RunConfig]:
        """Every combination of the axes, in a stable order (kind, p, s, amp, seed)."""
        attack = self.base.attack
        axes = itertools.product(
            self.kinds or (attack.kind,),
            self.p or (attack.p,),
            self.sticker_size or (attack.sticker_size,),
            self.amp or (attack.amp,),
            self.seeds,
        )
        cells = []
        for kind, p, size, amp, seed in axes:
            cell_attack = attack.model_copy(
                update={"kind": kind, "p": p, "sticker_size": size, "amp": amp, "seed": seed}
            )
            train = self.base.train.model_copy(update={"seed": seed})
            cells.append(self.base.model_copy(update={"attack": cell_attack, "train": train}))
        # model_copy does not validate: each cell is checked here, naming a bad axis value.
        return [build(RunConfig, cell.model_dump()) for cell in cells]

    def sweep_id(self) -> str:
        """name-<10 hex digits>: the sweep's axes and what of its base run decides results (as
        run ids: not the folder the synthetic set is cached in)."""
        base = self.base.hashed_content()
        kinds = set(self.kinds or (self.base.attack.kind,))
        if kinds == {"amplitude"}:
            # Its cells stamp a checkerboard: the base's sticker does not change one of them.
            base["attack"] = {
                name: value for name, value in base["attack"].items() if name not in STICKER_FIELDS
            }
        if "amplitude" in kinds and self.base.attack.amp_pattern != UNHASHED_AMP_PATTERN:
            # The base's kind may hash no pattern, but its amplitude cells stamp this one.
            base["attack"]["amp_pattern"] = self.base.attack.amp_pattern
        if "amplitude" in kinds:
            # Its amplitude cells train with the augmentation settled for them (resampling off
            # unless the base says on), which the base's own kind may not show.
            augment = self.base.train.augment.settled("amplitude")
            base["train"]["amplitude_augment"] = augment.relevant_fields()
        content = self.model_dump(exclude={"base", "detect"}) | {
            "base": base,
            "detect": self.detect.hashed_content(),
        }
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return f"{self.name}-{hashlib.sha256(canonical.encode()).hexdigest()[:10]}"


def custom_sweep(
    name: str,
    data: dict,
    train: dict,
    axes: dict,
    detectors: Sequence[str],
    attack: dict | None = None,
) -> SweepConfig:
    """A grid of the user's own, validated with each bad value named: `data` the DataConfig
    values, `train` the TrainConfig values (epochs, precision, head pooling), `axes`
    kinds/p/sticker_size/amp/seeds, `attack` AttackConfig values every cell shares (the
    sticker's placement and colour, the amplitude pattern). The command line and
    the Compare page build sweeps here; every cell is checked at once (a bad axis value fails
    before any run)."""
    base = RunConfig(
        data=build(DataConfig, data, "data"),
        attack=build(AttackConfig, attack or {}, "attack"),
        train=build(TrainConfig, train, "train"),
    )
    sweep = build(
        SweepConfig,
        {"name": name, "base": base.model_dump(), **axes, "detectors": detectors},
    )
    sweep.cells()
    return sweep
