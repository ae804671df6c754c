import torch
from torchvision.transforms import v2

from heatclust_core.config import AugmentConfig
from heatclust_core.training.augment import augment_batch, build_augmentation


def _jitter(config: AugmentConfig) -> v2.ColorJitter:
    return next(t for t in build_augmentation(config).transforms if isinstance(t, v2.ColorJitter))


def test_hue_shift_is_off_by_default_and_set_by_its_field():
    assert _jitter(AugmentConfig()).hue is None
    assert _jitter(AugmentConfig(hue=0.05)).hue == (-0.05, 0.05)


def test_each_switch_removes_its_transform():
    everything = AugmentConfig()
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
