"""The batched GW engine against POT's entropic_gromov_wasserstein2 run with strict tolerances."""

import math

import numpy as np
import ot
import pytest
import torch

from heatclust_core.errors import ConfigError
from heatclust_core.gw.engine import GWOptions, MetricMeasure, gromov_wasserstein


def _cloud(rng, n):
    points = rng.uniform(0, 32, size=(n, 2))
    C = ot.dist(points, points, metric="euclidean")
    p = rng.uniform(0.1, 1.0, n)
    return C / C.max(), p / p.sum()


def _space(C, p):
    return MetricMeasure(torch.from_numpy(C), torch.from_numpy(p))


# At 0.01 the strict POT reference alone takes ~20 s: the full tier only.
@pytest.mark.parametrize("epsilon", [0.1, pytest.param(0.01, marks=pytest.mark.slow)])
def test_batched_values_match_pot_strict_reference(epsilon):
    rng = np.random.default_rng(0)
    clouds = [_cloud(rng, n) for n in (12, 30, 47, 25, 60, 33)]
    pairs = [(clouds[i], clouds[j]) for i in range(len(clouds)) for j in range(i + 1, len(clouds))]
    reference = np.array(
        [
            ot.gromov.entropic_gromov_wasserstein2(
                C1,
                C2,
                p,
                q,
                "square_loss",
                epsilon=epsilon,
                max_iter=5000,
                tol=1e-12,
                stopThr=1e-12,
                numItermax=100000,
            )
            for (C1, p), (C2, q) in pairs
        ]
    )
    strict = gromov_wasserstein(
        [(_space(*a), _space(*b)) for a, b in pairs],
        GWOptions(epsilon=epsilon, tol=1e-8, inner_tol=1e-10),
        device="cpu",
        dtype=torch.float64,
    ).values.numpy()
    fast = gromov_wasserstein(
        [(_space(*a), _space(*b)) for a, b in pairs], GWOptions(epsilon=epsilon), device="cpu"
    ).values.numpy()
    # float64 with strict stopping: the same numbers as POT; float32 defaults: within 0.1 %.
    np.testing.assert_allclose(strict, reference, rtol=1e-6)
    np.testing.assert_allclose(fast, reference, rtol=1e-3)


def test_plans_are_couplings_of_the_two_measures():
    rng = np.random.default_rng(1)
    (C1, p), (C2, q) = _cloud(rng, 20), _cloud(rng, 35)
    result = gromov_wasserstein(
        [(_space(C1, p), _space(C2, q))], GWOptions(epsilon=0.05), return_plans=True
    )
    plan = result.plans[0].numpy()
    assert plan.shape == (20, 35)
    np.testing.assert_allclose(plan.sum(1), p, atol=1e-5)
    np.testing.assert_allclose(plan.sum(0), q, atol=1e-5)


def test_identical_spaces_are_closer_than_different_ones():
    rng = np.random.default_rng(2)
    a, b = _cloud(rng, 25), _cloud(rng, 25)
    values = gromov_wasserstein(
        [(_space(*a), _space(*a)), (_space(*a), _space(*b))], GWOptions(epsilon=0.01)
    ).values
    assert values[0] < values[1]


def test_order_of_pairs_is_preserved_across_size_buckets():
    rng = np.random.default_rng(3)
    clouds = [_cloud(rng, n) for n in (80, 10, 45, 10, 80)]
    pairs = [(_space(*c), _space(*clouds[1])) for c in clouds]
    together = gromov_wasserstein(pairs, GWOptions(epsilon=0.05)).values
    alone = [gromov_wasserstein([pair], GWOptions(epsilon=0.05)).values[0] for pair in pairs]
    np.testing.assert_allclose(together.numpy(), np.array(alone), rtol=1e-4)


def test_invalid_epsilon_is_refused():
    with pytest.raises(ConfigError) as error:
        GWOptions(epsilon=0)
    assert error.value.parameter == "epsilon"


def test_pairwise_matrix_is_symmetric_and_matches_single_pairs():
    from heatclust_core.gw.engine import pairwise_gw

    rng = np.random.default_rng(4)
    spaces = [_space(*_cloud(rng, n)) for n in (10, 14, 9, 12)]
    matrix = pairwise_gw(spaces, GWOptions(epsilon=0.05)).numpy()
    assert matrix.shape == (4, 4)
    np.testing.assert_array_equal(matrix, matrix.T)
    assert np.all(np.diag(matrix) == 0)
    single = gromov_wasserstein([(spaces[0], spaces[2])], GWOptions(epsilon=0.05)).values[0]
    assert matrix[0, 2] == pytest.approx(single.item(), rel=1e-4)


def _strict(epsilon):
    return GWOptions(epsilon=epsilon, tol=1e-8, inner_tol=1e-10)


def test_start_plan_matches_pot_started_at_the_same_plan():
    rng = np.random.default_rng(5)
    pairs = [(_cloud(rng, 18), _cloud(rng, 26)), (_cloud(rng, 30), _cloud(rng, 12))]
    # A start away from p q^T: the product coupling tilted towards matching points by index.
    starts = []
    for (_, p), (_, q) in pairs:
        tilt = np.exp(-np.abs(np.arange(len(p))[:, None] / len(p) - np.arange(len(q)) / len(q)))
        plan = ot.sinkhorn(p, q, -tilt, 0.1, numItermax=10000, stopThr=1e-12)
        starts.append(plan)
    reference = [
        ot.gromov.entropic_gromov_wasserstein2(
            C1,
            C2,
            p,
            q,
            "square_loss",
            epsilon=0.05,
            G0=start,
            max_iter=5000,
            tol=1e-12,
            stopThr=1e-12,
            numItermax=100000,
        )
        for ((C1, p), (C2, q)), start in zip(pairs, starts, strict=True)
    ]
    ours = gromov_wasserstein(
        [(_space(*a), _space(*b)) for a, b in pairs],
        _strict(0.05),
        device="cpu",
        dtype=torch.float64,
        initial_plans=[torch.from_numpy(s) for s in starts],
    ).values.numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-6)


def test_starting_at_a_solution_ends_there_at_once():
    rng = np.random.default_rng(6)
    pair = (_space(*_cloud(rng, 40)), _space(*_cloud(rng, 32)))
    cold = gromov_wasserstein([pair], _strict(0.01), dtype=torch.float64, return_plans=True)
    plan_only = gromov_wasserstein(
        [pair], _strict(0.01), dtype=torch.float64, initial_plans=cold.plans
    )
    warm = gromov_wasserstein(
        [pair],
        _strict(0.01),
        dtype=torch.float64,
        initial_plans=cold.plans,
        initial_potentials=cold.potentials,
    )
    for result in (plan_only, warm):
        assert result.values[0].item() == pytest.approx(cold.values[0].item(), rel=1e-6)
    # The plan alone still leaves Sinkhorn to converge again; with its potentials, nothing is.
    assert warm.iterations[0] <= 2 < plan_only.iterations[0] <= cold.iterations[0]


def test_start_plan_of_the_wrong_shape_is_refused():
    rng = np.random.default_rng(7)
    pair = (_space(*_cloud(rng, 5)), _space(*_cloud(rng, 6)))
    with pytest.raises(ValueError, match="shape"):
        gromov_wasserstein([pair], initial_plans=[torch.ones(6, 5)])
    with pytest.raises(ValueError, match="potentials"):
        gromov_wasserstein([pair], initial_potentials=[(torch.zeros(6), torch.zeros(5))])


def test_logsumexp_clamps_like_torch_where_nothing_underflows():
    from heatclust_core.gw.engine import _exp_floor, _logsumexp_

    generator = torch.Generator().manual_seed(0)
    x = -1000 * torch.rand(4, 30, 7, generator=generator, dtype=torch.float64)
    x[1, 3] = -math.inf  # a padded row
    floor = _exp_floor(torch.float32)
    expected = torch.logsumexp(x, dim=2)
    got = _logsumexp_(x.clone(), 2, floor)
    finite = torch.isfinite(expected)
    # The largest term of each row is exp(0) after the shift, and a clamped term adds at most
    # exp(floor) ~ 1e-38 to it: the same value, and finite on the padded row.
    torch.testing.assert_close(got[finite], expected[finite])
    assert torch.isfinite(got).all()
    assert math.exp(floor) >= torch.finfo(torch.float32).tiny


def test_float32_agrees_with_float64_where_kernels_underflow():
    # At epsilon 0.003 most kernel entries are below float32's normal range: the clamped
    # exponentials must leave the values where float64 puts them.
    rng = np.random.default_rng(3)
    clouds = [_cloud(rng, n) for n in (40, 64, 90)]
    centre = _cloud(rng, 16)
    pairs = [(_space(*c), _space(*centre)) for c in clouds]
    options = GWOptions(epsilon=0.003, tol=1e-6, inner_max_iter=500, inner_tol=1e-6)
    single = gromov_wasserstein(pairs, options, device="cpu", dtype=torch.float32).values
    double = gromov_wasserstein(pairs, options, device="cpu", dtype=torch.float64).values
    np.testing.assert_allclose(single.numpy(), double.numpy(), rtol=1e-3)


def test_over_relaxed_sinkhorn_reaches_the_same_values_in_fewer_products():
    # Over-relaxation changes how each projection gets to its fixed point, not the point: at
    # the HC operating point's epsilon the values must be POT's strict ones.
    rng = np.random.default_rng(4)
    clouds = [_cloud(rng, n) for n in (30, 45, 60)]
    centre = _cloud(rng, 16)
    reference = np.array(
        [
            ot.gromov.entropic_gromov_wasserstein2(
                C1,
                centre[0],
                p,
                centre[1],
                "square_loss",
                epsilon=0.003,
                max_iter=5000,
                tol=1e-11,
                stopThr=1e-11,
                numItermax=100000,
            )
            for C1, p in clouds
        ]
    )
    pairs = [(_space(*c), _space(*centre)) for c in clouds]
    results = {
        relaxation: gromov_wasserstein(
            pairs,
            GWOptions(
                epsilon=0.003,
                inner_max_iter=2000,
                inner_tol=1e-8,
                inner_relaxation=relaxation,
            ),
            device="cpu",
            dtype=torch.float64,
        )
        for relaxation in (1.0, 1.75)
    }
    for result in results.values():
        np.testing.assert_allclose(result.values.numpy(), reference, rtol=1e-5)
    assert results[1.75].sinkhorn_matvecs.sum() < results[1.0].sinkhorn_matvecs.sum() / 2


@pytest.mark.parametrize("relaxation", [0.9, 2.0])
def test_relaxation_outside_one_to_two_is_refused(relaxation):
    with pytest.raises(ConfigError, match="inner_relaxation"):
        GWOptions(inner_relaxation=relaxation)
