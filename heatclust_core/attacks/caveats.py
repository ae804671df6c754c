"""What the embedded data's measurements say a configuration will not show, before it trains.

A caveat is a measured fact about a setting, said where the setting is chosen (the Attack page,
`train`), so that a run that cannot show the effect its user is after is not a surprise
minutes later.
"""

from __future__ import annotations

from collections.abc import Callable

from heatclust_core.config import AugmentConfig, RunConfig

# Resampling augmentations: each moves the image by fractions of a pixel and interpolates,
# which blurs a 1-px checkerboard and shifts its phase, so the amplitude trigger the network
# sees changes every epoch. On the embedded data (seed 0, p = 33 %, the global-max head;
# README "The amplitude attack trains without resampling") amp 128 gave MASR 0.039 with them
# and 0.988 without. `AugmentConfig.resampling` "auto" switches them off for this attack, so
# the caveat is said only where a user switched them back on. Each is named with the strengths
# under which it moves by fractions of a pixel: RandomAffine's shifts are whole pixels
# (torchvision rounds them), so an affine without rotation or shear keeps the checkerboard; a
# rotation of 0 deg does nothing; a crop of the whole area is the whole image (torchvision
# falls back to it for any ratio).
_RESAMPLES: dict[str, Callable[[AugmentConfig], bool]] = {
    "random_resized_crop": lambda augment: augment.crop_scale < 1,
    "random_rotation": lambda augment: augment.rotation > 0,
    "random_affine": lambda augment: augment.affine_degrees > 0 or augment.shear > 0,
}
CHECKERBOARD_BLURRING_AUGMENTATIONS: tuple[str, ...] = tuple(_RESAMPLES)


def resampling_augmentations(augment: AugmentConfig) -> list[str]:
    """Those of CHECKERBOARD_BLURRING_AUGMENTATIONS that are on at strengths that resample."""
    return [
        name
        for name, resamples in _RESAMPLES.items()
        if getattr(augment, name) and resamples(augment)
    ]


def caveats(config: RunConfig) -> list[str]:
    """One line per measured reason the attack of `config` is unlikely to take hold."""
    lines = []
    if config.attack.kind == "amplitude":
        blurring = resampling_augmentations(config.train.augment.settled("amplitude"))
        if blurring:
            words = [name.replace("_", " ") for name in blurring]
            listed = ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]
            lines.append(
                f"the amplitude trigger is a 1-px checkerboard that {listed} resample every "
                "epoch: on the embedded data it did not take hold with them "
                "(amp 128: MASR 0.04) and did without them (MASR 0.99, at the same clean "
                "accuracy); set resampling to auto to see the attack"
            )
    return lines
