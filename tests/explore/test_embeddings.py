"""Embeddings of a class on a tiny trained run, and their parts on hand-made data."""

import numpy as np
import pytest

from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.config import AttackConfig
from heatclust_core.data.imageset import ImageSet
from heatclust_core.errors import ConfigError
from heatclust_core.explain.point_cloud import pooled_heatmaps
from heatclust_core.explore.config import EMBEDDING_METHODS, K_CHOICES, EmbedConfig
from heatclust_core.explore.embeddings import (
    choice_of_k,
    eigengaps,
    find_embedding,
    load_embeddings,
    run_embedding,
    spectral_embedding,
    trigger_relevance_share,
)

# UMAP's first call compiles numba code (~10 s) and landmark MDS solves GW columns: full tier.
SLOW_METHODS = ("umap", "gw-mds")


@pytest.mark.parametrize(
    "method",
    [
        pytest.param(m, marks=pytest.mark.slow) if m in SLOW_METHODS else m
        for m in EMBEDDING_METHODS
    ],
)
def test_each_method_embeds_the_whole_class_and_saves_it(tiny_run, method):
    store, run_id = tiny_run
    config = EmbedConfig(method=method, landmarks=5)
    result = run_embedding(store, run_id, config, "cpu")
    pool = store.load_train_set(run_id)
    target = store.load_config(run_id).attack.target
    members = np.flatnonzero(pool.data.labels == target)
    assert result["sample_index"] == members.tolist()
    assert result["sample_poisoned"] == pool.is_poisoned[members].astype(int).tolist()
    coords = np.asarray(result["coords"])
    assert coords.shape == (len(members), 2) and np.isfinite(coords).all()
    assert coords.std(axis=0).min() > 0
    assert [e["k"] for e in result["k_choice"]] == list(K_CHOICES)
    for entry in result["k_choice"]:
        sizes = np.bincount(entry["labels"], minlength=entry["k"])
        assert entry["sizes"] == sizes.tolist() and entry["flagged"] == [int(np.argmin(sizes))]
        assert -1 <= entry["silhouette"] <= 1
    assert (result["eigenvalues"] is not None) == (method == "spectral")
    assert (result["landmark_positions"] is not None) == (method == "gw-mds")
    shares = [
        s for s, p in zip(result["trigger_share"], result["sample_poisoned"], strict=True) if p
    ]
    assert all(0 <= s <= 1 for s in shares)
    saved = [e for e in load_embeddings(store, run_id).values if e["method"] == method]
    assert saved and saved[0]["coords"] == result["coords"]


@pytest.mark.parametrize("method", [pytest.param("umap", marks=pytest.mark.slow), "tsne"])
def test_the_same_config_gives_the_same_embedding(tiny_run, method):
    store, run_id = tiny_run
    config = EmbedConfig(method=method)
    assert (
        run_embedding(store, run_id, config, "cpu")["coords"]
        == (run_embedding(store, run_id, config, "cpu")["coords"])
    )


def test_a_class_out_of_range_or_too_small_is_refused(tiny_run):
    store, run_id = tiny_run
    with pytest.raises(ConfigError, match=r"must be in \[0, 42\]"):
        run_embedding(store, run_id, EmbedConfig(class_id=43), "cpu")
    labels = store.load_train_set(run_id).data.labels
    smallest = int(np.argmin(np.bincount(labels, minlength=43)))
    if np.bincount(labels, minlength=43)[smallest] < 10:
        with pytest.raises(ConfigError, match="fewer than 10"):
            run_embedding(store, run_id, EmbedConfig(class_id=smallest), "cpu")


def test_a_result_name_hashes_only_what_its_method_reads():
    umap = EmbedConfig(method="umap")
    assert (
        umap.result_name() == EmbedConfig(method="umap", perplexity=5, landmarks=99).result_name()
    )
    assert umap.result_name() != EmbedConfig(method="umap", n_neighbors=5).result_name()
    assert umap.result_name().startswith("umap-")


def test_pooling_sums_each_block():
    heatmaps = np.arange(16.0).reshape(1, 4, 4)
    np.testing.assert_array_equal(pooled_heatmaps(heatmaps, 2)[0], [[10, 18], [42, 50]])


def test_the_trigger_share_is_the_relevance_inside_the_stamped_square():
    heatmaps = np.zeros((3, 32, 32))
    heatmaps[0, 10:13, 10:13] = 1.0  # all on the trigger
    heatmaps[1, 0, 0] = heatmaps[1, 10, 10] = 1.0  # half on it
    heatmaps[2, 5, 5] = 1.0  # a clean sample
    poisoned = PoisonedSet(
        ImageSet(np.zeros((3, 32, 32, 3), np.uint8), np.zeros(3, int)),
        np.array([True, True, False]),
        np.zeros(3, int),
        np.array([[10, 10], [10, 10], [-1, -1]]),
    )
    shares = trigger_relevance_share(heatmaps, poisoned, np.arange(3), AttackConfig())
    np.testing.assert_allclose(shares[:2], [1.0, 0.5])
    assert np.isnan(shares[2])  # a randomly placed sticker: no location for a clean sample
    amplitude = AttackConfig(kind="amplitude", p=33.0)
    assert np.isfinite(trigger_relevance_share(heatmaps, poisoned, np.arange(3), amplitude)).all()


def _blobs(counts, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=20, size=(len(counts), 5))
    points = np.concatenate(
        [c + rng.normal(size=(n, 5)) for c, n in zip(centres, counts, strict=True)]
    )
    truth = np.repeat(np.arange(len(counts)), counts)
    return points, truth


def test_the_choice_of_k_peaks_at_the_true_number_and_flags_the_smallest():
    points, truth = _blobs([40, 30, 12])
    entries = {e["k"]: e for e in choice_of_k(points, seed=0)}
    assert max(entries, key=lambda k: entries[k]["silhouette"]) == 3
    labels = np.asarray(entries[3]["labels"])
    flagged = labels == entries[3]["flagged"][0]
    np.testing.assert_array_equal(flagged, truth == 2)


def test_the_spectral_embedding_separates_blobs_and_its_eigengap_counts_them():
    points, truth = _blobs([50, 40, 30])
    eigenvalues, embedding = spectral_embedding(points, n_neighbors=8, n_eigenvectors=10)
    assert eigenvalues[0] == pytest.approx(0, abs=1e-6)
    gaps = eigengaps(eigenvalues.tolist())
    assert max(gaps, key=gaps.get) == 3
    entries = {e["k"]: e for e in choice_of_k(embedding[:, :2], seed=0)}
    labels = np.asarray(entries[3]["labels"])
    # Each blob is one cluster.
    assert all(len(set(labels[truth == t])) == 1 for t in range(3))


def test_finding_an_embedding_passes_over_a_file_whose_config_no_longer_validates():
    good = {"class": 5, "config": EmbedConfig(method="pca").model_dump()}
    stale = {"class": 5, "config": {"method": "pca", "retired_field": 1}}
    name = EmbedConfig(method="pca", class_id=5).settings_name()
    assert find_embedding([stale, good], name, 5) is good
    assert find_embedding([stale], name, 5) is None
    assert find_embedding([good], name, 4) is None
