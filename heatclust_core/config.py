"""Typed, validated configurations of a run: data set, attack and training.

Every value is checked once, here, when a config is built; an out-of-range value raises
`ConfigError` naming the parameter and its allowed range. A resolved `RunConfig` (source and
target class ids filled in) hashes to the run id under which its results are cached.

Long because it is the one home of every run parameter (its default, range and help) and of
the helpers that read a field's type, choices and help for the command line and the pages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar, get_args

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from heatclust_core.errors import ConfigError

AttackKind = Literal["none", "standard", "label-consistent", "amplitude"]
ATTACK_KINDS: tuple[str, ...] = get_args(AttackKind)
DatasetName = Literal["synthetic", "gtsrb"]

DEFAULT_SOURCE_NAME = "Speed limit (50km/h)"
DEFAULT_TARGET_NAME = "Speed limit (80km/h)"
# Seeds go to numpy, torch and scikit-learn; the last takes at most 2**32 - 1.
SEED_MAX = 2**31 - 1
# Side lengths (rows, columns) of the central window the standard sticker is placed in.
TRIGGER_WINDOW = (10, 15)
StickerPlacement = Literal["window", "corners"]
StickerColor = Literal["yellow-green", "yellow"]
# The AttackConfig fields that describe the sticker beyond its size.
STICKER_FIELDS = ("sticker_placement", "sticker_color")
# The sticker every run had before these fields existed. Run ids hash a field only when it differs
# from this value (not from the default, which has since changed), so every cached run keeps its id;
# and a file written before the fields existed is read with it (see `from_stored`).
UNHASHED_STICKER = {"sticker_placement": "window", "sticker_color": "yellow-green"}
AmplitudePattern = Literal["checkerboard", "paper"]
# How the network's head pools the Inception module's map (training/network.py).
HeadPool = Literal["average", "max", "global-max"]
# Whether the augmentations that move pixels by fractions of a pixel run (AugmentConfig).
Resampling = Literal["auto", "on", "off"]
# The resampling every run had before `resampling` existed: read back as UNHASHED_STICKER is.
UNHASHED_RESAMPLING = "on"


def resampling_off(resampling: Resampling, attack_kind: str) -> bool:
    """Whether a run of `attack_kind` trains without the resampling transforms."""
    return resampling == "off" or (resampling == "auto" and attack_kind == "amplitude")


# The amplitude trigger every run had before `amp_pattern` existed (and the default): hashed
# and read back as UNHASHED_STICKER is, so a change of default keeps every run's id.
UNHASHED_AMP_PATTERN = "checkerboard"
# The trigger's fields beyond its size: one value for every cell of a sweep, not an axis.
SHARED_TRIGGER_FIELDS = (*STICKER_FIELDS, "amp_pattern")
# The network's build beside its budget: one value for every cell of a sweep (a preset keeps
# its own epochs but takes these).
SHARED_TRAIN_FIELDS = ("precision", "head_pool")


_STORED = "stored"
ConfigT = TypeVar("ConfigT", bound=BaseModel)


def from_stored(model: type[ConfigT], stored: Any) -> ConfigT:
    """`model` validated from a dump read from disk (a run's, a sweep's or a job's config),
    which may predate fields whose default has changed since: those take the value they had."""
    return model.model_validate(stored, context={_STORED: True})


class BaseConfig(BaseModel):
    """Frozen, no unknown fields, defaults validated too."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class DataConfig(BaseConfig):
    dataset: DatasetName = "synthetic"
    data_dir: str = Field("data", min_length=1, description="dataset folder (GTSRB lives in it)")
    images_per_class: int = Field(
        300,
        ge=20,
        le=5000,
        description="synthetic images per class on average (classes as imbalanced as GTSRB's)",
    )
    seed: int = Field(0, ge=0, le=SEED_MAX, description="seed of the synthetic set and split")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="synthetic test share")

    @field_validator("data_dir")
    @classmethod
    def _normalised(cls, value: str) -> str:
        # "data", "data/" and "./data" are one folder, so one run id.
        return os.path.normpath(os.path.expanduser(value))

    def relevant_fields(self) -> dict[str, Any]:
        """What the run id hashes. The synthetic set is the same in any folder but changes with
        its generator's version; a GTSRB copy is identified by its (normalised) folder."""
        if self.dataset != "synthetic":
            return self.model_dump()
        from heatclust_core.data.synthetic import GENERATOR_VERSION

        return self.model_dump(exclude={"data_dir"}) | {"generator": GENERATOR_VERSION}


class AttackConfig(BaseConfig):
    kind: AttackKind = "standard"
    source: int | None = Field(None, ge=0, description="source class id (standard attack)")
    target: int | None = Field(None, ge=0, description="target class id")
    p: float = Field(33.0, gt=0, lt=100, description="poisoned share of the target class, %")
    sticker_size: int = Field(3, ge=1, le=min(TRIGGER_WINDOW), description="sticker side, px")
    sticker_placement: StickerPlacement = Field(
        "window",
        description="window: the sticker anywhere in the central 10 x 15 window (the spec); "
        "corners: at one of the window's four corners, as the paper's code placed it (it drew "
        "each coordinate from the window's two ends)",
    )
    sticker_color: StickerColor = Field(
        "yellow",
        description="yellow: the paper's code's (245, 255, 0); yellow-green: the paper's text's "
        "and the spec's (154, 205, 50), which is learnt slowly on the embedded data",
    )
    amp: int = Field(128, ge=0, le=255, description="amplitude of the reduced sticker")
    amp_pattern: AmplitudePattern = Field(
        "checkerboard",
        description="signs of the amplitude trigger's pixels. checkerboard: alternating, +amp "
        "at the corners (the spec); paper: the paper's code's, the checkerboard with its "
        "top-left pixel lowered too (s = 3: +amp on 4 pixels, -amp on 5)",
    )
    eps: float = Field(
        0.075,
        ge=0,
        le=1,
        description="PGD L-inf budget, pixel scale 0..1 (5 x 0.015 as the paper ran it)",
    )
    surrogate_eps: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="L-inf budget of the surrogate's adversarial training, pixel scale 0..1 "
        "(0 = a standard surrogate)",
    )
    pgd_target: Literal["untargeted", "random"] = Field(
        "untargeted",
        description="untargeted: away from the true class (the paper); random: toward a "
        "random other class per image",
    )
    pgd_steps: int = Field(5, ge=1, le=1000, description="PGD iterations")
    pgd_step_size: float = Field(0.015, gt=0, le=1, description="PGD step, pixel scale 0..1")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="seed of the attack and of training")

    @model_validator(mode="before")
    @classmethod
    def _written_before_the_sticker_fields(cls, data: Any, info: ValidationInfo) -> Any:
        # A stored dump holds every field its writer had: one without these fields was written
        # when every sticker was yellow-green in the window, not the default of today.
        if isinstance(data, dict) and (info.context or {}).get(_STORED):
            return {**UNHASHED_STICKER, "amp_pattern": UNHASHED_AMP_PATTERN, **data}
        return data

    @property
    def uses_pgd(self) -> bool:
        return self.kind in ("label-consistent", "amplitude")

    @property
    def trigger_label(self) -> str:
        """The trigger in a few words, for titles: "s=3 yellow sticker", "s=3 yellow-green
        sticker at the corners", "s=3 checkerboard amp=128"."""
        if self.kind == "amplitude":
            pattern = "checkerboard" if self.amp_pattern == "checkerboard" else "paper pattern"
            return f"s={self.sticker_size} {pattern} amp={self.amp}"
        where = " at the corners" if self.sticker_placement == "corners" else ""
        return f"s={self.sticker_size} {self.sticker_color} sticker{where}"

    def relevant_fields(self) -> dict[str, Any]:
        """The fields that change the attacked data for this kind (the others are not hashed)."""
        # A clean run keeps the evaluation trigger's fields: its ASR is measured with them.
        keep = {"kind", "source", "target", "sticker_size", "seed"}
        if self.kind != "amplitude":  # its trigger is a checkerboard at a fixed place
            keep |= {
                name for name in STICKER_FIELDS if getattr(self, name) != UNHASHED_STICKER[name]
            }
        if self.kind == "none":
            return self.model_dump(include=keep)
        keep.add("p")
        if self.uses_pgd:
            keep |= {"eps", "pgd_steps", "pgd_step_size"}
            if self.surrogate_eps > 0:  # runs against a standard surrogate keep their ids
                keep.add("surrogate_eps")
            if self.pgd_target != "untargeted":
                keep.add("pgd_target")
        if self.kind == "amplitude":
            keep.add("amp")
            if self.amp_pattern != UNHASHED_AMP_PATTERN:
                keep.add("amp_pattern")
        return self.model_dump(include=keep)


class AugmentConfig(BaseConfig):
    """torchvision's transforms, in this order, each switchable, with their strengths, and
    random sign noise after them (ours; off by default). The paper's code ran
    RandomResizedCrop(scale 0.6-1, ratio 3/4-4/3), RandomRotation(15), ColorJitter(0.1, 0.1,
    0.1, hue 0.1), RandomAffine(15) and RandomGrayscale(p 0.1)."""

    random_resized_crop: bool = True
    random_rotation: bool = True
    # Off by default: they recolour the sticker every epoch, and on the embedded data the
    # yellow sticker's networks without them detected at least as well (README, "The yellow
    # sticker and the colour augmentations").
    color_jitter: bool = False
    random_affine: bool = True
    random_grayscale: bool = False
    # Off by default: a label-consistent poison carries its PGD change on every pixel, and a
    # network can learn that change instead of the trigger; noise of the same size on clean
    # images takes it away as a feature (README, "Sign noise as an augmentation").
    sign_noise: bool = Field(
        False,
        description="random +- noise on every pixel of a share of the training images, after "
        "the other transforms (the surrogate trains without it)",
    )
    normalize: bool = True
    # Auto turns them off for the amplitude attack alone: its trigger is a 1-px checkerboard,
    # which they blur and shift by fractions of a pixel every epoch, so on the embedded data no
    # amplitude backdoor took hold with them (amp 128: MASR 0.04) and one did without them
    # (README, "The amplitude attack trains without resampling"). The sticker attacks keep
    # them: with the 2 x 2 head their backdoors were stronger with them than with shifts alone,
    # and their networks more accurate than without any (README, sixteenth session).
    resampling: Resampling = Field(
        "auto",
        title="Resampling transforms",
        description="the crop, the rotation and the affine's rotation and shear, which move "
        "pixels by fractions of a pixel: on, off (whole-pixel shifts stay), or auto (off for "
        "the amplitude attack, whose 1-px checkerboard they blur away; on otherwise)",
    )
    crop_scale: float = Field(
        0.8,
        title="Smallest crop (area)",
        gt=0,
        le=1,
        description="RandomResizedCrop: smallest crop, share of the image's area",
    )
    crop_ratio_min: float = Field(
        0.9,
        title="Crop aspect ratio from",
        gt=0,
        le=1,
        description="RandomResizedCrop: smallest aspect ratio of a crop",
    )
    crop_ratio_max: float = Field(
        1.1,
        title="Crop aspect ratio to",
        ge=1,
        le=4,
        description="RandomResizedCrop: largest aspect ratio of a crop",
    )
    rotation: float = Field(
        10.0,
        title="Rotation, deg",
        ge=0,
        le=180,
        description="RandomRotation: largest angle, degrees",
    )
    brightness: float = Field(
        0.3,
        title="Brightness jitter",
        ge=0,
        le=1,
        description="ColorJitter: brightness factor drawn from 1 +- this",
    )
    contrast: float = Field(
        0.3,
        title="Contrast jitter",
        ge=0,
        le=1,
        description="ColorJitter: contrast factor drawn from 1 +- this",
    )
    saturation: float = Field(
        0.3,
        title="Saturation jitter",
        ge=0,
        le=1,
        description="ColorJitter: saturation factor drawn from 1 +- this",
    )
    # ColorJitter's hue shift converts every image to HSV and back: 6 of the 18 ms that
    # augmenting a 64-image batch takes on a 2-core CPU, for shifts of a few degrees.
    hue: float = Field(
        0.0,
        title="Hue jitter",
        ge=0,
        le=0.5,
        description="ColorJitter's hue range (0 = no shift)",
    )
    affine_degrees: float = Field(
        0.0,
        title="Affine rotation, deg",
        ge=0,
        le=180,
        description="RandomAffine: largest rotation, degrees",
    )
    translate: float = Field(
        0.06,
        title="Affine shift",
        ge=0,
        le=0.5,
        description="RandomAffine: largest shift, share of the side",
    )
    shear: float = Field(
        5.0,
        title="Affine shear, deg",
        ge=0,
        le=45,
        description="RandomAffine: largest shear, degrees",
    )
    grayscale_p: float = Field(
        0.05,
        title="Grayscale probability",
        ge=0,
        le=1,
        description="RandomGrayscale: probability",
    )
    noise_amplitude: float = Field(
        AttackConfig.model_fields["eps"].default,
        title="Noise amplitude",
        ge=0,
        le=0.5,
        description="sign noise: +- this on every pixel of a noised image, pixel scale 0..1 "
        "(the default is the PGD budget's)",
    )
    noise_share: float = Field(
        0.5,
        title="Noised share",
        gt=0,
        le=1,
        description="sign noise: share of the training images given it, each drawn anew",
    )
    group_size: int = Field(
        8,
        title="Images per augmentation draw",
        ge=1,
        le=256,
        description="samples sharing one draw of augmentation parameters (larger groups are "
        "faster on CPU)",
    )

    @model_validator(mode="before")
    @classmethod
    def _written_before_resampling(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and (info.context or {}).get(_STORED):
            return {"resampling": UNHASHED_RESAMPLING, **data}
        return data

    def settled(self, attack_kind: str) -> AugmentConfig:
        """This augmentation as a run of `attack_kind` trains with it: `resampling` is "on" or
        "off", and when off each of RESAMPLING_TRANSFORMS gets its `switched_off` update, so
        the run id is that of the same switches set by hand."""
        if not resampling_off(self.resampling, attack_kind):
            return self.model_copy(update={"resampling": "on"})
        update: dict[str, Any] = {"resampling": "off"}
        for transform in RESAMPLING_TRANSFORMS:
            update |= transform.switched_off
        return self.model_copy(update=update)

    def resampling_transforms(self) -> list[str]:
        """Names of the RESAMPLING_TRANSFORMS this augmentation runs at strengths that move
        pixels by fractions of a pixel."""
        return [transform.name for transform in RESAMPLING_TRANSFORMS if transform.resamples(self)]

    def relevant_fields(self) -> dict[str, Any]:
        """What the run id hashes: a strength at the value it had before it was a field, and the
        noise's numbers while it is off, are left out, so the runs trained then keep their ids.
        `resampling` is never hashed: a settled config carries its effect in the switches."""
        unchanged = {"resampling"} | {
            name
            for name, value in (FIRST_STRENGTHS | ADDED_LATER).items()
            if getattr(self, name) == value
        }
        if not self.sign_noise:
            unchanged |= {"noise_amplitude", "noise_share"}
        return self.model_dump(exclude=unchanged)


# The strengths written into the transforms before they were fields.
FIRST_STRENGTHS = {
    "crop_scale": 0.8,
    "crop_ratio_min": 0.9,
    "crop_ratio_max": 1.1,
    "rotation": 10.0,
    "brightness": 0.3,
    "contrast": 0.3,
    "saturation": 0.3,
    "affine_degrees": 0.0,
    "translate": 0.06,
    "shear": 5.0,
    "grayscale_p": 0.05,
}
# Fields added after runs had been trained, at the values those runs had (no noise).
ADDED_LATER = {"sign_noise": False, "noise_amplitude": 0.075, "noise_share": 0.5}
# The augmentation of the paper's code, for comparison (README).
PAPER_AUGMENTATION = AugmentConfig(
    color_jitter=True,
    random_grayscale=True,
    crop_scale=0.6,
    crop_ratio_min=3 / 4,
    crop_ratio_max=4 / 3,
    rotation=15.0,
    brightness=0.1,
    contrast=0.1,
    saturation=0.1,
    hue=0.1,
    affine_degrees=15.0,
    translate=0.0,
    shear=0.0,
    grayscale_p=0.1,
)


# The on/off switches of AugmentConfig (its other fields are numbers).
AUGMENTATION_SWITCHES: tuple[str, ...] = tuple(
    name for name, field in AugmentConfig.model_fields.items() if field.annotation is bool
)
# Its other fields: resampling, the strengths and the draw's group size.
AUGMENTATION_NUMBERS: tuple[str, ...] = tuple(
    name for name, field in AugmentConfig.model_fields.items() if field.annotation is not bool
)


@dataclasses.dataclass(frozen=True)
class ResamplingTransform:
    """An augmentation that can move pixels by fractions of a pixel and interpolate, which blurs
    a 1-px checkerboard and shifts its phase (the amplitude trigger then changes every epoch).

    resamples: whether it does so at a config's switches and strengths; switched_off: the
    AugmentConfig update that stops it (`AugmentConfig.settled` with resampling off);
    described: what that update switches off, in words."""

    name: str
    resamples: Callable[[AugmentConfig], bool]
    switched_off: dict[str, Any]
    described: str


# The one list of them. RandomAffine's shifts are whole pixels (torchvision rounds them), so an
# affine without rotation or shear keeps the checkerboard and only those two are zeroed; a
# rotation of 0 deg does nothing; a crop of the whole area is the whole image (torchvision falls
# back to it for any ratio).
RESAMPLING_TRANSFORMS: tuple[ResamplingTransform, ...] = (
    ResamplingTransform(
        "random_resized_crop",
        lambda augment: augment.random_resized_crop and augment.crop_scale < 1,
        {"random_resized_crop": False},
        "the crop",
    ),
    ResamplingTransform(
        "random_rotation",
        lambda augment: augment.random_rotation and augment.rotation > 0,
        {"random_rotation": False},
        "the rotation",
    ),
    ResamplingTransform(
        "random_affine",
        lambda augment: augment.random_affine and (augment.affine_degrees > 0 or augment.shear > 0),
        {"affine_degrees": 0.0, "shear": 0.0},
        "the affine's rotation and shear",
    ),
)


class TrainConfig(BaseConfig):
    epochs: int = Field(
        40, ge=1, le=1000, description="maximum training epochs (the paper trains 100)"
    )
    patience: int = Field(20, ge=1, le=1000, description="early-stopping patience, epochs")
    batch_size: int = Field(64, ge=2, le=4096, description="images per Adam step")
    lr: float = Field(1e-3, gt=0, le=1, description="Adam learning rate")
    val_fraction: float = Field(0.1, gt=0, lt=0.5, description="validation share of train")
    augment: AugmentConfig = AugmentConfig()
    seed: int = Field(0, ge=0, le=SEED_MAX)
    adversarial_eps: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="fast adversarial training (one FGSM step from a random start) in this "
        "L-inf ball, pixel scale 0..1; 0 = standard training",
    )
    # float32 by default: at p = 15 % Heatmap Clustering found the poisons of a float32
    # network (ACC 0.95) but not of two mixed-precision ones (0.79, 0.77), and on a CPU without
    # AMX a bfloat16 step is no faster (66.5 against 66.7 ms for 64 images, 2-core Xeon with
    # AVX512-BF16). With AMX a bfloat16 step is ~1.9x faster: opt in with "mixed".
    precision: Literal["float32", "mixed"] = Field(
        "float32",
        description="mixed: bfloat16 autocast where the device has it natively (float16 with "
        "loss scaling on GPUs without bfloat16), else float32",
    )

    # Global max by default: a 2 x 2 head learns the sticker once per quadrant it was seen
    # in, so at p = 5 % the backdoor read 0.14-0.91 by position (ASR 0.64); pooled to 1 x 1 it
    # reads 0.68-1.00 (ASR 0.93), and HC found the poisons at least as well at every p
    # measured (README, "A head that reads the trigger wherever it sits").
    head_pool: HeadPool = Field(
        "global-max",
        title="Head pooling",
        description="how the head pools the Inception module's 8 x 8 map: global-max to "
        "1 x 1, which reads a trigger the same wherever it sits (the paper's network "
        "max-pools down to 1 x 1), or average or max to 2 x 2 (average: every run's before "
        "the twenty-third session; max keeps a small trigger's response undiluted)",
    )

    @model_validator(mode="before")
    @classmethod
    def _written_before_the_head_field(cls, data: Any, info: ValidationInfo) -> Any:
        # A dump without `head_pool` was written when every network averaged to 2 x 2.
        if isinstance(data, dict) and (info.context or {}).get(_STORED):
            return {"head_pool": "average", **data}
        return data

    def relevant_fields(self) -> dict[str, Any]:
        """What the run id hashes: runs keep the ids they had before `precision` and
        `head_pool` existed (float32, average), whatever the defaults are now."""
        excluded = {"augment"}
        if self.precision == "float32":
            excluded.add("precision")
        if self.head_pool == "average":
            excluded.add("head_pool")
        if self.adversarial_eps == 0:
            excluded.add("adversarial_eps")
        return self.model_dump(exclude=excluded) | {"augment": self.augment.relevant_fields()}


RemovalMode = Literal["retrain", "finetune"]
REMOVAL_MODES: tuple[str, ...] = get_args(RemovalMode)
REMOVAL_MODE_TITLES = {
    "retrain": "retrain from scratch",
    "finetune": "fine-tune the attacked network",
}


class RemovalConfig(BaseConfig):
    """A cleaned run: the attacked run's training pool without the samples a detector flagged,
    trained from scratch ("retrain") or from the attacked network's weights ("finetune")."""

    source_run: str = Field(pattern=r"^[0-9a-f]{12}$", description="the attacked run's id")
    detection: str = Field(description="name of the detection whose flags are removed")
    removed: tuple[int, ...] = Field(description="pool indices of the removed samples")
    mode: RemovalMode = "retrain"


class RunConfig(BaseConfig):
    data: DataConfig = DataConfig()
    attack: AttackConfig = AttackConfig()
    train: TrainConfig = TrainConfig()
    removal: RemovalConfig | None = None

    def resolved(self, class_names: tuple[str, ...]) -> RunConfig:
        """Fill in default source/target by class name and check both against the class list;
        settle the augmentation's `resampling` for the attack."""
        attack = self.attack
        source = attack.source if attack.source is not None else _class_id(class_names, "source")
        target = attack.target if attack.target is not None else _class_id(class_names, "target")
        n = len(class_names)
        for name, value in (("source", source), ("target", target)):
            if not 0 <= value < n:
                raise ConfigError(
                    f"attack.{name}", f"class id must be in [0, {n - 1}], got {value}"
                )
        if source == target:
            raise ConfigError("attack.target", f"must differ from source (both are class {target})")
        train = self.train.model_copy(update={"augment": self.train.augment.settled(attack.kind)})
        attack = attack.model_copy(update={"source": source, "target": target})
        return self.model_copy(update={"attack": attack, "train": train})

    def hashed_content(self) -> dict[str, Any]:
        content = {
            "data": self.data.relevant_fields(),
            "attack": self.attack.relevant_fields(),
            "train": self.train.relevant_fields(),
        }
        if self.removal is not None:  # attacked runs keep their ids
            content["removal"] = self.removal.model_dump()
        return content

    def run_id(self) -> str:
        """12 hex digits of the SHA-256 of the canonical JSON of what determines the result."""
        if self.attack.kind != "none" and (
            self.attack.source is None or self.attack.target is None
        ):
            raise ValueError("run_id needs a resolved config (call resolved() first)")
        canonical = json.dumps(self.hashed_content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


class ResolvedRunConfig(RunConfig):
    """A RunConfig settled against its data once (by `pipeline.resolve`): source and target are
    class ids of the data set, and its pool holds the `n_poisoned` samples the attack changes.

    Same fields, dump and run id as the RunConfig; code downstream takes the count from here
    instead of checking the data again. A copy with changes is a plain RunConfig, to be
    settled anew."""

    _n_poisoned: int = PrivateAttr(0)

    @classmethod
    def settled(cls, config: RunConfig, n_poisoned: int) -> ResolvedRunConfig:
        resolved = cls(**dict(config))
        resolved._n_poisoned = n_poisoned
        return resolved

    @property
    def n_poisoned(self) -> int:
        return self._n_poisoned

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> RunConfig:
        copy = super().model_copy(update=update, deep=deep)
        if not update:
            return copy
        return RunConfig(**dict(copy))


def _class_id(class_names: tuple[str, ...], role: str) -> int:
    wanted = DEFAULT_SOURCE_NAME if role == "source" else DEFAULT_TARGET_NAME
    if wanted in class_names:
        return class_names.index(wanted)
    raise ConfigError(
        f"attack.{role}", f"no class named {wanted!r} in this data set; give a class id"
    )


def build(model: type[ConfigT], values: dict[str, Any], section: str = "") -> ConfigT:
    """Validate `values` into `model`, turning the first pydantic error into a ConfigError.

    The error's parameter is the dotted path of the field, prefixed by `section` if given.
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        # A check across fields raises the ConfigError that names the parameter to change.
        if isinstance(cause := error.get("ctx", {}).get("error"), ConfigError):
            parameter = f"{section}.{cause.parameter}" if section else cause.parameter
            raise ConfigError(parameter, cause.message) from None
        loc = tuple(str(part) for part in error["loc"])
        allowed = allowed_range(model, loc)
        message = f"{allowed}, got {error['input']!r}" if allowed else error["msg"]
        raise ConfigError(".".join((section, *loc) if section else loc), message) from None


def build_run_config(
    data: dict[str, Any], attack: dict[str, Any], train: dict[str, Any]
) -> RunConfig:
    """A RunConfig from each section's raw values (a form's, the command line's); errors name
    the dotted parameter ("attack.p"). The attack's seed also seeds training."""
    data_config = build(DataConfig, data, "data")
    attack_config = build(AttackConfig, attack, "attack")
    train_config = build(TrainConfig, {**train, "seed": attack_config.seed}, "train")
    return RunConfig(data=data_config, attack=attack_config, train=train_config)


def field_type(model: type[BaseModel], name: str) -> Any:
    """The annotation of `model.name` without `| None`."""
    annotation = model.model_fields[name].annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def field_choices(model: type[BaseModel], name: str) -> tuple | None:
    """The allowed values of a Literal field (None for any other field)."""
    annotation = field_type(model, name)
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return None


def field_help(model: type[BaseModel], name: str) -> str:
    """A field's description and allowed range ("...; must be in [0, 1]"), for flags and
    widgets."""
    description = model.model_fields[name].description
    return "; ".join(part for part in (description, allowed_range(model, (name,))) if part)


def field_bounds(model: type[BaseModel], name: str) -> tuple[Any, Any, bool, bool]:
    """(low, high, low_open, high_open) of a field; None where it has no bound. The sliders of
    the pages take their range from here."""
    low = high = None
    low_open = high_open = False
    for bound in model.model_fields[name].metadata:
        if isinstance(bound, annotated_types.Gt):
            low, low_open = bound.gt, True
        elif isinstance(bound, annotated_types.Ge):
            low = bound.ge
        elif isinstance(bound, annotated_types.Lt):
            high, high_open = bound.lt, True
        elif isinstance(bound, annotated_types.Le):
            high = bound.le
    return low, high, low_open, high_open


def allowed_range(model: type[BaseModel], loc: tuple[str, ...]) -> str | None:
    """ "must be in [0, 255]" for the field at `loc` of `model`, None if it has no bounds."""
    owner = None
    for part in loc:
        if model is None or part not in model.model_fields:
            return None
        owner, annotation = model, model.model_fields[part].annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    if owner is None:
        return None
    low, high, low_open, high_open = field_bounds(owner, loc[-1])
    if low is None and high is None:
        return None
    if high is None:
        return f"must be {'>' if low_open else '>='} {_fmt(low)}"
    if low is None:
        return f"must be {'<' if high_open else '<='} {_fmt(high)}"
    return (
        f"must be in {'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}{')' if high_open else ']'}"
    )


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
