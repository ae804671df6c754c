"""Embeddings of one class's training samples, computed as jobs and saved with the run.

Five views of the same samples: PCA, t-SNE (openTSNE) and UMAP (umap-learn) of the hidden
activations Activation Clustering reads; a spectral embedding of the LRP heatmaps as in
spectral relevance analysis (SpRAy, Lapuschkin et al. 2019: kNN graph, normalised Laplacian,
its smallest eigenvectors); and landmark MDS of the Gromov-Wasserstein distances between the
relevance point clouds Heatmap Clustering clusters, covering the whole class.

Each result also holds what a view is coloured by (ground truth, predicted class, the share of
positive relevance on the trigger's location) and the choice of k: k-means for k = 2..8 in
the embedding's clustering space with each k's silhouette, clusters and flagged cluster (and,
for the spectral embedding, the Laplacian's eigenvalues for the eigengap). Saved as
embeddings/<method>-<hash>.json in the run folder.

Over 300 lines by choice: the five methods share the class's samples, the colourings and the
choice of k, and one function runs any of them as a job; the settings live in config.py.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError
from scipy.sparse.csgraph import laplacian
from scipy.sparse.linalg import eigsh
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.neighbors import kneighbors_graph

from heatclust_core.attacks.metrics import predict
from heatclust_core.attacks.poison import PoisonedSet
from heatclust_core.attacks.triggers import amplitude_position
from heatclust_core.config import AttackConfig, RunConfig
from heatclust_core.detection.detectors.activation import activations
from heatclust_core.detection.detectors.base import reduce_features
from heatclust_core.detection.detectors.flagging import flag_clusters
from heatclust_core.detection.run import resolve_class
from heatclust_core.detection.scan import relevance_maps
from heatclust_core.errors import ConfigError
from heatclust_core.explain.lrp import explain
from heatclust_core.explain.options import LRPOptions
from heatclust_core.explain.point_cloud import point_cloud, pooled_heatmaps
from heatclust_core.explore.config import (
    CLUSTER_DIMS,
    EMBEDDING_TITLES,
    K_CHOICES,
    MIN_SAMPLES,
    EmbedConfig,
)
from heatclust_core.explore.landmark_mds import landmark_gw_losses, landmark_mds
from heatclust_core.gw.engine import GWOptions
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.results import RunResults
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import pick_device


def trigger_relevance_share(
    heatmaps: np.ndarray, poisoned: PoisonedSet, members: np.ndarray, attack: AttackConfig
) -> np.ndarray:
    """(N,) share of each sample's positive relevance inside its trigger's square; NaN where a
    sample has no trigger location (a clean sample of a randomly placed sticker attack)."""
    size = attack.sticker_size
    positions = poisoned.trigger_positions[members].copy()
    if attack.kind == "amplitude":
        # The amplitude trigger sits at one place on every image.
        positions[:] = amplitude_position(size, heatmaps.shape[1])
    positive = np.clip(heatmaps, 0, None)
    totals = positive.sum(axis=(1, 2))
    shares = np.full(len(members), np.nan)
    for i, (row, col) in enumerate(positions):
        if row >= 0 and totals[i] > 0:
            shares[i] = positive[i, row : row + size, col : col + size].sum() / totals[i]
    return shares


def choice_of_k(space: np.ndarray, seed: int) -> list[dict]:
    """k-means++ (10 restarts) of (N, d) points for each k of K_CHOICES below N and up to the
    number of distinct points: labels, cluster sizes, silhouette and the flagged (smallest)
    cluster."""
    entries = []
    distinct = len(np.unique(np.round(space, 9), axis=0))
    for k in K_CHOICES:
        if k >= len(space) or k > distinct:
            break
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(space)
        silhouette = float(silhouette_score(space, labels)) if len(set(labels)) > 1 else 0.0
        entries.append(
            {
                "k": k,
                "silhouette": silhouette,
                "sizes": np.bincount(labels, minlength=k).tolist(),
                "flagged": flag_clusters(labels, k, "smaller"),
                "labels": labels.tolist(),
            }
        )
    return entries


def spectral_embedding(
    features: np.ndarray, n_neighbors: int, n_eigenvectors: int
) -> tuple[np.ndarray, np.ndarray]:
    """SpRAy's spectral step on (N, D) features: a symmetric kNN connectivity graph, its
    normalised Laplacian, and the smallest eigenpairs. Returns the (n,) eigenvalues and the
    (N, n - 1) embedding D^-1/2 v of the eigenvectors after the first (as scikit-learn's
    spectral_embedding), rows of the first k columns being spectral clustering's points."""
    graph = kneighbors_graph(features, n_neighbors=n_neighbors, include_self=False)
    graph = 0.5 * (graph + graph.T)
    normalised, degrees = laplacian(graph, normed=True, return_diag=True)
    count = min(n_eigenvectors, len(features) - 1)
    # Shift-invert just below 0: the smallest eigenpairs of a singular PSD matrix, fast.
    eigenvalues, eigenvectors = eigsh(
        normalised, k=count, sigma=-1e-3, which="LM", v0=np.ones(len(features))
    )
    order = np.argsort(eigenvalues)
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    embedding = eigenvectors / np.maximum(degrees, 1e-12)[:, None]
    # An eigenvector's sign is arbitrary; fix it so the picture does not flip between runs.
    embedding *= np.sign(embedding[np.argmax(np.abs(embedding), axis=0), range(count)])
    return np.clip(eigenvalues, 0.0, None), embedding[:, 1:]


def _activation_embedding(
    acts: np.ndarray, config: EmbedConfig
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(picture (N, 2), clustering space (N, d), axis names) of (N, D) activations."""
    reduced = reduce_features(acts, "pca", 50, config.seed)
    if config.method == "pca":
        space = reduced[:, :CLUSTER_DIMS]
        return space[:, :2], space, ["PC 1", "PC 2"]
    if config.method == "tsne":
        from openTSNE import TSNE

        # openTSNE needs 3 x perplexity < N.
        perplexity = min(config.perplexity, (len(acts) - 1) / 3)
        picture = np.asarray(
            TSNE(perplexity=perplexity, random_state=config.seed, n_jobs=1).fit(reduced)
        )
        return picture, picture, ["t-SNE 1", "t-SNE 2"]
    import umap

    with warnings.catch_warnings():
        # umap warns that a random_state turns off its parallel (nondeterministic) mode.
        warnings.simplefilter("ignore", UserWarning)
        picture = umap.UMAP(
            n_neighbors=min(config.n_neighbors, len(acts) - 1),
            min_dist=config.min_dist,
            random_state=config.seed,
        ).fit_transform(reduced)
    return picture, picture, ["UMAP 1", "UMAP 2"]


@dataclass(frozen=True)
class ClassSamples:
    """What an embedding reads of a run: its config and class names, the class, its (N,) pool
    indices and the training set."""

    run_config: RunConfig
    class_names: list[str]
    class_id: int
    members: np.ndarray
    train_set: PoisonedSet


def _class_members(store: RunStore, run_id: str, config: EmbedConfig) -> ClassSamples:
    """The class's samples; ConfigError("class_id") when the class is out of range, too
    small, or its images are not kept (a results-only run)."""
    run_config = store.load_config(run_id)
    class_names = store.load_metrics(run_id)["class_names"]
    class_id = resolve_class(config.class_id, run_config, class_names)
    if not store.has_network(run_id):
        raise ConfigError("run", f"run {run_id} keeps its results only, not its network")
    train_set = store.load_train_set(run_id)
    members = np.flatnonzero(train_set.data.labels == class_id)
    if len(members) < MIN_SAMPLES:
        raise ConfigError(
            "class_id", f"class {class_id} has {len(members)} samples, fewer than {MIN_SAMPLES}"
        )
    if not train_set.has_images(members):
        raise ConfigError("class_id", f"the images of class {class_id} are not kept in this run")
    return ClassSamples(run_config, class_names, class_id, members, train_set)


def check_embedding(store: RunStore, run_id: str, config: EmbedConfig) -> None:
    """What run_embedding would refuse, checked before a job is queued (writes nothing)."""
    _class_members(store, run_id, config)


def run_embedding(
    store: RunStore,
    run_id: str,
    config: EmbedConfig,
    device: str = "auto",
    progress: Progress = silent,
) -> dict:
    """Embed the class's training samples, save embeddings/<name>.json and return it."""
    started = time.perf_counter()
    samples = _class_members(store, run_id, config)
    class_id, members, train_set = samples.class_id, samples.members, samples.train_set
    run_config, class_names = samples.run_config, samples.class_names
    torch_device = pick_device(device)
    model = store.load_model(run_id, torch_device)
    images, labels = train_set.data.images[members], train_set.data.labels[members]
    seconds = {}

    progress("features", 0.0, "predictions and LRP heatmaps")
    stage = time.perf_counter()
    predicted = predict(model, images, torch_device)
    heatmaps = explain(
        model, images, labels, torch_device, LRPOptions(composite=config.lrp_composite)
    ).heatmaps()
    trigger_share = trigger_relevance_share(heatmaps, train_set, members, run_config.attack)
    eigenvalues = landmarks = None
    if config.method in ("umap", "tsne", "pca"):
        features = activations(model, images, config.layer, torch_device)
    elif config.method == "spectral":
        features = relevance_maps(heatmaps, config.pool)
    else:
        features = pooled_heatmaps(heatmaps, config.pool)
    seconds["features"] = time.perf_counter() - stage

    progress("embedding", 0.0, EMBEDDING_TITLES[config.method])
    stage = time.perf_counter()
    if config.method in ("umap", "tsne", "pca"):
        picture, space, axes = _activation_embedding(features, config)
    elif config.method == "spectral":
        eigenvalues, embedding = spectral_embedding(
            features, min(config.n_neighbors, len(members) - 1), CLUSTER_DIMS
        )
        picture, space, axes = embedding[:, :2], embedding, ["eigenvector 2", "eigenvector 3"]
    else:
        spaces = [point_cloud(block, config.relevance_share).metric_measure() for block in features]
        gw = GWOptions(epsilon=config.epsilon, tol=1e-2, inner_tol=1e-4)
        losses, landmarks = landmark_gw_losses(
            spaces, config.landmarks, gw, torch_device, config.seed, progress
        )
        space = landmark_mds(losses, landmarks, CLUSTER_DIMS)
        picture, axes = space[:, :2], ["landmark MDS 1", "landmark MDS 2"]
    seconds["embedding"] = time.perf_counter() - stage

    stage = time.perf_counter()
    k_choice = choice_of_k(space, config.seed)
    seconds["choice_of_k"] = time.perf_counter() - stage
    seconds["total"] = time.perf_counter() - started
    is_poisoned = train_set.is_poisoned[members]
    result = {
        "run_id": run_id,
        "method": config.method,
        "title": EMBEDDING_TITLES[config.method],
        "class": class_id,
        "class_name": class_names[class_id],
        "n_samples": len(members),
        "n_poisoned": int(is_poisoned.sum()),
        "axes": axes,
        "config": config.model_dump(),
        "seconds": seconds,
        "device": str(torch_device),
        "sample_index": members.tolist(),
        "sample_poisoned": is_poisoned.astype(int).tolist(),
        "predicted": predicted.tolist(),
        "trigger_share": [None if np.isnan(v) else round(float(v), 6) for v in trigger_share],
        "coords": np.asarray(picture, dtype=float).round(6).tolist(),
        "k_choice": k_choice,
        "eigenvalues": None if eigenvalues is None else eigenvalues.round(8).tolist(),
        "landmark_positions": None if landmarks is None else landmarks.tolist(),
    }
    EMBEDDINGS.save(store, run_id, config, result)
    progress("embedding", 1.0, f"{len(members)} samples")
    return result


def find_embedding(saved: list[dict], settings_name: str, class_id: int) -> dict | None:
    """The newest saved embedding of `class_id` whose settings_name is `settings_name`; a file
    whose config no longer validates (edited, or from another version) is passed over."""
    for embedding in saved:
        try:
            config = EmbedConfig.model_validate(embedding["config"])
        except ValidationError:
            continue
        if embedding["class"] == class_id and config.settings_name() == settings_name:
            return embedding
    return None


def eigengaps(eigenvalues: list[float]) -> dict[int, float]:
    """k -> the gap lambda_k - lambda_(k-1) (0-based, ascending eigenvalues): a large gap after
    the k-th smallest eigenvalue suggests k clusters."""
    return {
        k: float(eigenvalues[k] - eigenvalues[k - 1]) for k in K_CHOICES if k < len(eigenvalues)
    }


# What the explorer reads of a saved embedding; a file without these is damaged.
EMBEDDING_KEYS = (
    "method",
    "class",
    "config",
    "axes",
    "sample_index",
    "sample_poisoned",
    "predicted",
    "trigger_share",
    "coords",
    "k_choice",
)
EMBEDDINGS = RunResults("embeddings", EMBEDDING_KEYS)
# The pages' names for them: (store, run_id, EmbedConfig) and (store, run_id).
embedding_path = EMBEDDINGS.path
load_embedding = EMBEDDINGS.load
load_embeddings = EMBEDDINGS.load_all
