"""What each command does with its parsed arguments: build the config, call the library,
return a JSON-able result (printed by `cli.printing`, or as JSON with --json)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from heatclust_core.attacks.caveats import caveats
from heatclust_core.cli.arguments import run_config_from_args
from heatclust_core.config import DataConfig, RunConfig, build, from_stored
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import RemediateConfig, remediate
from heatclust_core.detection.run import run_detection, without_sample_fields
from heatclust_core.detection.scan import ScanConfig, run_scan
from heatclust_core.errors import ConfigError
from heatclust_core.example.build import build_example, default_plan
from heatclust_core.example.check import check_example
from heatclust_core.example.shipped import read_manifest
from heatclust_core.explore.config import EmbedConfig
from heatclust_core.explore.embeddings import run_embedding
from heatclust_core.explore.export import read_sample_ids
from heatclust_core.pipeline import resolve, train_run
from heatclust_core.presentation.report import run_report, sweep_report
from heatclust_core.progress import Progress
from heatclust_core.storage.atomic import atomic_write
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.runner import load_sweeps, sweep_record, sweeps_dir


def train_command(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    # Resolved here, once: the caveats are said after the values are known to fit the data
    # (a bad one gets its one line alone) and before the minutes of training, not after them.
    config = resolve(run_config_from_args(args))
    notes = caveats(config)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    summary = train_run(config, RunStore(args.models_dir), args.device, progress).summary()
    return summary | {"caveats": notes}


def detect_config(args: argparse.Namespace) -> DetectConfig:
    values = {
        name: getattr(args, name)
        for name in DetectConfig.model_fields
        if getattr(args, name, None) is not None
    }
    return build(DetectConfig, values)


def detect_command(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    config = detect_config(args)
    result = run_detection(RunStore(args.models_dir), args.run, config, args.device, progress)
    # The per-sample arrays are saved in the run folder; stdout gets the scores.
    return without_sample_fields(result)


def remediate_command(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    values = {
        "detect": detect_config(args),
        "mode": args.mode,
        "finetune_epochs": args.finetune_epochs,
        "finetune_lr": args.finetune_lr,
        "exre_threshold": args.exre_threshold,
        "trigger_search": args.trigger_search,
        "trigger_max_size": args.trigger_max_size,
        "trigger_tolerance": args.trigger_tolerance,
        "removed": read_sample_ids(args.remove_from) if args.remove_from else None,
    }
    config = build(RemediateConfig, values)
    result = remediate(RunStore(args.models_dir), args.run, config, args.device, progress)
    return without_sample_fields(result)


def scan_command(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    config = build(ScanConfig, {name: getattr(args, name) for name in ScanConfig.model_fields})
    return run_scan(RunStore(args.models_dir), args.run, config, args.device, progress)


def embed_command(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    config = build(EmbedConfig, {name: getattr(args, name) for name in EmbedConfig.model_fields})
    result = run_embedding(RunStore(args.models_dir), args.run, config, args.device, progress)
    return {"result_name": config.result_name()} | without_sample_fields(result)


def report_command(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    store = RunStore(args.models_dir)
    if args.run:
        text = run_report(store, args.run)
    else:
        records = [r for r in load_sweeps(store).values if r["sweep_id"] == args.sweep]
        if not records:
            raise ConfigError("--sweep", f"no sweep {args.sweep!r} in {sweeps_dir(store)}")
        # Re-read from the run store: cells computed since the record was written count too.
        text = sweep_report(sweep_record(from_stored(SweepConfig, records[0]["config"]), store))
    atomic_write(args.out, lambda handle: handle.write(text.encode()))
    return {"out": str(args.out), "bytes": len(text.encode()), "run": args.run, "sweep": args.sweep}


def example_command(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    base = RunConfig(data=build(DataConfig, {"data_dir": args.data_dir}, "data"))
    plan = default_plan(base)
    if args.rebuild:
        manifest = build_example(args.example_dir, args.work_dir, plan, args.device, progress)
        return {"action": "rebuild", "example_dir": str(args.example_dir), **manifest}
    if args.check:
        problems = check_example(args.example_dir, args.data_dir, plan, args.device)
        return {"action": "check", "example_dir": str(args.example_dir), "problems": problems}
    manifest = read_manifest(args.example_dir)
    if manifest is None:
        raise ConfigError("example_dir", f"no example in {args.example_dir}: --rebuild makes one")
    return {"action": "show", "example_dir": str(args.example_dir), **manifest}
