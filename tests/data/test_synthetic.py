import numpy as np

from heatclust_core.data import synthetic


def test_class_list_covers_the_sign_families_of_the_spec():
    names = synthetic.CLASS_NAMES
    for speed in (30, 50, 60, 80, 100):
        assert f"Speed limit ({speed}km/h)" in names
    for family in ("Stop", "Yield", "Priority road", "No entry", "General caution", "Keep right"):
        assert family in names
    # GTSRB ids for the paper's default source and target
    assert names.index("Speed limit (50km/h)") == 2
    assert names.index("Speed limit (80km/h)") == 5


def test_generation_is_deterministic_and_seed_dependent():
    images_a, labels_a = synthetic.generate(3, seed=1)
    images_b, labels_b = synthetic.generate(3, seed=1)
    images_c, _ = synthetic.generate(3, seed=2)
    assert images_a.shape == (3 * len(synthetic.CLASSES), 32, 32, 3)
    assert images_a.dtype == np.uint8
    np.testing.assert_array_equal(images_a, images_b)
    np.testing.assert_array_equal(labels_a, labels_b)
    assert not np.array_equal(images_a, images_c)
    assert np.bincount(labels_a).tolist() == [3] * len(synthetic.CLASSES)


def test_classes_look_different_from_each_other():
    images, labels = synthetic.generate(20, seed=0)
    means = np.stack([images[labels == c].mean(axis=0) for c in range(len(synthetic.CLASSES))])
    # The class-average images of the blue mandatory signs are bluer than the red speed limits.
    blue = synthetic.CLASS_NAMES.index("Ahead only")
    red = synthetic.CLASS_NAMES.index("Speed limit (50km/h)")
    assert means[blue, 12:20, 12:20, 2].mean() > means[red, 12:20, 12:20, 2].mean() - 40
    assert means[red, :, :, 0].mean() > means[blue, :, :, 0].mean()
    # No two classes share an average image.
    flat = means.reshape(len(means), -1)
    distances = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    assert distances[~np.eye(len(flat), dtype=bool)].min() > 1.0
