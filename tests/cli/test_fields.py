"""Every config field against the command line: each one a user can set has a flag whose
default is the field's default, and out-of-range values are refused with the field's range."""

import pytest

from heatclust_core.cli import build_parser, main
from heatclust_core.cli.arguments import flag_for, run_config_from_args
from heatclust_core.config import (
    AUGMENTATION_NUMBERS,
    AUGMENTATION_SWITCHES,
    AttackConfig,
    AugmentConfig,
    DataConfig,
    TrainConfig,
)
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import RemediateConfig
from heatclust_core.detection.scan import ScanConfig
from heatclust_core.errors import ConfigError
from heatclust_core.explore.config import EmbedConfig
from heatclust_core.storage import settings

# Fields with no flag of their own, and why.
NO_FLAG = {
    (DataConfig, "test_fraction"): "the split is part of the data set: GTSRB has its own",
    (TrainConfig, "seed"): "the attack's --seed seeds training too (build_run_config)",
    (TrainConfig, "adversarial_eps"): "set for the surrogate by --surrogate-eps",
    (
        TrainConfig,
        "augment",
    ): "--augment/--no-augment NAME... and an --augment-NAME flag per number",
    (RemediateConfig, "detect"): "the detect flags",
    (RemediateConfig, "removed"): "--remove-from FILE, an export of the explorer's selection",
}
# Flags whose name is not the field's.
FLAG_NAMES = {
    (DataConfig, "seed"): "data_seed",
    (AttackConfig, "kind"): "attack",
    (DetectConfig, "class_id"): "class_id",
}
COMMANDS = {
    DataConfig: ["train"],
    AttackConfig: ["train"],
    TrainConfig: ["train"],
    DetectConfig: ["detect", "--run", "x"],
    RemediateConfig: ["remediate", "--run", "x"],
    ScanConfig: ["scan", "--run", "x"],
    EmbedConfig: ["embed", "--run", "x"],
}


def _cases():
    for model, command in COMMANDS.items():
        for name in model.model_fields:
            if (model, name) not in NO_FLAG:
                yield pytest.param(model, name, command, id=f"{model.__name__}.{name}")


@pytest.mark.parametrize(("model", "name", "command"), list(_cases()))
def test_each_field_has_a_flag_with_its_default(model, name, command):
    parsed = vars(build_parser().parse_args(command))
    dest = FLAG_NAMES.get((model, name), name)
    assert dest in parsed, f"no flag for {model.__name__}.{name}"
    default = model.model_fields[name].default
    if (model, name) == (DataConfig, "data_dir"):
        default = str(settings.current().data_dir)
    if (model, name) == (DetectConfig, "detector") and command[0] == "remediate":
        default = RemediateConfig().detect.detector
    assert parsed[dest] == default


def test_detect_flags_in_remediate_default_to_the_remediations_detection():
    assert RemediateConfig().detect == DetectConfig()


def test_the_augmentation_flags_cover_every_switch_and_number():
    parsed = vars(build_parser().parse_args(["train"]))
    assert parsed["augment"] == parsed["no_augment"] == []
    defaults = TrainConfig().augment
    assert run_config_from_args(build_parser().parse_args(["train"])).train.augment == defaults
    off = [name for name in AUGMENTATION_SWITCHES if not getattr(defaults, name)]
    on = [name for name in AUGMENTATION_SWITCHES if getattr(defaults, name)]
    assert off and on
    flipped = build_parser().parse_args(["train", "--augment", *off, "--no-augment", *on])
    augment = run_config_from_args(flipped).train.augment
    assert not any(getattr(augment, name) for name in on)
    assert all(getattr(augment, name) for name in off)
    with pytest.raises(ConfigError) as caught:
        run_config_from_args(
            build_parser().parse_args(["train", "--augment", off[0], "--no-augment", off[0]])
        )
    assert caught.value.parameter == "--augment"
    assert parsed["augment_group"] == TrainConfig().augment.group_size
    for name in AUGMENTATION_NUMBERS:
        flag = flag_for(f"train.augment.{name}")
        assert parsed[flag.removeprefix("--").replace("-", "_")] == getattr(AugmentConfig(), name)
    args = build_parser().parse_args(["train", "--augment-grayscale-p", "0.1"])
    assert run_config_from_args(args).train.augment.grayscale_p == 0.1


@pytest.mark.parametrize(
    ("command", "flag", "value", "message"),
    [
        (["detect", "--run", "0123456789ab"], "--expected-share", "0.9", "must be in (0, 0.6667]"),
        (["detect", "--run", "0123456789ab"], "--barycenter-iter", "0", "must be in [1, 100]"),
        (["remediate", "--run", "0123456789ab"], "--finetune-epochs", "0", "must be in [1, 1000]"),
        (["remediate", "--run", "0123456789ab"], "--exre-threshold", "1", "must be in (0, 1)"),
        (["embed", "--run", "0123456789ab"], "--landmarks", "2", "must be in [3, 256]"),
        (["train"], "--augment-grayscale-p", "2", "must be in [0, 1]"),
    ],
)
def test_out_of_range_values_name_the_flag_and_the_fields_range(
    capsys, tmp_path, command, flag, value, message
):
    code = main([*command, "--models-dir", str(tmp_path), flag, value, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and flag in err and message in err, err


@pytest.mark.parametrize("extra", [["--preset", "table2"], ["--p", "33", "15"]])
def test_a_sweep_s_sticker_flags_reach_every_cell(extra):
    from heatclust_core.cli.sweep import sweep_config_from_args

    argv = ["sweep", *extra, "--sticker-placement", "corners", "--sticker-color", "yellow-green"]
    argv += ["--amp-pattern", "paper"]
    sweep, _ = sweep_config_from_args(build_parser().parse_args(argv))
    attacks = [cell.attack for cell in sweep.cells()]
    assert len(attacks) >= 2
    assert {(a.sticker_placement, a.sticker_color, a.amp_pattern) for a in attacks} == {
        ("corners", "yellow-green", "paper")
    }
    default = sweep_config_from_args(build_parser().parse_args(["sweep", *extra]))[0]
    assert {c.attack.sticker_placement for c in default.cells()} == {"window"}


@pytest.mark.parametrize("extra", [["--preset", "table5"], ["--p", "33", "15"]])
def test_a_sweep_s_head_and_precision_flags_reach_every_cell_and_a_preset_keeps_its_epochs(
    extra,
):
    from heatclust_core.cli.sweep import sweep_config_from_args

    argv = ["sweep", *extra, "--head-pool", "max", "--precision", "mixed"]
    sweep, _ = sweep_config_from_args(build_parser().parse_args(argv))
    trains = [cell.train for cell in sweep.cells()]
    assert len(trains) >= 2
    assert {(t.head_pool, t.precision) for t in trains} == {("max", "mixed")}
    default = sweep_config_from_args(build_parser().parse_args(["sweep", *extra]))[0]
    assert {(c.train.head_pool, c.train.precision) for c in default.cells()} == {
        (TrainConfig().head_pool, TrainConfig().precision)
    }
    # table5's reduced budget is its own 20 epochs, whatever the head.
    assert {t.epochs for t in trains} == {c.train.epochs for c in default.cells()}
