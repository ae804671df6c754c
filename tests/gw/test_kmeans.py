from dataclasses import replace

import numpy as np
import pytest
import torch

from heatclust_core.errors import ConfigError
from heatclust_core.explain.point_cloud import point_cloud
from heatclust_core.gw.engine import GWOptions
from heatclust_core.gw.kmeans import (
    EngineBackend,
    GWKMeansOptions,
    barycenter_step,
    gw_kmeans,
    seed_centre,
)


def _blob(rng, centre, spread, n=30):
    heatmap = np.zeros((32, 32))
    points = np.clip(rng.normal(centre, spread, size=(n, 2)).round().astype(int), 0, 31)
    for r, c in points:
        heatmap[r, c] += rng.uniform(0.5, 1.0)
    return point_cloud(heatmap, 1.0).metric_measure()


def _spots(rng, centres, n=20):
    heatmap = np.zeros((32, 32))
    points = np.concatenate([rng.normal(c, 1.5, (n, 2)) for c in centres])
    for r, c in np.clip(points.round().astype(int), 0, 31):
        heatmap[r, c] += rng.uniform(0.5, 1.0)
    return point_cloud(heatmap, 1.0).metric_measure()


def _two_blobs(rng):
    return _spots(rng, [(8, 8), (24, 24)])


@pytest.mark.parametrize("warm_start", [pytest.param(True, marks=pytest.mark.slow), False])
def test_separates_two_spot_from_one_spot_relevance(warm_start):
    """Distances are scaled to a maximum of 1, so shape (one or two spots) is what counts."""
    rng = np.random.default_rng(0)
    two_spots = [_two_blobs(rng) for _ in range(12)]
    one_spot = [_blob(rng, rng.uniform(10, 22, 2), 3.0, 40) for _ in range(20)]
    reports = []
    result = gw_kmeans(
        two_spots + one_spot,
        GWKMeansOptions(k=2, barycenter_size=12, max_iter=8, seed=1, warm_start=warm_start),
        GWOptions(epsilon=0.01),
        progress=lambda stage, fraction, message="": reports.append((fraction, message)),
    )
    truth = np.array([1] * 12 + [0] * 20)
    agreement = max((result.labels == truth).mean(), (result.labels != truth).mean())
    assert agreement == 1.0
    assert result.distances.shape == (32, 2)
    assert result.iterations < 8
    # Converged before the cap: the stage reports itself done, not iterations / max_iter.
    assert reports[-1][0] == 1.0 and reports[-1][1].endswith("0 moved, converged")
    assert all(fraction < 1.0 for fraction, _ in reports[:-1])
    assert np.all(
        result.distances[np.arange(32), result.labels] <= result.distances.min(axis=1) + 1e-12
    )


def test_barycenter_of_one_space_under_its_identity_plan_is_itself():
    rng = np.random.default_rng(1)
    space = seed_centre(_blob(rng, (16, 16), 4.0), 10)
    plan = torch.diag(space.p)
    C = barycenter_step([space], [plan], space.p)
    torch.testing.assert_close(C, space.C.double())


def test_seed_centre_takes_the_heaviest_points_with_uniform_weights():
    rng = np.random.default_rng(2)
    space = _blob(rng, (16, 16), 5.0)
    centre = seed_centre(space, 5)
    assert centre.size == 5
    torch.testing.assert_close(centre.p, torch.full((5,), 0.2, dtype=centre.p.dtype))
    assert centre.C.max() == pytest.approx(1.0)


def test_k_below_two_is_refused():
    with pytest.raises(ConfigError) as error:
        GWKMeansOptions(k=1)
    assert error.value.parameter == "k"


@pytest.mark.slow
def test_warm_starts_solve_fewer_gw_iterations_for_the_same_clusters():
    rng = np.random.default_rng(3)
    spaces = [_two_blobs(rng) for _ in range(8)] + [
        _blob(rng, rng.uniform(10, 22, 2), 3.0, 40) for _ in range(12)
    ]
    iterations, labels = {}, {}
    for warm in (True, False):
        options = GWKMeansOptions(k=2, barycenter_size=12, max_iter=6, seed=2, warm_start=warm)
        backend = EngineBackend(GWOptions(epsilon=0.01), "cpu", 2)
        labels[warm] = gw_kmeans(spaces, options, backend=backend).labels
        iterations[warm] = backend.n_gw_iterations
    assert (labels[True] == labels[False]).all()
    assert iterations[True] < 0.8 * iterations[False]


def test_first_assignment_reuses_the_seeding_solves():
    """k-means++ has already solved every sample against every seed centre, which the first
    assignment would repeat: only the later assignments and the barycenter steps solve."""
    rng = np.random.default_rng(4)
    spaces = [_two_blobs(rng) for _ in range(6)] + [
        _blob(rng, rng.uniform(10, 22, 2), 3.0, 40) for _ in range(10)
    ]
    n, k, barycenter_iter = len(spaces), 2, 2
    backend = EngineBackend(GWOptions(epsilon=0.01), "cpu", barycenter_iter)
    options = GWKMeansOptions(k=k, barycenter_size=12, max_iter=6, seed=2)
    result = gw_kmeans(spaces, options, backend=backend)
    assert result.history[-1]["changed"] == 0  # converged: no assignment after the loop
    seeding = k * (1 + (barycenter_iter - 1)) + k * n
    later_assignments = (result.iterations - 1) * k * n
    barycenter_steps = (result.iterations - 1) * n * (barycenter_iter - 1)
    assert backend.n_gw == seeding + later_assignments + barycenter_steps


def _three_populations(rng):
    """Clouds of one spot, two spots and three spots in a row: three shapes."""
    return (
        [_blob(rng, rng.uniform(10, 22, 2), 3.0, 40) for _ in range(8)]
        + [_two_blobs(rng) for _ in range(8)]
        + [_spots(rng, [(4, 4), (16, 16), (28, 28)]) for _ in range(8)]
    )


def test_a_fit_started_from_fewer_centres_keeps_them_and_seeds_only_the_new_one():
    rng = np.random.default_rng(5)
    spaces = _three_populations(rng)
    n, gw = len(spaces), GWOptions(epsilon=0.01)
    options = GWKMeansOptions(k=2, barycenter_size=12, max_iter=8, seed=0)
    two = gw_kmeans(spaces, options, gw, keep_states=True)
    assert len(two.states) == n and all(len(row) == 2 for row in two.states)
    backend = EngineBackend(gw, "cpu", 1)
    reports = []
    three = gw_kmeans(
        spaces,
        replace(options, k=3),
        backend=backend,
        start=two,
        progress=lambda stage, fraction, message="": reports.append(message),
    )
    assert three.states is None  # not asked to keep them
    assert reports[0] == "seeded from k = 2 with k-means++"
    truth = np.repeat([0, 1, 2], 8)
    assert len(set(zip(three.labels, truth, strict=True))) == 3  # the three shapes, apart
    # Seeding solved only the new centre: its one-sample barycenter and its n distances.
    assert three.history[-1]["changed"] == 0  # converged: no assignment after the loop
    seeding = 1 + n
    assert backend.n_gw == seeding + (three.iterations - 1) * 3 * n
    # Its first assignment read the k = 2 fit's distances for the two centres it kept.
    assert three.history[0]["changed"] == n


def test_a_start_without_states_or_with_as_many_centres_is_refused():
    rng = np.random.default_rng(6)
    spaces = _three_populations(rng)[::3]
    options = GWKMeansOptions(k=2, barycenter_size=8, max_iter=2, seed=0)
    two = gw_kmeans(spaces, options, GWOptions(epsilon=0.02))
    with pytest.raises(ValueError, match="states"):
        gw_kmeans(spaces, replace(options, k=3), start=two)
    two.states = [[None, None]] * len(spaces)
    with pytest.raises(ValueError, match="fewer than k"):
        gw_kmeans(spaces, options, start=two)


def test_stops_once_an_iteration_moves_at_most_tol_moved_of_the_samples():
    """One-spot clouds of graded spread: k-means splits them by spread and keeps moving
    the borderline ones for a few iterations (16, 5, 2, 1, then 0 moved)."""
    rng = np.random.default_rng(3)
    spaces = [_blob(rng, rng.uniform(8, 24, 2), spread, 30) for spread in np.linspace(1, 6, 16)]
    n, k = len(spaces), 2
    exact = gw_kmeans(spaces, GWKMeansOptions(k=k, barycenter_size=12, max_iter=6, seed=1))
    assert [h["changed"] for h in exact.history] == [16, 5, 2, 1, 0]
    backend = EngineBackend(GWOptions(epsilon=0.01), "cpu", 1)
    loose = gw_kmeans(
        spaces,
        GWKMeansOptions(k=k, barycenter_size=12, max_iter=6, seed=1, tol_moved=0.15),
        backend=backend,
    )
    # 2 moved <= 0.15 * 16: it stops at the third assignment, on the same path as before.
    assert [h["changed"] for h in loose.history] == [16, 5, 2]
    # The labels are the assignment to the centres returned, with no pass after the loop:
    # seeding (k centres, each solved against all samples) and two more assignments.
    assert (loose.labels == loose.distances.argmin(axis=1)).all()
    assert backend.n_gw == k + k * n + 2 * k * n


def test_tol_moved_of_one_is_refused():
    with pytest.raises(ConfigError) as error:
        GWKMeansOptions(tol_moved=1.0)
    assert error.value.parameter == "tol_moved"


def test_library_defaults_are_the_detect_configs():
    """GWKMeansOptions used from Python runs the k-means `detect --detector hc` runs."""
    from dataclasses import fields

    from heatclust_core.detection.config import DetectConfig

    config = DetectConfig()
    shared = {f.name for f in fields(GWKMeansOptions)} & set(DetectConfig.model_fields)
    assert {"k", "max_iter", "tol_moved", "barycenter_size", "barycenter_iter", "seed"} <= shared
    options = GWKMeansOptions()
    for name in shared:
        assert getattr(options, name) == getattr(config, name), name
