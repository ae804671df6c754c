import torch
from torchvision.transforms import v2

from heatclust_core.config import PAPER_AUGMENTATION, AugmentConfig
from heatclust_core.training.augment import RandomSignNoise, augment_batch, build_augmentation


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


def test_sign_noise_is_off_by_default_and_last_when_on():
    assert not any(
        isinstance(t, RandomSignNoise) for t in build_augmentation(AugmentConfig()).transforms
    )
    config = AugmentConfig(sign_noise=True, noise_amplitude=0.05, noise_share=0.25)
    noise = build_augmentation(config).transforms[-1]
    assert isinstance(noise, RandomSignNoise)
    assert (noise.amplitude, noise.share) == (0.05, 0.25)
    # Its default is the PGD budget's: noise the size of a label-consistent poison's change.
    assert AugmentConfig().noise_amplitude == 0.075


def test_sign_noise_moves_every_pixel_of_a_chosen_image_by_the_amplitude():
    torch.manual_seed(0)
    grey = torch.full((400, 3, 8, 8), 0.5)
    out = RandomSignNoise(0.1, 0.5)(grey)
    change = (out - grey).abs()
    noised = change.amax(dim=(1, 2, 3)) > 0
    assert torch.allclose(change[noised], torch.tensor(0.1))  # every pixel, +-0.1
    assert not change[~noised].any()  # the others untouched
    assert 0.4 < noised.float().mean() < 0.6  # about half of them
    signs = torch.sign(out - grey)[noised]
    assert 0.45 < (signs > 0).float().mean() < 0.55  # both signs, evenly
    # Clamped to the pixel range, and one image at a time works too.
    assert RandomSignNoise(0.3, 1.0)(torch.ones(3, 4, 4)).max() == 1.0
    assert RandomSignNoise(0.3, 1.0)(torch.ones(3, 4, 4)).shape == (3, 4, 4)


def test_sign_noise_is_drawn_per_image_within_a_group():
    """A group of the batch shares one draw of the geometric transforms, not its noise."""
    torch.manual_seed(1)
    batch = torch.full((8, 3, 32, 32), 128, dtype=torch.uint8)
    only_noise = AugmentConfig(
        random_resized_crop=False,
        random_rotation=False,
        random_affine=False,
        sign_noise=True,
        noise_share=1.0,
    )
    out = augment_batch(batch, build_augmentation(only_noise), group_size=8)
    assert len({tuple(image.flatten()[:64].tolist()) for image in out}) == 8
