"""The table of job kinds covers the registry's kinds, and each row runs its config model."""

from heatclust_core.jobs.kinds import JOB_KIND_TABLE
from heatclust_core.jobs.registry import JOB_KINDS


def test_every_registry_kind_has_one_row_with_a_slot():
    assert set(JOB_KIND_TABLE) == set(JOB_KINDS)
    assert {kind.slot for kind in JOB_KIND_TABLE.values()} == {"train", "analysis"}
    # Whatever trains a network shares the training slot.
    assert {name for name, kind in JOB_KIND_TABLE.items() if kind.slot == "train"} == {
        "train",
        "sweep",
        "remediate",
    }


def test_each_kinds_default_config_round_trips_through_the_registrys_json():
    import json

    for name, kind in JOB_KIND_TABLE.items():
        if name == "sweep":
            continue  # a sweep has no default grid to round-trip
        config = kind.config()
        assert kind.config.model_validate(json.loads(json.dumps(config.model_dump()))) == config
