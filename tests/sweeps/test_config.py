"""Custom sweeps as the command line and the Compare page build them."""

import pytest

from heatclust_core.config import TrainConfig
from heatclust_core.errors import ConfigError
from heatclust_core.sweeps.config import custom_sweep

AXES = {
    "kinds": ["standard"],
    "p": [33.0, 15.0],
    "sticker_size": [3],
    "amp": [128],
    "seeds": [0, 1],
}


def test_a_custom_sweep_expands_to_every_combination_with_its_budget():
    sweep = custom_sweep("custom", {"images_per_class": 40}, {"epochs": 3}, AXES, ["ac"])
    cells = sweep.cells()
    assert len(cells) == 4
    assert {(c.attack.p, c.attack.seed, c.train.seed) for c in cells} == {
        (33.0, 0, 0),
        (33.0, 1, 1),
        (15.0, 0, 0),
        (15.0, 1, 1),
    }
    assert all(c.train.epochs == 3 and c.data.images_per_class == 40 for c in cells)


@pytest.mark.parametrize(
    ("data", "epochs", "axes", "parameter"),
    [
        ({}, 3, AXES | {"p": [33.0, 150.0]}, "attack.p"),
        ({}, 3, AXES | {"amp": [300]}, "attack.amp"),
        ({}, 0, AXES, "train.epochs"),
        ({"images_per_class": 1}, 3, AXES, "data.images_per_class"),
        ({}, 3, AXES | {"seeds": []}, "seeds"),
    ],
)
def test_a_bad_value_is_refused_naming_its_parameter(data, epochs, axes, parameter):
    with pytest.raises(ConfigError) as caught:
        custom_sweep("custom", data, {"epochs": epochs}, axes, ["ac"])
    assert caught.value.parameter == parameter


def test_every_cell_shares_the_sweep_s_sticker_and_its_ids_change_with_it():
    plain = custom_sweep("custom", {}, {"epochs": 3}, AXES, ["ac"])
    cornered = custom_sweep(
        "custom", {}, {"epochs": 3}, AXES, ["ac"], {"sticker_placement": "corners"}
    )
    assert {c.attack.sticker_placement for c in cornered.cells()} == {"corners"}
    assert {c.attack.sticker_placement for c in plain.cells()} == {"window"}
    assert plain.sweep_id() != cornered.sweep_id()
    with pytest.raises(ConfigError) as caught:
        custom_sweep("custom", {}, {"epochs": 3}, AXES, ["ac"], {"sticker_color": "red"})
    assert caught.value.parameter == "attack.sticker_color"


def test_an_amplitude_sweep_s_id_ignores_the_sticker_its_cells_do_not_stamp():
    axes = {"kinds": ("amplitude",), "amp": (64, 32)}
    plain = custom_sweep("amp", {}, {"epochs": 3}, axes, ["ac"])
    green = custom_sweep("amp", {}, {"epochs": 3}, axes, ["ac"], {"sticker_color": "yellow-green"})
    assert [c.attack.relevant_fields() for c in plain.cells()] == [
        c.attack.relevant_fields() for c in green.cells()
    ]
    assert plain.sweep_id() == green.sweep_id()
    mixed = {"kinds": ("amplitude", "standard"), "amp": (64,)}
    assert (
        custom_sweep("mix", {}, {"epochs": 3}, mixed, ["ac"]).sweep_id()
        != custom_sweep(
            "mix", {}, {"epochs": 3}, mixed, ["ac"], {"sticker_color": "yellow-green"}
        ).sweep_id()
    )


def test_an_amplitude_sweep_s_cells_stamp_its_pattern_and_its_id_says_which():
    axes = {"kinds": ("amplitude",), "amp": (64, 32)}
    plain = custom_sweep("amp", {}, {"epochs": 3}, axes, ["ac"])
    paper = custom_sweep("amp", {}, {"epochs": 3}, axes, ["ac"], {"amp_pattern": "paper"})
    assert {c.attack.amp_pattern for c in plain.cells()} == {"checkerboard"}
    assert {c.attack.amp_pattern for c in paper.cells()} == {"paper"}
    assert plain.sweep_id() != paper.sweep_id()
    with pytest.raises(ConfigError) as caught:
        custom_sweep("amp", {}, {"epochs": 3}, axes, ["ac"], {"amp_pattern": "stripes"})
    assert caught.value.parameter == "attack.amp_pattern"


def test_every_cell_trains_the_sweep_s_head_and_precision_and_its_id_says_which():
    plain = custom_sweep("custom", {}, {"epochs": 3}, AXES, ["ac"])
    max_head = custom_sweep("custom", {}, {"epochs": 3, "head_pool": "max"}, AXES, ["ac"])
    assert {c.train.head_pool for c in plain.cells()} == {TrainConfig().head_pool}
    assert {c.train.head_pool for c in max_head.cells()} == {"max"}
    assert {c.train.epochs for c in max_head.cells()} == {3}
    assert plain.sweep_id() != max_head.sweep_id()
    with pytest.raises(ConfigError) as caught:
        custom_sweep("custom", {}, {"epochs": 3, "precision": "float8"}, AXES, ["ac"])
    assert caught.value.parameter == "train.precision"
