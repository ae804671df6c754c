"""Caveats: said for the amplitude attack while a resampling augmentation is on, else not."""

import pytest

from heatclust_core.attacks.caveats import (
    CHECKERBOARD_BLURRING_AUGMENTATIONS,
    caveats,
    resampling_note,
)
from heatclust_core.config import RunConfig


def _config(kind: str, **augment) -> RunConfig:
    return RunConfig.model_validate(
        {"attack": {"kind": kind, "amp": 64}, "train": {"augment": augment}}
    )


def test_the_amplitude_attack_at_the_defaults_gets_none():
    # Resampling is "auto" by default, which is off for the amplitude attack.
    assert caveats(_config("amplitude")) == []


def test_the_amplitude_attack_with_resampling_switched_on_gets_one_caveat():
    (line,) = caveats(_config("amplitude", resampling="on"))
    for name in CHECKERBOARD_BLURRING_AUGMENTATIONS:
        assert name.replace("_", " ") in line


def test_it_names_only_the_resampling_augmentations_still_on():
    (line,) = caveats(
        _config("amplitude", resampling="on", random_rotation=False, random_affine=False)
    )
    assert "random resized crop" in line
    assert "rotation" not in line and "affine" not in line


def test_without_resampling_augmentations_the_amplitude_attack_gets_none():
    off = dict.fromkeys(CHECKERBOARD_BLURRING_AUGMENTATIONS, False)
    assert caveats(_config("amplitude", resampling="on", **off)) == []


@pytest.mark.parametrize("kind", ["none", "standard", "label-consistent"])
def test_sticker_attacks_get_none(kind):
    assert caveats(_config(kind)) == []


def test_whole_pixel_shifts_and_zero_strengths_do_not_count():
    # RandomAffine without rotation or shear shifts by whole pixels; a 0-deg rotation and a
    # crop of the whole area leave the image as it is.
    still = {
        "resampling": "on",
        "affine_degrees": 0.0,
        "shear": 0.0,
        "rotation": 0.0,
        "crop_scale": 1.0,
    }
    assert caveats(_config("amplitude", **still)) == []
    (line,) = caveats(_config("amplitude", **(still | {"shear": 5.0})))
    assert "random affine" in line and "rotation" not in line and "crop" not in line


def test_the_resampling_note_names_what_is_dropped_and_why_only_where_auto_chose_it():
    assert resampling_note("auto", "standard") is None
    assert resampling_note("on", "amplitude") is None
    auto = resampling_note("auto", "amplitude")
    assert auto.startswith(
        "This run trains without the crop, the rotation and the affine's rotation and shear,"
    )
    assert "amplitude attack's 1-px checkerboard" in auto
    off = resampling_note("off", "label-consistent")
    assert off.startswith("This run trains without the crop") and "checkerboard" not in off
