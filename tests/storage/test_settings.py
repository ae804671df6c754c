"""Where files live: the defaults, the environment's overrides, the web app's data roots."""

import os
from pathlib import Path

import pytest

from heatclust_core.storage import settings

VARIABLES = (
    "HEATCLUST_DATA_DIR",
    "HEATCLUST_MODELS_DIR",
    "HEATCLUST_STATE_DIR",
    "HEATCLUST_EXAMPLE_DIR",
    "HEATCLUST_SHOW_EXAMPLE",
    "HEATCLUST_DATA_ROOTS",
)


@pytest.fixture
def clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_defaults_are_folders_of_the_working_directory(clean_environment):
    current = settings.current()
    assert current.data_dir == Path("data")
    assert current.models_dir == Path("models")
    assert current.state_dir == Path("state")
    assert current.example_dir == Path("example")
    assert current.data_roots == (Path("data"),)
    assert current.show_example


def test_each_folder_follows_its_variable(clean_environment, tmp_path):
    for name in VARIABLES[:4]:
        clean_environment.setenv(name, str(tmp_path / name.lower()))
    current = settings.current()
    assert current.data_dir == tmp_path / "heatclust_data_dir"
    assert current.models_dir == tmp_path / "heatclust_models_dir"
    assert current.state_dir == tmp_path / "heatclust_state_dir"
    assert current.example_dir == tmp_path / "heatclust_example_dir"


@pytest.mark.parametrize(
    ("value", "shown"), [("0", False), ("off", False), (" No ", False), ("1", True), ("yes", True)]
)
def test_the_example_can_be_hidden(clean_environment, value, shown):
    clean_environment.setenv("HEATCLUST_SHOW_EXAMPLE", value)
    assert settings.current().show_example is shown


def test_the_data_roots_list_the_data_dir_first_without_repeats(clean_environment, tmp_path):
    clean_environment.setenv("HEATCLUST_DATA_DIR", str(tmp_path / "a"))
    listed = [str(tmp_path / "b"), "", str(tmp_path / "a" / "."), str(tmp_path / "c" / ".." / "b")]
    clean_environment.setenv("HEATCLUST_DATA_ROOTS", os.pathsep.join(listed))
    assert settings.current().data_roots == (tmp_path / "a", tmp_path / "b")
