"""pipeline.resolve settles a config against its data once; train_run trusts what it settled."""

import numpy as np
import pytest
import torch

from heatclust_core.attacks.metrics import poisons_read_as_target
from heatclust_core.attacks.poison import poison, poison_count
from heatclust_core.config import AttackConfig, ResolvedRunConfig, RunConfig
from heatclust_core.data.loading import class_names, load_dataset, pool_class_counts
from heatclust_core.errors import ConfigError
from heatclust_core.pipeline import resolve, surrogate_config


def test_resolve_fills_the_classes_and_counts_the_poisons_once(tiny_data):
    config = RunConfig(data=tiny_data)
    resolved = resolve(config)
    assert isinstance(resolved, ResolvedRunConfig)
    assert (resolved.attack.source, resolved.attack.target) == (2, 5)
    assert resolved.n_poisoned == poison_count(resolved.attack, pool_class_counts(tiny_data))
    assert resolved.n_poisoned > 0
    # Same content and id as the plain config it stands for; saved configs stay RunConfigs.
    assert resolved.model_dump() == config.resolved(class_names(tiny_data)).model_dump()
    assert resolved.run_id() == RunConfig.model_validate(resolved.model_dump()).run_id()
    assert resolve(resolved) is resolved  # no second look at the data


def test_a_changed_copy_is_no_longer_resolved(tiny_data):
    resolved = resolve(RunConfig(data=tiny_data))
    unchanged = resolved.model_copy()
    assert isinstance(unchanged, ResolvedRunConfig) and unchanged.n_poisoned == resolved.n_poisoned
    surrogate = surrogate_config(resolved)
    assert type(surrogate) is RunConfig and surrogate.attack.kind == "none"
    settled = resolve(surrogate)
    assert settled.n_poisoned == 0 and settled.attack.target == resolved.attack.target


def test_a_p_the_data_cannot_supply_fails_before_anything_is_counted(tiny_data):
    with pytest.raises(ConfigError) as error:
        resolve(RunConfig(data=tiny_data, attack=AttackConfig(p=95.0)))
    assert error.value.parameter == "attack.p"


def test_poisoning_with_the_settled_count_is_poisoning_without_it(tiny_data):
    resolved = resolve(RunConfig(data=tiny_data))
    pool = load_dataset(tiny_data).pool
    counted = poison(pool, resolved.attack, 43, count=resolved.n_poisoned)
    recounted = poison(pool, resolved.attack, 43)
    assert counted.is_poisoned.sum() == resolved.n_poisoned
    np.testing.assert_array_equal(counted.data.images, recounted.data.images)
    np.testing.assert_array_equal(counted.is_poisoned, recounted.is_poisoned)


def test_a_trained_run_keeps_how_its_network_reads_its_poisons(tiny_run):
    store, run_id = tiny_run
    config = store.load_config(run_id)
    stored = store.load_metrics(run_id)["poisons_read_as_target"]
    recomputed = poisons_read_as_target(
        store.load_model(run_id),
        store.load_train_set(run_id),
        load_dataset(config.data).pool.images,
        config.attack.target,
        config.attack.sticker_size,
        torch.device("cpu"),
    )
    assert stored == recomputed
    assert set(stored) == {"with_trigger", "without_trigger"}
    # The standard attack changes no pixel but the sticker's: nothing to read noise against.
    assert store.load_metrics(run_id)["noise_read_as_target"] is None
