import pytest

from heatclust_core.config import (
    FIRST_STRENGTHS,
    RESAMPLING_TRANSFORMS,
    STICKER_FIELDS,
    UNHASHED_STICKER,
    AttackConfig,
    AugmentConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    build,
    build_run_config,
    field_bounds,
    from_stored,
)
from heatclust_core.data.synthetic import CLASS_NAMES
from heatclust_core.errors import ConfigError


@pytest.mark.parametrize(
    ("values", "parameter", "fragment"),
    [
        ({"p": 0}, "attack.p", "must be in (0, 100)"),
        ({"p": 150}, "attack.p", "must be in (0, 100), got 150"),
        ({"sticker_size": 40}, "attack.sticker_size", "must be in [1, 10]"),
        ({"amp": 300}, "attack.amp", "must be in [0, 255]"),
        ({"eps": -0.1}, "attack.eps", "must be in [0, 1]"),
        ({"kind": "bogus"}, "attack.kind", "standard"),
    ],
)
def test_bad_attack_values_name_the_parameter_and_range(values, parameter, fragment):
    with pytest.raises(ConfigError) as error:
        build(AttackConfig, values, section="attack")
    assert error.value.parameter == parameter
    assert fragment in error.value.message


def test_nested_training_error_names_the_nested_field():
    with pytest.raises(ConfigError) as error:
        build(TrainConfig, {"augment": {"color_jitter": "maybe"}}, section="train")
    assert error.value.parameter == "train.augment.color_jitter"


def test_unknown_field_is_refused():
    with pytest.raises(ConfigError) as error:
        build(DataConfig, {"datset": "gtsrb"}, section="data")
    assert error.value.parameter == "data.datset"


def test_resolved_fills_default_classes_by_name():
    config = RunConfig().resolved(CLASS_NAMES)
    assert CLASS_NAMES[config.attack.source] == "Speed limit (50km/h)"
    assert CLASS_NAMES[config.attack.target] == "Speed limit (80km/h)"


@pytest.mark.parametrize(
    ("source", "target", "parameter"),
    [(5, 5, "attack.target"), (99, 5, "attack.source"), (2, 43, "attack.target")],
)
def test_resolved_checks_classes_exist_and_differ(source, target, parameter):
    config = RunConfig(attack=AttackConfig(source=source, target=target))
    with pytest.raises(ConfigError) as error:
        config.resolved(CLASS_NAMES)
    assert error.value.parameter == parameter


def test_run_id_depends_only_on_what_changes_the_result():
    base = RunConfig().resolved(CLASS_NAMES)
    same = base.model_copy(update={"attack": base.attack.model_copy(update={"amp": 7, "eps": 0.2})})
    other_p = base.model_copy(update={"attack": base.attack.model_copy(update={"p": 15.0})})
    other_epochs = base.model_copy(update={"train": TrainConfig(epochs=3)})
    assert base.run_id() == same.run_id()  # amp and eps do not affect a standard attack
    assert len({base.run_id(), other_p.run_id(), other_epochs.run_id()}) == 3
    amplitude = base.model_copy(
        update={"attack": base.attack.model_copy(update={"kind": "amplitude"})}
    )
    louder = amplitude.model_copy(
        update={"attack": amplitude.attack.model_copy(update={"amp": 64})}
    )
    assert amplitude.run_id() != louder.run_id()


def test_sticker_fields_enter_the_run_id_only_off_the_sticker_of_before_the_fields():
    """Runs with the sticker every run had before (yellow-green, window) keep their ids; the
    default colour is hashed now that it is yellow."""
    base = RunConfig().resolved(CLASS_NAMES)
    assert base.attack.sticker_color == "yellow"
    assert base.hashed_content()["attack"]["sticker_color"] == "yellow"
    assert "sticker_placement" not in base.hashed_content()["attack"]
    old = base.model_copy(update={"attack": base.attack.model_copy(update=dict(UNHASHED_STICKER))})
    assert not set(STICKER_FIELDS) & old.hashed_content()["attack"].keys()
    cornered = base.model_copy(
        update={"attack": base.attack.model_copy(update={"sticker_placement": "corners"})}
    )
    assert len({base.run_id(), old.run_id(), cornered.run_id()}) == 3
    # The amplitude trigger is a checkerboard at a fixed place: neither field changes it.
    amplitude = base.attack.model_copy(update={"kind": "amplitude"})
    for update in ({"sticker_placement": "corners"}, {"sticker_color": "yellow-green"}):
        assert amplitude.relevant_fields() == amplitude.model_copy(update=update).relevant_fields()


def test_the_amplitude_pattern_enters_the_run_id_only_off_the_checkerboard():
    """Amplitude runs with the checkerboard (the default, and every run's before the field)
    keep their ids and, stored without the field, are read back as it; the paper's code's
    pattern is hashed."""
    base = RunConfig().resolved(CLASS_NAMES)
    amplitude = base.model_copy(
        update={"attack": base.attack.model_copy(update={"kind": "amplitude"})}
    )
    assert amplitude.attack.amp_pattern == "checkerboard"
    assert "amp_pattern" not in amplitude.hashed_content()["attack"]
    paper = amplitude.model_copy(
        update={"attack": amplitude.attack.model_copy(update={"amp_pattern": "paper"})}
    )
    assert paper.hashed_content()["attack"]["amp_pattern"] == "paper"
    assert paper.run_id() != amplitude.run_id()
    stored = paper.attack.model_dump()
    del stored["amp_pattern"]
    assert from_stored(AttackConfig, stored).amp_pattern == "checkerboard"
    # A sticker attack stamps no checkerboard: the field leaves its id alone.
    sticker = base.attack.model_copy(update={"amp_pattern": "paper"})
    assert sticker.relevant_fields() == base.attack.relevant_fields()


def test_the_trigger_label_names_what_differs_between_triggers():
    assert AttackConfig().trigger_label == "s=3 yellow sticker"
    cornered = AttackConfig(
        sticker_size=2, sticker_color="yellow-green", sticker_placement="corners"
    )
    assert cornered.trigger_label == "s=2 yellow-green sticker at the corners"
    amplitude = AttackConfig(kind="amplitude", amp=64, sticker_color="yellow-green")
    assert amplitude.trigger_label == "s=3 checkerboard amp=64"
    paper = amplitude.model_copy(update={"amp_pattern": "paper"})
    assert paper.trigger_label == "s=3 paper pattern amp=64"


def test_run_id_needs_resolved_classes():
    with pytest.raises(ValueError, match="resolved"):
        RunConfig().run_id()


def test_precision_enters_the_run_id_only_when_it_is_not_float32():
    base = RunConfig().resolved(CLASS_NAMES)
    assert base.train.precision == "float32"  # the default
    mixed = base.model_copy(update={"train": TrainConfig(precision="mixed")})
    assert mixed.run_id() != base.run_id()
    # float32 runs keep the ids they had before the field existed.
    assert "precision" not in base.hashed_content()["train"]
    assert "precision" in mixed.hashed_content()["train"]


def test_head_pooling_enters_the_run_id_only_when_it_is_not_average():
    base = RunConfig().resolved(CLASS_NAMES)
    assert base.train.head_pool == "global-max"  # the default
    assert base.hashed_content()["train"]["head_pool"] == "global-max"
    # Average was every run's head before the field: those runs keep their ids.
    legacy = base.model_copy(update={"train": TrainConfig(head_pool="average")})
    assert "head_pool" not in legacy.hashed_content()["train"]
    peak = base.model_copy(update={"train": TrainConfig(head_pool="max")})
    assert peak.hashed_content()["train"]["head_pool"] == "max"
    assert len({base.run_id(), legacy.run_id(), peak.run_id()}) == 3


def test_an_augmentation_strength_enters_the_run_id_only_once_it_changes():
    base = RunConfig().resolved(CLASS_NAMES)
    assert base.train.augment.relevant_fields().keys().isdisjoint(FIRST_STRENGTHS)
    for name, value in FIRST_STRENGTHS.items():
        assert getattr(AugmentConfig(), name) == value  # the defaults are those values
        high = field_bounds(AugmentConfig, name)[1]
        changed = AugmentConfig(**{name: (value + high) / 2})
        update = {"train": base.train.model_copy(update={"augment": changed})}
        assert base.model_copy(update=update).run_id() != base.run_id(), name


def test_resampling_settles_off_for_the_amplitude_attack_alone_and_on_for_the_others():
    amplitude = RunConfig(attack=AttackConfig(kind="amplitude")).resolved(CLASS_NAMES)
    augment = amplitude.train.augment
    assert augment.resampling == "off"
    assert not augment.random_resized_crop and not augment.random_rotation
    assert augment.random_affine and augment.shear == 0 and augment.affine_degrees == 0
    # Its id is that of the same switches set by hand (so one cached network for both).
    by_hand = AugmentConfig(random_resized_crop=False, random_rotation=False, shear=0.0)
    update = {"train": TrainConfig(augment=by_hand.model_copy(update={"resampling": "on"}))}
    assert amplitude.model_copy(update=update).run_id() == amplitude.run_id()
    # Settling twice changes nothing; the surrogate of the attack trains the same way.
    assert amplitude.resolved(CLASS_NAMES) == amplitude
    for kind in ("none", "standard", "label-consistent"):
        sticker = RunConfig(attack=AttackConfig(kind=kind)).resolved(CLASS_NAMES)
        assert sticker.train.augment == AugmentConfig(resampling="on"), kind
    # The default run keeps its id: "resampling" is never hashed.
    assert (
        "resampling" not in RunConfig().resolved(CLASS_NAMES).hashed_content()["train"]["augment"]
    )


def test_settling_resampling_off_leaves_none_of_the_transforms_that_resample():
    # One list says which transforms resample and how each is switched off; the caveats read it.
    every = [transform.name for transform in RESAMPLING_TRANSFORMS]
    assert AugmentConfig().resampling_transforms() == every
    assert AugmentConfig().settled("amplitude").resampling_transforms() == []
    assert AugmentConfig(resampling="off").settled("standard").resampling_transforms() == []
    assert AugmentConfig().settled("standard").resampling_transforms() == every
    # What stays on once settled off moves by whole pixels only: the affine's shifts.
    settled = AugmentConfig().settled("amplitude")
    assert settled.random_affine and settled.translate == AugmentConfig().translate


def test_resampling_switched_on_keeps_the_amplitude_attack_s_transforms_and_off_drops_any():
    on = RunConfig(
        attack=AttackConfig(kind="amplitude"),
        train=TrainConfig(augment=AugmentConfig(resampling="on")),
    ).resolved(CLASS_NAMES)
    assert on.train.augment.random_resized_crop and on.train.augment.shear == 5.0
    off = RunConfig(train=TrainConfig(augment=AugmentConfig(resampling="off"))).resolved(
        CLASS_NAMES
    )
    assert not off.train.augment.random_resized_crop and not off.train.augment.random_rotation
    assert off.run_id() != RunConfig().resolved(CLASS_NAMES).run_id()
    assert (
        on.run_id()
        != RunConfig(attack=AttackConfig(kind="amplitude")).resolved(CLASS_NAMES).run_id()
    )


def test_a_config_stored_before_resampling_and_the_head_field_reads_back_as_it_trained():
    stored = RunConfig(attack=AttackConfig(kind="amplitude")).model_dump()
    del stored["train"]["augment"]["resampling"], stored["train"]["head_pool"]
    read = from_stored(RunConfig, stored)
    # Every run before the fields resampled and averaged to 2 x 2, whatever the attack.
    assert read.train.augment.resampling == "on" and read.train.head_pool == "average"
    assert read.resolved(CLASS_NAMES).train.augment.random_resized_crop
    assert RunConfig.model_validate(stored).train.augment.resampling == "auto"


def test_sign_noise_enters_the_run_id_only_when_it_is_on():
    base = RunConfig(attack=AttackConfig(kind="amplitude")).resolved(CLASS_NAMES)

    def with_augment(**values):
        augment = base.train.augment.model_copy(update=values)
        return base.model_copy(update={"train": base.train.model_copy(update={"augment": augment})})

    # Off (every run's before the field), its numbers change nothing.
    assert "sign_noise" not in base.hashed_content()["train"]["augment"]
    assert with_augment(noise_amplitude=0.2, noise_share=0.9).run_id() == base.run_id()
    noised = with_augment(sign_noise=True)
    assert noised.run_id() != base.run_id()
    assert with_augment(sign_noise=True, noise_amplitude=0.2).run_id() != noised.run_id()
    assert with_augment(sign_noise=True, noise_share=0.9).run_id() != noised.run_id()


def test_the_surrogate_trains_with_the_runs_augmentation_but_not_its_sign_noise():
    from heatclust_core.pipeline import surrogate_config

    shifts = AugmentConfig(random_resized_crop=False, random_rotation=False, shear=0)
    noised = shifts.model_copy(update={"sign_noise": True})
    attack = AttackConfig(kind="amplitude")
    plain = RunConfig(attack=attack, train=TrainConfig(augment=shifts)).resolved(CLASS_NAMES)
    victim = RunConfig(attack=attack, train=TrainConfig(augment=noised)).resolved(CLASS_NAMES)
    assert surrogate_config(victim).train.augment == shifts.settled("amplitude")
    # One surrogate for both: the noise is the victim's, like its adversarial training.
    assert surrogate_config(victim).run_id() == surrogate_config(plain).run_id()
    assert victim.run_id() != plain.run_id()


def test_run_config_from_sections_seeds_training_with_the_attack_seed():
    config = build_run_config(
        {"images_per_class": 40}, {"kind": "standard", "p": 15, "seed": 7}, {"epochs": 3}
    )
    assert config.data.images_per_class == 40
    assert (config.attack.p, config.attack.seed) == (15, 7)
    assert (config.train.epochs, config.train.seed) == (3, 7)


@pytest.mark.parametrize(
    "sections, parameter",
    [
        (({"images_per_class": 5}, {}, {}), "data.images_per_class"),
        (({}, {"p": 0}, {}), "attack.p"),
        (({}, {}, {"augment": {"group_size": 0}}), "train.augment.group_size"),
    ],
)
def test_run_config_from_sections_names_the_dotted_parameter(sections, parameter):
    with pytest.raises(ConfigError) as error:
        build_run_config(*sections)
    assert error.value.parameter == parameter


def test_a_robust_surrogate_changes_the_surrogate_and_the_attacked_run_but_not_others():
    from heatclust_core.pipeline import surrogate_config

    standard = RunConfig(attack=AttackConfig(kind="label-consistent")).resolved(CLASS_NAMES)
    robust = standard.model_copy(
        update={"attack": standard.attack.model_copy(update={"surrogate_eps": 0.03})}
    )
    assert surrogate_config(robust).train.adversarial_eps == 0.03
    assert surrogate_config(standard).train.adversarial_eps == 0.0
    assert surrogate_config(robust).run_id() != surrogate_config(standard).run_id()
    assert robust.run_id() != standard.run_id()
    # Fields left at 0 are not hashed: ids from before they existed stay valid.
    assert "surrogate_eps" not in standard.hashed_content()["attack"]
    assert "adversarial_eps" not in standard.hashed_content()["train"]
    # A standard attack has no surrogate: the field changes nothing.
    sticker = RunConfig().resolved(CLASS_NAMES)
    with_field = sticker.model_copy(
        update={"attack": sticker.attack.model_copy(update={"surrogate_eps": 0.03})}
    )
    assert with_field.run_id() == sticker.run_id()
