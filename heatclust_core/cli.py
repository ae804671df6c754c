"""Command line: `python -m heatclust_core train|detect|remediate|scan|embed|sweep|report|example`.

Results go to stdout (a table, or JSON with --json); progress bars and errors go to stderr.
A bad parameter exits with status 2 and one line naming it, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from heatclust_core import settings
from heatclust_core.config import (
    ATTACK_KINDS,
    AUGMENTATION_SWITCHES,
    AttackConfig,
    AugmentConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    build,
    build_run_config,
    field_choices,
    field_help,
    field_type,
)
from heatclust_core.detect_run import (
    DetectConfig,
    run_detection,
    without_sample_fields,
)
from heatclust_core.errors import ConfigError, DatasetError, HeatClustError, RunNotFoundError
from heatclust_core.example import build_example, check_example, default_plan, read_manifest
from heatclust_core.explore.embeddings import EmbedConfig, run_embedding
from heatclust_core.explore.export import read_sample_ids
from heatclust_core.pipeline import train_run
from heatclust_core.remediation import RemediateConfig, remediate
from heatclust_core.report import run_report, sweep_report
from heatclust_core.run_store import RunStore
from heatclust_core.scan import ScanConfig, run_scan
from heatclust_core.storage import atomic_write
from heatclust_core.sweeps.cli import add_sweep_parser, print_sweep, run_sweep_command
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.runner import load_sweeps, sweep_record, sweeps_dir

# Config parameter -> the flag that sets it, for error messages.
_FLAGS = {
    "attack.kind": "--attack",
    "attack.seed": "--seed",
    "train.seed": "--seed",
    "data.seed": "--data-seed",
    "data.dataset": "--dataset",
    "class_id": "--class",
    "removed": "--remove-from",
    "train.augment.group_size": "--augment-group",
    "train.augment.hue": "--augment-hue",
}


class TqdmProgress:
    """One progress bar per stage, on stderr."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.stage = ""
        self.message = ""

    def __call__(self, stage: str, fraction: float, message: str = "") -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                total=1000,
                desc=f"{stage:>9}",
                file=sys.stderr,
                leave=True,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} {postfix}",
            )
        assert self.bar is not None
        position = round(1000 * min(max(fraction, 0.0), 1.0))
        if message != self.message:
            self.message = message
            self.bar.set_postfix_str(message, refresh=False)
        self.bar.update(position - self.bar.n)  # update() honours tqdm's refresh interval

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data set")
    group.add_argument(
        "--dataset",
        choices=("synthetic", "gtsrb"),
        default="synthetic",
        help="embedded synthetic traffic signs (default) or a GTSRB folder",
    )
    group.add_argument(
        "--data-dir",
        default=str(settings.current().data_dir),
        help="data folder: synthetic cache, and GTSRB in DATA_DIR or DATA_DIR/GTSRB "
        "(default: $HEATCLUST_DATA_DIR or data)",
    )
    group.add_argument(
        "--images-per-class",
        type=int,
        default=DataConfig().images_per_class,
        help="synthetic images per class on average, in GTSRB's proportions "
        f"(default {DataConfig().images_per_class})",
    )
    group.add_argument(
        "--data-seed", type=int, default=0, help="seed of the synthetic set and split"
    )


def _add_attack_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = AttackConfig()
    group = parser.add_argument_group("attack")
    group.add_argument(
        "--attack",
        choices=ATTACK_KINDS,
        default=defaults.kind,
        help="standard (BadNets sticker, relabelled source images), label-consistent "
        "(PGD-degraded target images + sticker), amplitude (label-consistent "
        "with a +/-amp checkerboard trigger), none (clean model)",
    )
    group.add_argument(
        "--source", help="source class id or exact name (default: Speed limit (50km/h))"
    )
    group.add_argument(
        "--target", help="target class id or exact name (default: Speed limit (80km/h))"
    )
    for name in (
        "p",
        "sticker_size",
        "amp",
        "eps",
        "surrogate_eps",
        "pgd_steps",
        "pgd_step_size",
        "seed",
        "pgd_target",
    ):
        _field_argument(group, AttackConfig, name)


def _field_argument(group, model: type, name: str) -> None:
    """--name-with-dashes for a config field: its default, description, and its choices (a
    Literal field), an on/off pair (a bool field) or its type and range. class_id is --class."""
    field = model.model_fields[name]
    default = field.default
    annotation = field_type(model, name)
    choices = field_choices(model, name)
    if choices:
        kind = {"choices": choices}
    elif annotation is bool:
        kind = {"action": argparse.BooleanOptionalAction}
    else:
        kind = {"type": annotation}
    shown = f"{default:g}" if isinstance(default, float) else str(default)
    flag = "--class" if name == "class_id" else "--" + name.replace("_", "-")
    group.add_argument(
        flag,
        dest=name,
        default=default,
        # argparse %-formats help texts
        help=(field_help(model, name) + f" (default {shown})").replace("%", "%%"),
        **kind,
    )


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    group = parser.add_argument_group("training")
    group.add_argument(
        "--epochs",
        type=int,
        default=defaults.epochs,
        help=f"maximum epochs (default {defaults.epochs}; the paper uses 100)",
    )
    group.add_argument(
        "--patience",
        type=int,
        default=defaults.patience,
        help=f"early-stopping patience in epochs (default {defaults.patience})",
    )
    group.add_argument("--batch-size", type=int, default=defaults.batch_size)
    group.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate")
    group.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    group.add_argument(
        "--no-augment",
        nargs="*",
        choices=AUGMENTATION_SWITCHES,
        default=[],
        metavar="NAME",
        help=f"switch augmentations off: {', '.join(AUGMENTATION_SWITCHES)}",
    )
    group.add_argument(
        "--augment-group",
        type=int,
        default=AugmentConfig().group_size,
        help="images sharing one draw of augmentation parameters; 1 = per image "
        f"(default {AugmentConfig().group_size}, faster on CPU)",
    )
    group.add_argument(
        "--augment-hue",
        type=float,
        default=AugmentConfig().hue,
        help="ColorJitter's hue range, 0..0.5 (default 0: no hue shift, a third of the "
        "augmentation time on CPU)",
    )
    group.add_argument(
        "--precision",
        choices=("float32", "mixed"),
        default=defaults.precision,
        help="mixed: bfloat16 convolutions where the device has them natively (a training step "
        f"~1.9x faster on such CPUs), else float32 (default {defaults.precision})",
    )
    group.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    _add_models_dir(group)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m heatclust_core",
        description="HeatClust: backdoor poisoning attacks on image classifiers and their detection.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="poison the training data, train the network, report accuracy and attack success",
        description="Poison the training set, train the small Inception network and report clean "
        "accuracy, ASR, per-class ASR and MASR. Results are cached in --models-dir by "
        "a hash of the configuration: the same settings never train twice.",
    )
    _add_data_arguments(train)
    _add_attack_arguments(train)
    _add_train_arguments(train)

    detect = commands.add_parser(
        "detect",
        help="run a detector (raw, ac, ss, hc) on a trained run's suspicious class",
        description="Cluster the training samples of one class of a finished run and score the "
        "flagged cluster against the attack's ground truth (ACC, TPR, TNR, precision, F1).",
    )
    detect.add_argument("--run", required=True, help="run id printed by `train`")
    _add_detect_arguments(detect)

    remediate = commands.add_parser(
        "remediate",
        help="remove what a detector flagged, train again and measure what changed",
        description="Run (or reuse) a detection on the run's suspicious class, train the same "
        "configuration without the flagged samples (from scratch, or by fine-tuning the "
        "attacked network) and compare clean accuracy, ASR and MASR before and after, with "
        "BackdoorBench's defence effectiveness rating (DER) and, after retraining, ART's "
        "exclusionary reclassification of each flagged cluster. The cleaned run is cached "
        "like any run.",
    )
    remediate.add_argument("--run", required=True, help="the attacked run's id")
    _add_detect_arguments(remediate)
    for name in ("mode", "finetune_epochs", "finetune_lr", "exre_threshold"):
        _field_argument(remediate, RemediateConfig, name)
    remediate.add_argument(
        "--remove-from",
        type=Path,
        help="remove the samples listed in this file (the Explore page's CSV or JSON export "
        "of a selection) instead of the detection's flags; --class names their class",
    )

    scan = commands.add_parser(
        "scan",
        help="rank every class of a run by how cleanly its heatmaps split in two",
        description="Split every class's LRP heatmaps (or, --method activation, its "
        "activations) into two clusters; classes whose clusters separate most cleanly "
        "(highest silhouette) come first: a trigger draws relevance where the class's other "
        "samples have none.",
    )
    scan.add_argument("--run", required=True, help="run id printed by `train`")
    for name in ScanConfig.model_fields:
        _field_argument(scan, ScanConfig, name)

    embed = commands.add_parser(
        "embed",
        help="embed one class's samples for the explorer (umap, tsne, pca, spectral, gw-mds)",
        description="Embed the training samples of one class of a finished run in two "
        "dimensions: UMAP, t-SNE or PCA of the activations, the spectral embedding of the "
        "heatmaps (SpRAy), or landmark MDS of the point clouds' GW distances (the whole "
        "class). Also saves each sample's prediction and relevance on the trigger, and "
        "k-means for k = 2..8 with silhouettes (and the Laplacian's eigenvalues): the "
        "choice of k. Saved in the run folder; the app's Explore page draws it.",
    )
    embed.add_argument("--run", required=True, help="run id printed by `train`")
    for name in EmbedConfig.model_fields:
        _field_argument(embed, EmbedConfig, name)

    sweep = add_sweep_parser(commands)

    report = commands.add_parser(
        "report",
        help="write a self-contained HTML report of a run or a sweep (readable offline)",
        description="One HTML file with plotly.js and images inlined: configuration, versions, "
        "metrics, per-class ASR, detector tables, heatmaps and cluster plots (a run), or the "
        "table and rate charts (a sweep).",
    )
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="run id")
    source.add_argument("--sweep", help="sweep id (see models/sweeps/)")
    report.add_argument("--out", required=True, type=Path, help="the HTML file to write")

    example = commands.add_parser(
        "example",
        help="the shipped example: show it, check it against the code, or rebuild it",
        description="The example the app opens on (the default run with every detector and "
        "the class scan, and sweeps over p and amp). Without options: what it holds. --check "
        "regenerates the data and verifies that the shipped weights give the stored rates, "
        "the stored detections follow from their labels and the ids are the current defaults'. "
        "--rebuild computes it again from the current defaults in --work-dir (its cached runs "
        "are reused; delete it to start from nothing) and replaces --example-dir in one step.",
    )
    action = example.add_mutually_exclusive_group()
    action.add_argument("--rebuild", action="store_true", help="compute and replace it")
    action.add_argument("--check", action="store_true", help="verify it against the code")
    current = settings.current()
    example.add_argument(
        "--example-dir",
        type=Path,
        default=current.example_dir,
        help="the example folder (default: $HEATCLUST_EXAMPLE_DIR or example)",
    )
    example.add_argument(
        "--work-dir",
        type=Path,
        default=current.state_dir / "example-build",
        help="the scratch run store of --rebuild (default: state/example-build)",
    )
    example.add_argument(
        "--data-dir",
        default=str(current.data_dir),
        help="where the synthetic set is cached (default: $HEATCLUST_DATA_DIR or data)",
    )

    for sub in (train, detect, remediate, scan, embed, sweep, report, example):
        sub.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
        sub.add_argument("--quiet", action="store_true", help="no progress bars")
        if sub is not train:
            sub.add_argument(
                "--device", default="auto", help="auto (CUDA when present), cpu or cuda"
            )
        if sub not in (train, example):
            _add_models_dir(sub)
    return parser


def _add_detect_arguments(parser: argparse.ArgumentParser) -> None:
    """The detector and its settings, one flag per DetectConfig field, for detect and
    remediate."""
    for name in DetectConfig.model_fields:
        _field_argument(parser, DetectConfig, name)


def _add_models_dir(group) -> None:
    group.add_argument(
        "--models-dir",
        default=str(settings.current().models_dir),
        help="where runs are cached (default: $HEATCLUST_MODELS_DIR or models, as the app)",
    )


def _class_argument(value: str | None, names: tuple[str, ...], flag: str) -> int | None:
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    lowered = [n.lower() for n in names]
    if value.lower() in lowered:
        return lowered.index(value.lower())
    raise ConfigError(flag, f"no class named {value!r}; classes are 0..{len(names) - 1}")


def run_config_from_args(args: argparse.Namespace) -> RunConfig:
    from heatclust_core.data.loading import class_names

    data = {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "images_per_class": args.images_per_class,
        "seed": args.data_seed,
    }
    names = class_names(build(DataConfig, data, "data")) if (args.source or args.target) else ()
    attack = {
        "kind": args.attack,
        "source": _class_argument(args.source, names, "--source"),
        "target": _class_argument(args.target, names, "--target"),
        "p": args.p,
        "sticker_size": args.sticker_size,
        "amp": args.amp,
        "eps": args.eps,
        "surrogate_eps": args.surrogate_eps,
        "pgd_target": args.pgd_target,
        "pgd_steps": args.pgd_steps,
        "pgd_step_size": args.pgd_step_size,
        "seed": args.seed,
    }
    augment = {name: name not in args.no_augment for name in AUGMENTATION_SWITCHES}
    augment["group_size"] = args.augment_group
    augment["hue"] = args.augment_hue
    train = {
        "epochs": args.epochs,
        "patience": args.patience,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "val_fraction": args.val_fraction,
        "augment": augment,
        "precision": args.precision,
    }
    return build_run_config(data, attack, train)


def _flag(parameter: str) -> str:
    """The command-line flag that sets a dotted config parameter ("attack.p" -> "--p")."""
    if parameter.startswith("--"):
        return parameter
    if parameter in _FLAGS:
        return _FLAGS[parameter]
    if parameter.startswith("train.augment"):
        return "--no-augment"
    return "--" + parameter.split(".")[1 if "." in parameter else 0].replace("_", "-")


def _print_train(summary: dict[str, Any]) -> None:
    names = summary["class_names"]
    config = summary["config"]["attack"]
    print(
        f"run {summary['run_id']}{' (cached)' if summary['cached'] else ''}: "
        f"{config['kind']} attack, {names[config['source']]} -> {names[config['target']]}, "
        f"p={config['p']}%"
    )
    print(f"  parameters      {summary['n_parameters']:,}")
    print(f"  clean accuracy  {summary['clean_accuracy']:.4f}")
    print(f"  ASR             {summary['asr']:.4f}")
    print(f"  MASR            {summary['masr']:.4f}")
    print(
        "  per-class ASR   "
        + ", ".join(f"{c}:{v:.2f}" for c, v in summary["per_class_asr"].items())
    )
    print(f"  seconds         {summary['seconds']:.1f}")


def _train(args: argparse.Namespace, progress: TqdmProgress) -> dict[str, Any]:
    config = run_config_from_args(args)
    return train_run(config, RunStore(args.models_dir), args.device, progress).summary()


def _detect_config(args: argparse.Namespace) -> DetectConfig:
    values = {
        name: getattr(args, name)
        for name in DetectConfig.model_fields
        if getattr(args, name, None) is not None
    }
    return build(DetectConfig, values)


def _detect(args: argparse.Namespace, progress: TqdmProgress) -> dict[str, Any]:
    config = _detect_config(args)
    result = run_detection(RunStore(args.models_dir), args.run, config, args.device, progress)
    # The per-sample arrays are saved in the run folder; stdout gets the scores.
    return without_sample_fields(result)


def _remediate(args: argparse.Namespace, progress: TqdmProgress) -> dict[str, Any]:
    values = {
        "detect": _detect_config(args),
        "mode": args.mode,
        "finetune_epochs": args.finetune_epochs,
        "finetune_lr": args.finetune_lr,
        "exre_threshold": args.exre_threshold,
        "removed": read_sample_ids(args.remove_from) if args.remove_from else None,
    }
    config = build(RemediateConfig, values)
    result = remediate(RunStore(args.models_dir), args.run, config, args.device, progress)
    return without_sample_fields(result)


def _scan(args: argparse.Namespace, progress: TqdmProgress) -> dict[str, Any]:
    config = build(ScanConfig, {name: getattr(args, name) for name in ScanConfig.model_fields})
    return run_scan(RunStore(args.models_dir), args.run, config, args.device, progress)


def _embed(args: argparse.Namespace, progress: TqdmProgress) -> dict[str, Any]:
    config = build(EmbedConfig, {name: getattr(args, name) for name in EmbedConfig.model_fields})
    result = run_embedding(RunStore(args.models_dir), args.run, config, args.device, progress)
    return {"result_name": config.result_name()} | without_sample_fields(result)


def _print_embed(result: dict[str, Any]) -> None:
    print(
        f"{result['title']} of class {result['class']} ({result['class_name']}) of run "
        f"{result['run_id']}: {result['n_samples']} samples, {result['n_poisoned']} poisoned"
    )
    print("  seconds " + ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items()))
    print(f"  saved as embeddings/{result['result_name']}.json in the run folder")


def _report(args: argparse.Namespace, progress: TqdmProgress) -> dict[str, Any]:
    store = RunStore(args.models_dir)
    if args.run:
        text = run_report(store, args.run)
    else:
        records = [r for r in load_sweeps(store).values if r["sweep_id"] == args.sweep]
        if not records:
            raise ConfigError("--sweep", f"no sweep {args.sweep!r} in {sweeps_dir(store)}")
        # Re-read from the run store: cells computed since the record was written count too.
        text = sweep_report(sweep_record(SweepConfig.model_validate(records[0]["config"]), store))
    atomic_write(args.out, lambda handle: handle.write(text.encode()))
    return {"out": str(args.out), "bytes": len(text.encode()), "run": args.run, "sweep": args.sweep}


def _example(args: argparse.Namespace, progress: TqdmProgress) -> dict[str, Any]:
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


def _print_example(result: dict[str, Any]) -> None:
    if result["action"] == "check":
        problems = result["problems"]
        print(f"example in {result['example_dir']}: " + ("consistent" if not problems else ""))
        for problem in problems:
            print(f"  {problem}")
        return
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in result["seconds"].items())
    print(f"example in {result['example_dir']}, built {result['built']} ({seconds})")
    print(f"  run {result['main_run']}; sweeps {', '.join(result['sweeps'])}")


def _print_report(result: dict[str, Any]) -> None:
    print(f"wrote {result['out']} ({result['bytes'] / 1e6:.1f} MB)")


def _print_detect(result: dict[str, Any]) -> None:
    print(
        f"{result['detector']} on class {result['class']} ({result['class_name']}) of run "
        f"{result['run_id']}: {result['n_samples']} samples, {result['n_poisoned']} poisoned"
    )
    print(
        f"  ACC {result['acc']:.4f}  TPR {result['tpr']:.4f}  TNR {result['tnr']:.4f}  "
        f"precision {result['precision']:.4f}  F1 {result['f1']:.4f}"
    )
    print(
        f"  TP {result['tp']}  TN {result['tn']}  FP {result['fp']}  FN {result['fn']}  "
        f"flagged cluster {result['flagged_cluster']} of sizes {result['cluster_sizes']}"
    )
    print("  seconds " + ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items()))


def _print_remediate(result: dict[str, Any]) -> None:
    print(
        f"run {result['source_run']} without the {result['removed']} samples {result['detector']} "
        f"flagged ({result['removed_poisoned']} of its {result['n_poisoned']} poisons), "
        f"{result['mode']}: run {result['run_id']}{' (cached)' if result['cached'] else ''}"
    )
    for name, key in (("clean accuracy", "clean_accuracy"), ("ASR", "asr"), ("MASR", "masr")):
        print(f"  {name:<15} {result[key + '_before']:.4f} -> {result[key + '_after']:.4f}")
    print(f"  DER             {result['der']:.4f}")
    for verdict in result["exre"] or []:
        source = verdict["suspected_source"]
        print(
            f"  ExRe cluster {verdict['cluster']} ({verdict['size']} samples, "
            f"{verdict['truly_poisoned']} poisoned): {verdict['own_label_share']:.2f} keep "
            f"their label -> {verdict['verdict']}"
            + (
                f", suspected source {source} {verdict['suspected_source_name']}"
                if source is not None and verdict["verdict"] == "confirmed"
                else ""
            )
        )


def _print_scan(result: dict[str, Any]) -> None:
    print(f"class scan of run {result['run_id']} (most suspicious first)")
    for entry in result["ranking"]:
        print(
            f"  {entry['class']:>3} {entry['name']:<28} score {entry['score']:.3f}  "
            f"smaller cluster {entry['smaller_share']:.2f}"
        )


_COMMANDS = {
    "train": (_train, _print_train),
    "detect": (_detect, _print_detect),
    "remediate": (_remediate, _print_remediate),
    "scan": (_scan, _print_scan),
    "embed": (_embed, _print_embed),
    "sweep": (run_sweep_command, print_sweep),
    "report": (_report, _print_report),
    "example": (_example, _print_example),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    progress = TqdmProgress(enabled=not args.quiet)
    run, show = _COMMANDS[args.command]
    try:
        result = run(args, progress)
    except ConfigError as exc:
        progress.close()
        print(f"error: {_flag(exc.parameter)}: {exc.message}", file=sys.stderr)
        return 2
    except DatasetError as exc:
        progress.close()
        print(f"error: --data-dir: {exc}", file=sys.stderr)
        return 2
    except RunNotFoundError as exc:
        progress.close()
        print(f"error: --run: {exc}", file=sys.stderr)
        return 2
    except HeatClustError as exc:
        progress.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    progress.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)
    return 1 if result.get("problems") else 0
