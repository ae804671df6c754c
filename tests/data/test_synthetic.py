import numpy as np
import pytest

from heatclust_core.data import gtsrb, synthetic
from heatclust_core.data.signs import GTSRB_TRAIN_COUNTS


def test_classes_are_gtsrbs_with_their_ids():
    assert synthetic.CLASS_NAMES == gtsrb.CLASS_NAMES
    names = synthetic.CLASS_NAMES
    # GTSRB ids for the paper's default source and target
    assert names.index("Speed limit (50km/h)") == 2
    assert names.index("Speed limit (80km/h)") == 5


def test_class_sizes_follow_gtsrbs_imbalance():
    counts = synthetic.class_counts(400)
    assert len(counts) == 43
    assert 400 * 43 <= counts.sum() <= 1.03 * 400 * 43  # the floor adds a few
    # The paper's source (50 km/h) is GTSRB's largest class and the target (80 km/h) large too.
    assert counts.argmax() == 2
    assert counts[5] == round(400 * 43 * GTSRB_TRAIN_COUNTS[5] / sum(GTSRB_TRAIN_COUNTS))
    # The rarest classes are held at a floor (a scaled-down GTSRB would leave them a few
    # dozen images), still a seventh of the largest.
    floor = round(synthetic.MIN_SHARE_OF_MEAN * 400)
    assert counts.min() == floor and (counts == floor).sum() >= 5
    assert counts.min() / counts.max() < 0.15
    # Tiny sets keep a floor per class, so every class can be split and tested.
    assert synthetic.class_counts(2).min() == synthetic.MIN_IMAGES_PER_CLASS


def test_generation_is_deterministic_and_seed_dependent():
    images_a, labels_a = synthetic.generate(3, seed=1)
    images_b, labels_b = synthetic.generate(3, seed=1)
    images_c, _ = synthetic.generate(3, seed=2)
    counts = synthetic.class_counts(3)
    assert images_a.shape == (counts.sum(), 32, 32, 3)
    assert images_a.dtype == np.uint8
    np.testing.assert_array_equal(images_a, images_b)
    np.testing.assert_array_equal(labels_a, labels_b)
    assert not np.array_equal(images_a, images_c)
    assert np.bincount(labels_a).tolist() == counts.tolist()


def test_the_same_sample_is_drawn_whatever_the_set_size():
    small, small_labels = synthetic.generate(3, seed=0)
    large, large_labels = synthetic.generate(6, seed=0)
    for class_id in (0, 5, 42):
        np.testing.assert_array_equal(
            small[small_labels == class_id][:5], large[large_labels == class_id][:5]
        )


def test_images_are_as_varied_as_gtsrbs():
    images, _ = synthetic.generate(20, seed=0)
    brightness = images.reshape(len(images), -1).mean(axis=1)
    # GTSRB has many dark photographs and some bright ones.
    assert np.mean(brightness < 50) > 0.15
    assert np.mean(brightness > 110) > 0.05
    # Sharpness varies: mean absolute horizontal gradient spans a wide range.
    gradient = np.abs(np.diff(images.astype(np.float32), axis=2)).mean(axis=(1, 2, 3))
    assert np.percentile(gradient, 90) > 2 * np.percentile(gradient, 10)


@pytest.mark.slow
def test_classes_look_different_from_each_other():
    images, labels = synthetic.generate(40, seed=0)
    means = np.stack([images[labels == c].mean(axis=0) for c in range(len(synthetic.CLASSES))])
    # The class-average images of the blue mandatory signs are bluer than the red speed limits.
    blue = synthetic.CLASS_NAMES.index("Ahead only")
    red = synthetic.CLASS_NAMES.index("Speed limit (50km/h)")
    assert means[blue, 12:20, 12:20, 2].mean() > means[red, 12:20, 12:20, 2].mean()
    assert means[red, :, :, 0].mean() > means[blue, :, :, 0].mean()
    # No two classes share an average image.
    flat = means.reshape(len(means), -1)
    distances = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    assert distances[~np.eye(len(flat), dtype=bool)].min() > 1.0
