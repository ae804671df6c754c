"""Each detector on tiny data where the two populations are known."""

import numpy as np
import pytest
import torch

from heatclust_core.attacks.triggers import StickerTrigger
from heatclust_core.detection.detectors import (
    ActivationClustering,
    HeatmapClustering,
    RawClustering,
)
from heatclust_core.detection.detectors.flagging import (
    candidate_ks,
    centroid_silhouette,
    flag_clusters,
)
from heatclust_core.errors import ConfigError
from heatclust_core.training.network import Classifier


def _two_populations(n_clean=30, n_odd=12, seed=0):
    """Grey noise images; the odd ones carry a large bright block."""
    rng = np.random.default_rng(seed)
    images = rng.integers(60, 120, size=(n_clean + n_odd, 32, 32, 3), dtype=np.uint8)
    images[n_clean:, 4:20, 4:20] = 250
    truth = np.arange(n_clean + n_odd) >= n_clean
    return images, np.zeros(len(images), dtype=np.int64), truth


# FastICA whitens every component to unit variance, so on pure-noise images the nine noise
# components outweigh the signal; with one component it is the block alone.
@pytest.mark.parametrize(("reducer", "n_components"), [("pca", 10), ("ica", 1)])
def test_raw_clustering_flags_the_smaller_distinct_group(reducer, n_components):
    images, labels, truth = _two_populations()
    detector = RawClustering(reducer=reducer, n_components=n_components, seed=0).fit(images, labels)
    assert np.array_equal(detector.predict(), truth)
    assert set(detector.seconds_) == {"features", "clustering"}
    assert detector.embedding_.shape[0] == len(images)


@pytest.mark.parametrize("normalize", [False, True])
def test_activation_clustering_on_the_real_network(normalize):
    images, labels, truth = _two_populations()
    torch.manual_seed(0)
    detector = ActivationClustering(Classifier(3).eval(), normalize=normalize, seed=0)
    detector.fit(images, labels)
    assert np.array_equal(detector.predict(), truth)
    assert detector.features_.shape == (len(images), 10)


def test_activation_clustering_rejects_an_unknown_layer():
    with pytest.raises(ConfigError) as error:
        ActivationClustering(Classifier(3), layer="nope")
    assert error.value.parameter == "layer"


def test_heatmap_clustering_runs_end_to_end_and_reports_stages():
    rng = np.random.default_rng(0)
    clean = rng.integers(80, 140, size=(16, 32, 32, 3), dtype=np.uint8)
    stamped, _ = StickerTrigger(3, "window", "yellow").apply(clean[:6], rng)
    images = np.concatenate([stamped, clean[6:]])
    torch.manual_seed(0)
    detector = HeatmapClustering(
        Classifier(3).eval(), relevance_share=0.5, barycenter_size=8, max_iter=3, epsilon=0.05
    ).fit(images, np.zeros(16, dtype=np.int64))
    assert detector.labels_.shape == (16,) and set(np.unique(detector.labels_)) <= {0, 1}
    assert detector.heatmaps_.shape == (16, 32, 32)
    assert all(cloud.weights.sum() == pytest.approx(1.0) for cloud in detector.point_clouds_)
    assert set(detector.seconds_) == {"features", "clustering", "pairwise"}
    assert detector.pairwise_distances_.shape == (16, 16)
    assert detector.mds_embedding_.shape == (16, 2)
    assert -1.0 <= detector.silhouette_ <= 1.0


def test_heatmap_clustering_draws_the_mds_subset_from_every_cluster():
    detector = HeatmapClustering(Classifier(3), mds_samples=10, seed=3)
    labels = np.array([0] * 40 + [1] * 4)
    index = detector._mds_subset(labels)
    assert len(index) == len(np.unique(index)) and np.all(np.diff(index) > 0)
    assert len(index) == 10
    assert np.sum(labels[index] == 1) == 2 and np.sum(labels[index] == 0) == 8
    assert len(HeatmapClustering(Classifier(3), mds_samples=0)._mds_subset(labels)) == 0


def test_the_mds_subset_holds_mds_samples_when_a_small_cluster_takes_its_minimum():
    # 95 and 5 samples: proportional quotas of 8 and 0; the small cluster's 2 come out of the
    # large one's 8, so the picture holds 8, as asked.
    labels = np.array([0] * 95 + [1] * 5)
    subset = HeatmapClustering(Classifier(3), mds_samples=8, seed=0)._mds_subset(labels)
    assert len(subset) == 8
    assert np.bincount(labels[subset]).tolist() == [6, 2]


def test_mds_embedding_recovers_planar_distances_from_squared_ones():
    from heatclust_core.detection.detectors.heatmap import mds_embedding

    points = np.random.default_rng(0).normal(size=(12, 2))
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    embedded = mds_embedding(distances**2)
    recovered = np.linalg.norm(embedded[:, None] - embedded[None], axis=-1)
    np.testing.assert_allclose(recovered, distances, atol=1e-3)


@pytest.mark.parametrize("share", [0.0, 1.5])
def test_heatmap_clustering_refuses_a_bad_relevance_share(share):
    with pytest.raises(ConfigError) as error:
        HeatmapClustering(Classifier(3), relevance_share=share)
    assert error.value.parameter == "relevance_share"


def test_flag_rules():
    labels = np.array([0] * 7 + [1] * 3)
    assert flag_clusters(labels, 2, "smaller") == [1]
    assert flag_clusters(labels, 2, "relative-size") == [1]
    assert flag_clusters(labels, 2, "silhouette", silhouette=0.5) == [1]
    assert flag_clusters(labels, 2, "silhouette", silhouette=0.05) == []
    assert flag_clusters(np.array([0] * 5 + [1] * 5), 2, "relative-size") == []


def _three_populations(seed=0):
    """30 grey noise images, 12 with a bright block top left, 5 with a larger dark one."""
    images, labels, _ = _two_populations(n_clean=30, n_odd=17, seed=seed)
    images[42:] = np.random.default_rng(seed + 1).integers(60, 120, size=(5, 32, 32, 3))
    images[42:, 8:30, 8:30] = 5
    groups = np.repeat([0, 1, 2], [30, 12, 5])
    return images, labels, groups


def test_k_selection_fits_k_alone_or_every_k_from_2():
    assert list(candidate_ks(3, "fixed")) == [3]
    assert list(candidate_ks(4, "silhouette")) == [2, 3, 4]
    with pytest.raises(ConfigError) as error:
        candidate_ks(3, "elbow")
    assert error.value.parameter == "k_selection"
    # Choosing among k = 2 alone is no choice: the config says which parameter to raise.
    from heatclust_core.config import build
    from heatclust_core.detection.config import DetectConfig

    with pytest.raises(ConfigError) as error:
        build(DetectConfig, {"k_selection": "silhouette"})
    assert (error.value.parameter, error.value.message) == (
        "k",
        "must be >= 3 to choose k by silhouette among 2..k, got 2",
    )
    with pytest.raises(ConfigError):
        RawClustering(k=2, k_selection="silhouette")


def test_silhouette_keeps_the_k_of_the_populations_there_are():
    images, labels, truth = _two_populations()
    two = RawClustering(k=4, k_selection="silhouette", seed=0).fit(images, labels)
    assert set(two.silhouettes_) == {2, 3, 4}
    assert two.k_ == 2 == max(two.silhouettes_, key=two.silhouettes_.get)
    assert two.silhouette_ == two.silhouettes_[2]
    assert np.array_equal(two.predict(), truth)

    images, labels, groups = _three_populations()
    three = RawClustering(k=4, k_selection="silhouette", seed=0).fit(images, labels)
    assert three.k_ == 3 == max(three.silhouettes_, key=three.silhouettes_.get)
    # The kept clustering is the fixed-k one, and its smallest cluster the 5 dark blocks.
    fixed = RawClustering(k=3, seed=0).fit(images, labels)
    assert np.array_equal(three.labels_, fixed.labels_)
    assert np.array_equal(three.predict(), groups == 2)
    # With k fixed at 2 the 5 dark ones hide among the clean: the bright group is flagged.
    assert np.array_equal(RawClustering(k=2, seed=0).fit(images, labels).predict(), groups == 1)


def test_heatmap_clustering_keeps_the_gw_clustering_of_highest_silhouette():
    rng = np.random.default_rng(0)
    clean = rng.integers(80, 140, size=(16, 32, 32, 3), dtype=np.uint8)
    stamped, _ = StickerTrigger(3, "window", "yellow").apply(clean[:6], rng)
    images = np.concatenate([stamped, clean[6:]])
    common = {"relevance_share": 0.5, "barycenter_size": 8, "max_iter": 3, "epsilon": 0.05}
    common |= {"mds_samples": 0}
    messages = []
    torch.manual_seed(0)
    model = Classifier(3).eval()
    chosen = HeatmapClustering(
        model, k=3, k_selection="silhouette", progress=lambda *a: messages.append(a), **common
    ).fit(images, np.zeros(16, dtype=np.int64))
    assert set(chosen.silhouettes_) == {2, 3}
    assert chosen.k_ == max(chosen.silhouettes_, key=chosen.silhouettes_.get)
    assert chosen.silhouette_ == pytest.approx(chosen.silhouettes_[chosen.k_])
    assert chosen.kmeans_.distances.shape == (16, chosen.k_)
    assert np.array_equal(chosen.labels_, chosen.kmeans_.distances.argmin(axis=1))
    assert chosen.kmeans_.states is None  # the plans the next k started from are let go
    # The path's first fit is the fixed-k one; k = 3 starts from it.
    two = HeatmapClustering(model, k=2, **common).fit(images, np.zeros(16, np.int64))
    assert chosen.silhouettes_[2] == pytest.approx(two.silhouette_)
    if chosen.k_ == 2:
        assert np.array_equal(chosen.labels_, two.labels_)
    clustering = [(fraction, text) for stage, fraction, text in messages if stage == "clustering"]
    assert {text.split(":")[0] for _, text in clustering} == {"k = 2", "k = 3"}
    # One pass of the stage over both k: k = 2 fills its first half, k = 3 the second.
    assert all(f <= 0.5 for f, text in clustering if text.startswith("k = 2"))
    assert all(f >= 0.5 for f, text in clustering if text.startswith("k = 3"))
    assert [f for f, _ in clustering] == sorted(f for f, _ in clustering)


def test_centroid_silhouette_by_hand():
    distances = np.array([[1.0, 3.0], [4.0, 2.0]])
    assert centroid_silhouette(distances, np.array([0, 1])) == pytest.approx(
        ((3 - 1) / 3 + (4 - 2) / 4) / 2
    )


def test_mds_picture_solves_with_looser_stopping_rules_never_tighter():
    from heatclust_core.detection.detectors.heatmap import picture_options
    from heatclust_core.gw.engine import GWOptions

    picture = picture_options(GWOptions(epsilon=0.003, tol=1e-3, inner_tol=1e-5))
    assert (picture.epsilon, picture.tol, picture.inner_tol) == (0.003, 1e-2, 1e-4)
    loose = GWOptions(tol=0.05, inner_tol=1e-3)
    assert picture_options(loose) == loose


@pytest.mark.slow
def test_pooled_heatmap_clustering_takes_its_clouds_from_the_block_sums(two_class_backdoor):
    model, train_set = two_class_backdoor
    of_class = train_set.data.labels == 0
    members = np.r_[
        np.flatnonzero(of_class & ~train_set.is_poisoned)[:40],
        np.flatnonzero(of_class & train_set.is_poisoned)[:20],
    ]
    images, labels = train_set.data.images[members], train_set.data.labels[members]
    truth = train_set.is_poisoned[members]
    common = {"relevance_share": 0.9, "barycenter_size": 8, "max_iter": 5, "mds_samples": 0}
    pixels = HeatmapClustering(model, **common).fit(images, labels)
    pooled = HeatmapClustering(model, pool=2, **common).fit(images, labels)
    assert max(cloud.coords.max() for cloud in pooled.point_clouds_) < 16
    assert np.mean([c.size for c in pooled.point_clouds_]) < np.mean(
        [c.size for c in pixels.point_clouds_]
    )
    # The stickered samples stand apart in both.
    for detector in (pixels, pooled):
        assert (detector.predict() == truth).mean() > 0.9
    with pytest.raises(ConfigError):
        HeatmapClustering(model, pool=0)


def test_an_hc_result_name_at_the_later_fields_neutral_values_is_the_one_saved_before_them():
    import hashlib
    import json

    from heatclust_core.detection.config import DETECTOR_FIELDS, NEUTRAL_VALUES, DetectConfig

    later = {"pool", "gw_max_iter", "gw_inner_iter", "mds_pool", "k_selection"}
    assert later == set(NEUTRAL_VALUES)
    config = DetectConfig(**NEUTRAL_VALUES)
    old_fields = set(DETECTOR_FIELDS["hc"]) - later | {"detector", "class_id", "seed", "k"}
    text = json.dumps(config.model_dump(include=old_fields | {"flag_rule"}), sort_keys=True)
    assert config.result_name() == f"hc-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
    for name in later - {"k_selection"}:
        changed = DetectConfig(**{**NEUTRAL_VALUES, name: NEUTRAL_VALUES[name] + 1})
        assert changed.result_name() != config.result_name(), name
    three = DetectConfig(**NEUTRAL_VALUES, k=3)
    chosen = three.model_copy(update={"k_selection": "silhouette"})
    assert chosen.result_name() != three.result_name()
    # The defaults that differ from "as before" name their results apart from the old ones.
    assert DetectConfig().result_name() != config.result_name()


def test_the_mds_picture_pools_its_own_clouds_and_leaves_the_clustering_alone():
    from heatclust_core.explain.point_cloud import point_cloud

    rng = np.random.default_rng(0)
    heatmaps = rng.random((5, 32, 32))
    spaces = [point_cloud(h, 0.99).metric_measure() for h in heatmaps]
    same = HeatmapClustering(Classifier(3), mds_pool=1)
    pooled = HeatmapClustering(Classifier(3), mds_pool=2)
    for detector in (same, pooled):
        detector.heatmaps_, detector.mds_index_ = heatmaps, np.array([1, 3, 4])
    assert same._picture_spaces(spaces) == [spaces[1], spaces[3], spaces[4]]
    picture = pooled._picture_spaces(spaces)
    # A 2 x 2 block's sum has the block's relevance: 16 x 16 = 256 blocks at most.
    assert [space.size for space in picture] == [
        point_cloud(heatmaps[i].reshape(16, 2, 16, 2).sum((1, 3)), 0.99).size for i in (1, 3, 4)
    ]
    assert max(space.size for space in picture) <= 256 < min(spaces[i].size for i in (1, 3, 4))
    with pytest.raises(ConfigError):
        HeatmapClustering(Classifier(3), mds_pool=0)
