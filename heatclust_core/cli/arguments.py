"""The command line's flags, derived from the config fields: each flag takes its default,
help text, range and choices from the field that it sets (config.py and each command's config
model), so the command line, the pages and the library cannot disagree.

Over 300 lines by choice: the eight commands' descriptions, which are the command line's
help pages; no config field's flag holds a default or range of its own."""

from __future__ import annotations

import argparse
from pathlib import Path

from heatclust_core.cli.sweep import add_sweep_parser
from heatclust_core.config import (
    ATTACK_KINDS,
    AUGMENTATION_NUMBERS,
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
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import RemediateConfig
from heatclust_core.detection.scan import ScanConfig
from heatclust_core.errors import ConfigError
from heatclust_core.explore.config import EmbedConfig
from heatclust_core.storage import settings

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
}


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data set")
    group.add_argument(
        "--dataset",
        choices=field_choices(DataConfig, "dataset"),
        default=DataConfig().dataset,
        help="embedded synthetic traffic signs (default) or a GTSRB folder",
    )
    group.add_argument(
        "--data-dir",
        default=str(settings.current().data_dir),
        help="data folder: synthetic cache, and GTSRB in DATA_DIR or DATA_DIR/GTSRB "
        "(default: $HEATCLUST_DATA_DIR or data)",
    )
    _field_argument(group, DataConfig, "images_per_class")
    _field_argument(group, DataConfig, "seed", flag="--data-seed")


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
        "sticker_placement",
        "sticker_color",
        "amp",
        "amp_pattern",
        "eps",
        "surrogate_eps",
        "pgd_steps",
        "pgd_step_size",
        "seed",
        "pgd_target",
    ):
        _field_argument(group, AttackConfig, name)


def _field_argument(group, model: type, name: str, flag: str | None = None) -> None:
    """A flag (--name-with-dashes unless `flag` is given) for a config field: its default,
    description, and its choices (a Literal field), an on/off pair (a bool field) or its type
    and range. class_id is --class."""
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
    # An explicit flag names its destination (--data-seed -> data_seed); --class is class_id.
    dest = name if flag is None else _flag_dest(flag)
    if flag is None:
        flag = "--class" if name == "class_id" else "--" + name.replace("_", "-")
    group.add_argument(
        flag,
        dest=dest,
        default=default,
        # argparse %-formats help texts
        help=(field_help(model, name) + f" (default {shown})").replace("%", "%%"),
        **kind,
    )


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    for name in (
        "epochs",
        "patience",
        "batch_size",
        "lr",
        "val_fraction",
        "precision",
        "head_pool",
    ):
        _field_argument(group, TrainConfig, name)
    defaults = AugmentConfig()
    for flag, default, verb in (("--augment", False, "on"), ("--no-augment", True, "off")):
        names = [name for name in AUGMENTATION_SWITCHES if getattr(defaults, name) == default]
        group.add_argument(
            flag,
            nargs="*",
            choices=AUGMENTATION_SWITCHES,
            default=[],
            metavar="NAME",
            help=f"switch augmentations {verb}; {'on' if default else 'off'} by default: "
            f"{', '.join(names) or 'none'}",
        )
    for name in AUGMENTATION_NUMBERS:
        _field_argument(group, AugmentConfig, name, flag=flag_for(f"train.augment.{name}"))
    group.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    _add_models_dir(group)


def build_parser() -> argparse.ArgumentParser:
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
        "exclusionary reclassification of each flagged cluster. Unless --no-trigger-search, "
        "the patch where the flagged samples' heatmaps peak is recovered and every sample of "
        "the class holding it is removed too. The cleaned run is cached like any run.",
    )
    remediate.add_argument("--run", required=True, help="the attacked run's id")
    _add_detect_arguments(remediate)
    for name in (
        "mode",
        "finetune_epochs",
        "finetune_lr",
        "exre_threshold",
        "trigger_search",
        "trigger_max_size",
        "trigger_tolerance",
    ):
        _field_argument(remediate, RemediateConfig, name)
    remediate.add_argument(
        "--remove-from",
        type=Path,
        help="remove the samples listed in this file (the Explore page's CSV or JSON export "
        "of a selection) instead of the detection's flags; --class names their class",
    )

    scan = commands.add_parser(
        "scan",
        help="rank every class of a run by how suspicious its training samples look",
        description="Rank every class, most suspicious first. By default (trigger) a class is "
        "suspicious when a patch its LRP heatmaps peak on, which its training images share far "
        "more often than the other classes' do, turns another class's images into it when "
        "pasted on them (a pasted trigger and its source class).",
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
        "sticker_placement": args.sticker_placement,
        "sticker_color": args.sticker_color,
        "amp": args.amp,
        "amp_pattern": args.amp_pattern,
        "eps": args.eps,
        "surrogate_eps": args.surrogate_eps,
        "pgd_target": args.pgd_target,
        "pgd_steps": args.pgd_steps,
        "pgd_step_size": args.pgd_step_size,
        "seed": args.seed,
    }
    if both := sorted(set(args.augment) & set(args.no_augment)):
        raise ConfigError("--augment", f"{', '.join(both)} both switched on and off")
    defaults = AugmentConfig()
    augment = {
        name: name in args.augment or (getattr(defaults, name) and name not in args.no_augment)
        for name in AUGMENTATION_SWITCHES
    }
    for name in AUGMENTATION_NUMBERS:
        augment[name] = getattr(args, _flag_dest(flag_for(f"train.augment.{name}")))
    train = {
        "epochs": args.epochs,
        "patience": args.patience,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "val_fraction": args.val_fraction,
        "augment": augment,
        "precision": args.precision,
        "head_pool": args.head_pool,
    }
    return build_run_config(data, attack, train)


def _flag_dest(flag: str) -> str:
    """argparse's destination of a flag (--augment-hue -> augment_hue)."""
    return flag.removeprefix("--").replace("-", "_")


def flag_for(parameter: str) -> str:
    """The command-line flag that sets a dotted config parameter ("attack.p" -> "--p")."""
    if parameter.startswith("--"):
        return parameter
    if parameter in _FLAGS:
        return _FLAGS[parameter]
    if parameter.startswith("train.augment."):
        name = parameter.removeprefix("train.augment.")
        if name in AUGMENTATION_NUMBERS:
            return "--augment-" + name.replace("_", "-")
        return "--no-augment"
    return "--" + parameter.split(".")[1 if "." in parameter else 0].replace("_", "-")
