import torch
from torchvision.transforms import v2

from heatclust_core.config import PAPER_AUGMENTATION, AugmentConfig
from heatclust_core.training.augment import augment_batch, build_augmentation


def _jitter(config: AugmentConfig) -> v2.ColorJitter:
    return next(t for t in build_augmentation(config).transforms if isinstance(t, v2.ColorJitter))


EVERY_TRANSFORM = AugmentConfig(color_jitter=True, random_grayscale=True)


def test_colour_augmentations_and_the_hue_shift_are_off_by_default():
    transforms = build_augmentation(AugmentConfig()).transforms
    assert not any(isinstance(t, (v2.ColorJitter, v2.RandomGrayscale)) for t in transforms)
    assert _jitter(EVERY_TRANSFORM).hue is None
    assert _jitter(EVERY_TRANSFORM.model_copy(update={"hue": 0.05})).hue == (-0.05, 0.05)


def test_the_strengths_come_from_the_fields():
    """The paper's code's augmentation, transform by transform."""
    crop, rotation, jitter, affine, grayscale, _ = build_augmentation(PAPER_AUGMENTATION).transforms
    assert crop.scale == (0.6, 1.0) and crop.ratio == (3 / 4, 4 / 3)
    assert rotation.degrees == [-15.0, 15.0]
    assert (jitter.brightness, jitter.contrast, jitter.saturation) == ((0.9, 1.1),) * 3
    assert jitter.hue == (-0.1, 0.1)
    assert affine.degrees == [-15.0, 15.0] and affine.translate is None and affine.shear is None
    assert grayscale.p == 0.1
    # The defaults are the strengths written into the transforms before they were fields.
    crop, rotation, jitter, affine, grayscale, _ = build_augmentation(EVERY_TRANSFORM).transforms
    assert crop.scale == (0.8, 1.0) and crop.ratio == (0.9, 1.1)
    assert rotation.degrees == [-10.0, 10.0] and jitter.brightness == (0.7, 1.3)
    assert affine.translate == (0.06, 0.06) and affine.shear == [-5.0, 5.0]
    assert grayscale.p == 0.05


def test_each_switch_removes_its_transform():
    everything = EVERY_TRANSFORM
    none = AugmentConfig(
        random_resized_crop=False,
        random_rotation=False,
        color_jitter=False,
        random_affine=False,
        random_grayscale=False,
    )
    assert len(build_augmentation(everything).transforms) == 6  # five and the float cast
    assert [type(t) for t in build_augmentation(none).transforms] == [v2.ToDtype]


def test_a_group_shares_one_draw_and_groups_draw_anew():
    torch.manual_seed(0)
    image = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    batch = image.repeat(8, 1, 1, 1)
    out = augment_batch(batch, build_augmentation(AugmentConfig()), group_size=4)
    assert out.shape == (8, 3, 32, 32) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out[0], out[3]) and torch.equal(out[4], out[7])
    assert not torch.equal(out[0], out[4])
