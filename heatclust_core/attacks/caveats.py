"""What the embedded data's measurements say a configuration will not show, before it trains.

A caveat is a measured fact about a setting, said where the setting is chosen (the Attack page,
`train`), so that a run that cannot show the effect its user is after is not a surprise
minutes later.
"""

from __future__ import annotations

from heatclust_core.config import RESAMPLING_TRANSFORMS, Resampling, RunConfig, resampling_off

# The transforms that resample (config.RESAMPLING_TRANSFORMS) blur the amplitude trigger's
# 1-px checkerboard and shift its phase every epoch. On the embedded data (seed 0, p = 33 %, the
# global-max head; README "The amplitude attack trains without resampling") amp 128 gave MASR
# 0.039 with them and 0.988 without. `AugmentConfig.resampling` "auto" switches them off for
# this attack, so the caveat is said only where a user switched them back on.
CHECKERBOARD_BLURRING_AUGMENTATIONS: tuple[str, ...] = tuple(
    transform.name for transform in RESAMPLING_TRANSFORMS
)


def _spoken(words: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def resampling_note(resampling: Resampling, attack_kind: str) -> str | None:
    """The line said under the augmentation switches when a run of `attack_kind` trains without
    the resampling transforms whatever they say, with the reason where "auto" chose it; None
    when it trains with them."""
    if not resampling_off(resampling, attack_kind):
        return None
    why = (
        " (auto: they would blur the amplitude attack's 1-px checkerboard away)"
        if resampling == "auto"
        else ""
    )
    dropped = _spoken([transform.described for transform in RESAMPLING_TRANSFORMS])
    return (
        f"This run trains without {dropped}, whatever their switches say{why}. Whole-pixel "
        "shifts stay; resampling on keeps them."
    )


def caveats(config: RunConfig) -> list[str]:
    """One line per measured reason the attack of `config` is unlikely to take hold."""
    lines = []
    if config.attack.kind == "amplitude":
        blurring = config.train.augment.settled("amplitude").resampling_transforms()
        if blurring:
            listed = _spoken([name.replace("_", " ") for name in blurring])
            lines.append(
                f"the amplitude trigger is a 1-px checkerboard that {listed} resample every "
                "epoch: on the embedded data it did not take hold with them "
                "(amp 128: MASR 0.04) and did without them (MASR 0.99, at the same clean "
                "accuracy); set resampling to auto to see the attack"
            )
    return lines
