"""The explorer's link: every part of the view as a query parameter, validated one by one."""

import numpy as np

from heatclust_core.explore.view import (
    ExploreView,
    decode_ids,
    encode_ids,
    parse_view,
    view_query,
)


def test_id_ranges_round_trip():
    rng = np.random.default_rng(0)
    for size in (0, 1, 2, 50, 400):
        ids = set(rng.integers(0, 600, size).tolist())
        assert decode_ids(encode_ids(ids)) == tuple(sorted(ids))


def test_ids_are_written_as_ranges():
    assert encode_ids([7, 1, 2, 3, 9, 10]) == "1-3.7.9-10"
    assert decode_ids("") == ()


def test_a_view_round_trips_through_its_query():
    view = ExploreView(
        run="example-0123456789ab",
        class_id=5,
        method="spectral",
        settings="spectral-0123456789",
        colour="hc",
        k=4,
        selection=(3, 4, 5, 11),
        mode="overlay",
        cmap="viridis",
    )
    assert parse_view(view_query(view)) == view
    assert parse_view({}) == ExploreView()
    assert view_query(ExploreView(run="0123456789ab")) == {"run": "0123456789ab"}


def test_bad_parameters_fall_back_to_defaults_named_but_never_echoed():
    crafted = "**bold** [link](http://x)"
    query = {
        "run": crafted,
        "class": "-1",
        "emb": crafted,
        "eset": crafted,
        "color": crafted,
        "k": "9",
        "sel": "3-1",
        "view": crafted,
        "cmap": crafted,
    }
    view = parse_view(query)
    assert view == ExploreView()
    assert len(view.problems) == len(query)
    for name, problem in zip(query, view.problems, strict=True):
        assert f"link's {name} parameter" in problem and crafted not in problem
    assert "2..8" in parse_view({"k": "1"}).problems[0]
