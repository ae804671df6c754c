"""Sample ids out of the explorer (CSV, JSON) and back in (remediate --remove-from)."""

import json

import pytest

from heatclust_core.errors import ConfigError
from heatclust_core.explore.export import export_rows, read_sample_ids, to_csv, to_json

EMBEDDING = {
    "sample_index": [4, 8, 15, 16],
    "sample_poisoned": [0, 1, 1, 0],
    "predicted": [5, 5, 2, 5],
}


def test_rows_follow_the_embedding_and_round_trip_through_both_formats(tmp_path):
    rows = export_rows(EMBEDDING, [15, 8], clusters=[0, 1, 1, 0])
    assert rows == [
        {"sample_id": 8, "poisoned": True, "predicted": 5, "cluster": 1},
        {"sample_id": 15, "poisoned": True, "predicted": 2, "cluster": 1},
    ]
    (tmp_path / "a.csv").write_text(to_csv(rows))
    (tmp_path / "a.json").write_text(to_json(rows, {"run_id": "0123456789ab", "class": 5}))
    assert read_sample_ids(tmp_path / "a.csv") == (8, 15)
    assert read_sample_ids(tmp_path / "a.json") == (8, 15)
    assert json.loads((tmp_path / "a.json").read_text())["class"] == 5
    (tmp_path / "bare.json").write_text("[16, 4, 4]")
    assert read_sample_ids(tmp_path / "bare.json") == (4, 16)


@pytest.mark.parametrize("text", ["id\n1\n", '{"ids": [1]}', '[1, "x"]'])
def test_a_file_without_ids_is_refused_naming_the_flag(tmp_path, text):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_sample_ids(path)
    assert caught.value.parameter == "remove_from"
    with pytest.raises(ConfigError, match="cannot read"):
        read_sample_ids(tmp_path / "missing.csv")
