"""The shipped example in the app (AppTest over a tiny example): the landing page's story, the
example's runs and sweeps in Inspect and Compare, read-only, and hidden on request."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

# Drives the app (AppTest): the slow tier.
pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT_S = 120


def start(page: str | None = None, **query) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def chart_ids(app: AppTest) -> list[str]:
    return [element.proto.id for element in app.get("plotly_chart")]


def test_the_landing_page_tells_the_examples_story(example_env):
    app = start()
    text = " ".join(m.value for m in app.markdown)
    assert "Example shipped with HeatClust" in " ".join(c.value for c in app.caption)
    assert "Heatmap Clustering flags" in text and "of the" in text
    charts = " ".join(chart_ids(app))
    for key in ("home-asr", "home-detectors", "home-mds", "home-heatmaps"):
        assert key in charts, key
    assert [d for d in app.get("download_button")], "no report download"
    assert len(app.dataframe) == 2  # the sweeps over p and over amp


def test_the_landing_page_loads_no_scikit_learn_torchvision_or_zennit(example_env):
    # In a fresh interpreter: the first page must not wait for them (ui/warmup.py loads them
    # after it, switched off here).
    script = (
        "import sys\n"
        "import ui.warmup\n"
        "ui.warmup.start = lambda: None\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"app = AppTest.from_file({APP!r}, default_timeout={TIMEOUT_S}).run()\n"
        "assert not app.exception, app.exception\n"
        "assert len(app.get('plotly_chart')) >= 4\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'torchvision', 'zennit') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(APP).parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_inspect_shows_the_example_read_only(example_env):
    run = example_env["main_run"]
    app = start("pages/inspect.py", run=f"example-{run}")
    assert any("shipped example (read-only)" in i.value for i in app.info)
    assert not [b for b in app.button if b.label == "Heatmap Clustering"]
    charts = " ".join(chart_ids(app))
    assert "asr-chart" in charts and "heatmap-gallery" in charts and "clusters-" in charts
    # Another class: its images are not shipped, and the page says so.
    app.selectbox[1].set_value(0).run()
    assert not app.exception
    assert any("target class only" in c.value for c in app.caption)


def test_a_sweep_cell_of_the_example_shows_its_results_without_a_network(example_env):
    from heatclust_core.example.shipped import example_store

    store = example_store(Path(__import__("os").environ["HEATCLUST_EXAMPLE_DIR"]))
    cell = next(r for r in store.run_ids() if not store.has_network(r))
    app = start("pages/inspect.py", run=f"example-{cell}")
    assert "clusters-" in " ".join(chart_ids(app))
    assert any("results and cluster assignments only" in c.value for c in app.caption) or any(
        "rates and cluster assignments only" in c.value for c in app.caption
    )


def inspect_link(app: AppTest) -> str:
    """The query string of the live-tuning cell's "Inspect run" link."""
    links = [e.proto for e in app.get("page_link") if e.proto.label.startswith("Inspect run")]
    return links[0].query_string


def test_compare_lists_the_example_sweeps_and_tunes_between_cells(example_env):
    app = start("pages/compare.py")
    picker = next(s for s in app.selectbox if s.label == "Sweep")
    options = picker.options
    assert len(options) == 2 and all(label.startswith("Example · ") for label in options)
    picker.select_index(next(i for i, o in enumerate(options) if "tiny-p" in o))
    app.run()
    assert not [b for b in app.button if b.label == "Queue this cell"]
    first = inspect_link(app)
    assert first.startswith("run=example-")
    slider = app.select_slider[0]
    slider.set_value(slider.options[-1]).run()
    assert not app.exception
    assert inspect_link(app).startswith("run=example-") and inspect_link(app) != first


def test_damaged_landing_page_heatmaps_are_reported_and_the_rest_drawn(
    example_env, tmp_path, monkeypatch
):
    import shutil

    example_dir = tmp_path / "example"
    shutil.copytree(Path(os.environ["HEATCLUST_EXAMPLE_DIR"]), example_dir)
    monkeypatch.setenv("HEATCLUST_EXAMPLE_DIR", str(example_dir))
    (example_dir / "gallery.npz").write_bytes(b"not an archive")
    app = start()
    assert any("heatmaps cannot be shown" in w.value for w in app.warning)
    charts = " ".join(chart_ids(app))
    assert "home-asr" in charts and "home-heatmaps" not in charts


def test_the_sidebar_hides_the_example(example_env):
    app = start()
    app.sidebar.toggle[0].set_value(False).run()
    assert any("hidden (sidebar) or absent" in i.value for i in app.info)
    app.switch_page("pages/inspect.py").run()
    assert any("No finished runs yet" in i.value for i in app.info)
