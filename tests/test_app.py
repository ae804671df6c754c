"""The Streamlit app through AppTest (no browser needed)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from heatclust_core.data.synthetic import CLASS_NAMES

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("app-data")


def test_first_page_shows_every_class_with_examples_and_counts(monkeypatch, data_dir):
    monkeypatch.setenv("HEATCLUST_DATA_DIR", str(data_dir))
    app = AppTest.from_file(APP, default_timeout=180).run()
    assert not app.exception
    assert app.title[0].value == "Data set"
    markdown = " ".join(m.value for m in app.markdown)
    for class_id, name in enumerate(CLASS_NAMES):
        assert f"{class_id} · {name}" in markdown
    captions = [c.value for c in app.caption]
    assert "15 classes" in captions[0]
    assert sum("750 train+val · 250 test" in c for c in captions) == len(CLASS_NAMES)
    assert len(app.get("image")) == len(CLASS_NAMES)
