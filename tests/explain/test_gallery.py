import numpy as np
import torch

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.data.imageset import ImageSet
from heatclust_core.explain.gallery import GALLERY_LRP, heatmap_gallery, sample_point_cloud
from heatclust_core.explain.lrp import explain
from heatclust_core.training.network import Classifier


def _poisoned_set() -> PoisonedSet:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(30, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0] * 10 + [1] * 20)
    is_poisoned = np.zeros(30, dtype=bool)
    is_poisoned[[12, 15, 20]] = True
    positions = np.full((30, 2), -1)
    return PoisonedSet(ImageSet(images, labels), is_poisoned, labels.copy(), positions)


def test_gallery_draws_poisoned_and_clean_samples_of_the_class_with_their_heatmaps():
    torch.manual_seed(0)
    model, data = Classifier(2).eval(), _poisoned_set()
    poisoned, clean = heatmap_gallery(model, data, class_id=1, per_group=4)
    assert [t.sample for t in poisoned] == [12, 15, 20]  # only three exist
    assert len(clean) == 4 and all(t.label == 1 and not t.poisoned for t in clean)
    assert all(10 <= t.sample < 30 and t.sample not in (12, 15, 20) for t in clean)
    expected = explain(model, data.data.images[[15]], np.array([1]), "cpu", GALLERY_LRP).heatmaps()
    np.testing.assert_allclose(poisoned[1].heatmap, expected[0], rtol=1e-5, atol=1e-6)
    assert (poisoned[1].image == data.data.images[15]).all()


def test_gallery_of_a_clean_class_has_no_poisoned_tiles_and_is_seeded():
    model, data = Classifier(2).eval(), _poisoned_set()
    poisoned, clean = heatmap_gallery(model, data, class_id=0, per_group=3, seed=1)
    again = heatmap_gallery(model, data, class_id=0, per_group=3, seed=1)[1]
    assert poisoned == [] and [t.sample for t in clean] == [t.sample for t in again]


def test_sample_point_cloud_keeps_the_asked_share_of_positive_relevance():
    model, data = Classifier(2).eval(), _poisoned_set()
    tile, cloud = sample_point_cloud(model, data, 20, share=0.5)
    assert tile.poisoned and tile.heatmap.shape == (32, 32)
    positive = np.clip(tile.heatmap, 0, None)
    kept = positive[cloud.coords[:, 0], cloud.coords[:, 1]].sum()
    assert 0.5 <= kept / positive.sum() < 0.5 + positive.max() / positive.sum() + 1e-9
    assert abs(cloud.weights.sum() - 1) < 1e-9
