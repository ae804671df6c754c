"""`python -m heatclust_core sweep`: a preset or a grid of your own, on this machine or Ray."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from heatclust_core.attacks.caveats import caveats
from heatclust_core.config import (
    ATTACK_KINDS,
    SHARED_TRAIN_FIELDS,
    SHARED_TRIGGER_FIELDS,
    AttackConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    build,
    field_choices,
    field_help,
    field_type,
)
from heatclust_core.detection.config import DETECTORS
from heatclust_core.storage import settings
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps.config import SweepConfig, custom_sweep
from heatclust_core.sweeps.executors import LocalExecutor, RayExecutor
from heatclust_core.sweeps.presets import PRESETS, preset
from heatclust_core.sweeps.runner import resolved_cells, run_sweep
from heatclust_core.sweeps.tables import paper_layout, sweep_table


def add_sweep_parser(commands) -> argparse.ArgumentParser:
    sweep = commands.add_parser(
        "sweep",
        help="train and detect over a grid of attacks (or a preset of the paper's tables)",
        description="Every cell of the grid is a run plus its detections, cached like single "
        "runs: cells already computed are reused, so a stopped sweep resumes where it was.",
    )
    sweep.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        help="; ".join(f"{name}: {p.description}" for name, p in PRESETS.items()).replace(
            "%", "%%"
        ),
    )
    sweep.add_argument(
        "--full", action="store_true", help="a preset with the paper's budget (100 epochs)"
    )
    sweep.add_argument("--attack", nargs="+", choices=ATTACK_KINDS, default=["standard"])
    for name in ("p", "sticker_size", "amp"):
        sweep.add_argument(
            "--" + name.replace("_", "-"),
            nargs="+",
            type=field_type(AttackConfig, name),
            default=[getattr(AttackConfig(), name)],
            help=f"{field_help(AttackConfig, name)}; one or more".replace("%", "%%"),
        )
    # One trigger and one network build for every cell, not axes: a sweep compares p, s and
    # amp on them (a preset keeps its own epochs).
    for model, names in ((AttackConfig, SHARED_TRIGGER_FIELDS), (TrainConfig, SHARED_TRAIN_FIELDS)):
        for name in names:
            sweep.add_argument(
                "--" + name.replace("_", "-"),
                choices=field_choices(model, name),
                default=model.model_fields[name].default,
                help=field_help(model, name).replace("%", "%%"),
            )
    sweep.add_argument("--seeds", nargs="+", type=int, default=[0])
    sweep.add_argument(
        "--detectors",
        nargs="+",
        choices=DETECTORS,
        default=list(SweepConfig().detectors),
        help=f"detectors run on each cell (default {' '.join(SweepConfig().detectors)})",
    )
    sweep.add_argument(
        "--epochs",
        type=int,
        default=TrainConfig().epochs,
        help=f"{field_help(TrainConfig, 'epochs')}; without --preset",
    )
    sweep.add_argument(
        "--images-per-class",
        type=int,
        default=DataConfig().images_per_class,
        help=field_help(DataConfig, "images_per_class"),
    )
    sweep.add_argument(
        "--data-dir",
        default=str(settings.current().data_dir),
        help="data folder (default: $HEATCLUST_DATA_DIR or data)",
    )
    sweep.add_argument("--executor", choices=("local", "ray"), default="local")
    sweep.add_argument(
        "--workers", type=int, default=1, help="local worker processes (default 1: in turn)"
    )
    sweep.add_argument(
        "--ray-address",
        help="Ray cluster to connect to (e.g. auto, ray://head:10001); default: start a local one",
    )
    sweep.add_argument("--ray-cpus", type=int, help="CPUs of a local Ray instance")
    sweep.add_argument("--csv", type=Path, help="also write the table (means, variances) as CSV")
    return sweep


def sweep_config_from_args(args: argparse.Namespace) -> tuple[SweepConfig, str]:
    data = {"data_dir": args.data_dir, "images_per_class": args.images_per_class}
    trigger = {name: getattr(args, name) for name in SHARED_TRIGGER_FIELDS}
    train = {name: getattr(args, name) for name in SHARED_TRAIN_FIELDS}
    if args.preset:
        base = RunConfig(
            data=build(DataConfig, data, "data"),
            attack=build(AttackConfig, trigger, "attack"),
            train=build(TrainConfig, train, "train"),
        )
        sweep, note = preset(args.preset, args.full, base)
        return sweep.model_copy(update={"detectors": tuple(args.detectors)}), note
    axes = {
        "kinds": args.attack,
        "p": args.p,
        "sticker_size": args.sticker_size,
        "amp": args.amp,
        "seeds": args.seeds,
    }
    sweep = custom_sweep(
        "sweep", data, {"epochs": args.epochs, **train}, axes, args.detectors, trigger
    )
    return sweep, f"custom sweep of {len(sweep.cells())} cells, {args.epochs} epochs each"


def sweep_command(args: argparse.Namespace, progress) -> dict[str, Any]:
    sweep, note = sweep_config_from_args(args)
    if args.executor == "ray":
        executor = RayExecutor(args.ray_address, args.ray_cpus)
    else:
        executor = LocalExecutor(args.workers)
    # Said once the values are known to be valid (a bad one gets its one line alone), and
    # before the sweep's hours, not after them.
    cells = resolved_cells(sweep)
    notes = list(dict.fromkeys(line for cell in cells for line in caveats(cell)))
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    record = run_sweep(sweep, RunStore(args.models_dir), executor, args.device, progress, cells)
    table = sweep_table(record)
    if args.csv:
        table.to_csv(args.csv, index=False)
    return {
        "sweep_id": record["sweep_id"],
        "note": note,
        "table": paper_layout(table, record).to_dict(orient="records"),
        "table_full": table.to_dict(orient="records"),
        "cells": record["cells"],
        "caveats": notes,
    }


def print_sweep(result: dict[str, Any]) -> None:
    import pandas as pd

    print(f"sweep {result['sweep_id']}: {result['note']}")
    print(pd.DataFrame(result["table"]).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    for line in result.get("caveats", ()):
        print(f"note: {line}")
