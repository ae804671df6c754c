"""The Explore page through AppTest: every control on the shipped (tiny) example, read-only,
and computing an embedding and removing a selection as jobs on a run of one's own."""

import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from heatclust_core.config import field_help
from heatclust_core.detection.remediation import load_remediations
from heatclust_core.example.shipped import read_manifest
from heatclust_core.explore.config import METHOD_FIELDS, EmbedConfig
from heatclust_core.explore.embeddings import load_embeddings
from heatclust_core.explore.view import COLOUR_MAPS, COLOURING_TITLES, GALLERY_MODES, decode_ids
from heatclust_core.jobs import JobRunner
from heatclust_core.storage.run_store import RunStore

# Drives the app (AppTest) and job processes: the slow tier.
pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT_S = 180


def explore(**query) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    app.switch_page("pages/explore.py").run()
    assert not app.exception, app.exception
    return app


def control(elements, label: str):
    return next(w for w in elements if w.label == label)


def selection_count(app: AppTest) -> int:
    heading = next(h.value for h in app.subheader if h.value.startswith("Selection: "))
    return int(heading.split()[1])


def tiles(app: AppTest) -> int:
    return sum(len(image.proto.imgs) for image in app.get("image"))


def test_every_control_of_the_explorer_on_the_example(example_env):
    run = f"example-{example_env['main_run']}"
    app = explore(run=run)
    assert [s.label for s in app.selectbox][:2] == ["Run", "Class"]
    assert len(control(app.selectbox, "Class").options) == 1  # the example keeps one class
    assert selection_count(app) == 0 and tiles(app) == 0
    assert not [b for b in app.button if b.label.startswith("Compute")]  # read-only

    method = control(app.button_group, "Embedding")
    method.set_value("tsne").run()
    assert any("No t-SNE of the activations" in c.value for c in app.caption)
    control(app.button_group, "Embedding").set_value("spectral").run()
    assert app.query_params["emb"] == "spectral"
    assert "eigengap" in " ".join(c.value for c in app.caption)

    colours = control(app.selectbox, "Colour by")
    titles = [COLOURING_TITLES[name] for name in ("truth", "cluster", "predicted", "trigger")]
    assert colours.options[:4] == titles
    for option in colours.options:
        control(app.selectbox, "Colour by").set_value(option).run()
        assert not app.exception, option
    control(app.select_slider, "Clusters k").set_value(3).run()
    assert app.query_params["k"] == "3"
    table = app.dataframe[0].value
    assert len(table) == 3 and table["size"].sum() > 0

    control(app.button_group, "Select a cluster").set_value(0).run()
    chosen = int(table.loc[table["cluster"] == 0, "size"].iloc[0])
    assert selection_count(app) == chosen
    assert tiles(app) == min(chosen, 60)
    assert len(decode_ids(app.query_params["sel"])) == chosen
    for mode in GALLERY_MODES:
        control(app.button_group, "Show").set_value(mode).run()
        assert tiles(app) == min(chosen, 60), mode
    for cmap in COLOUR_MAPS:
        control(app.selectbox, "Colour map").set_value(cmap).run()
        assert not app.exception, cmap
    downloads = [d for d in app.get("download_button")]
    assert len(downloads) == 4 and not any(d.proto.disabled for d in downloads[:2])
    assert not [b for b in app.button if b.label == "Remove the selection and retrain"]
    link = dict(app.query_params)
    control(app.button, "Clear the selection").click().run()
    assert selection_count(app) == 0 and "sel" not in app.query_params

    # The link restores the view: embedding, colour map, k and the selection.
    again = explore(**link)
    assert selection_count(again) == chosen
    assert control(again.selectbox, "Colour map").value == list(COLOUR_MAPS)[-1]
    assert control(again.select_slider, "Clusters k").value == 3


def test_a_crafted_link_is_refused_parameter_by_parameter(example_env):
    app = explore(
        run=f"example-{example_env['main_run']}", k="99", sel="**x**", color="<b>", view="x"
    )
    warnings = " ".join(w.value for w in app.warning)
    for name in ("k", "sel", "color", "view"):
        assert f"link's {name} parameter" in warnings
    assert "**x**" not in warnings and "<b>" not in warnings
    assert selection_count(app) == 0


def test_an_embedding_and_a_removal_run_as_jobs_on_a_run_of_ones_own(
    monkeypatch, tmp_path, tiny_example
):
    example_dir, work_dir, data_dir, _ = tiny_example
    models = tmp_path / "models"
    main = read_manifest(example_dir)["main_run"]
    shutil.copytree(Path(work_dir) / main, models / main)
    for name, path in (("MODELS", models), ("STATE", tmp_path / "state"), ("DATA", data_dir)):
        monkeypatch.setenv(f"HEATCLUST_{name}_DIR", str(path))
    monkeypatch.setenv("HEATCLUST_SHOW_EXAMPLE", "0")
    app = explore(run=main, emb="pca")
    store, runner = RunStore(models), JobRunner(tmp_path / "state", models)

    def finished(kind: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while any(j.active for j in runner.jobs(kind=kind)):
            assert time.monotonic() < deadline, f"the {kind} job did not end"
            time.sleep(0.5)
        assert [j.status for j in runner.jobs(kind=kind)] == ["done"]

    control(app.button, "Compute the PCA of the activations").click().run()
    finished("embed")
    app.run()
    assert "pca" in [e["method"] for e in load_embeddings(store, main).values]
    # Settings come from the fields: each method's are widgets set to their field's default,
    # with its help text (description and range)...
    for method in [*(m for m in METHOD_FIELDS if m != "pca"), "pca"]:
        control(app.button_group, "Embedding").set_value(method).run()
        for name in ("seed", *METHOD_FIELDS[method], "lrp_composite"):
            field = EmbedConfig.model_fields[name]
            widget = next(
                w
                for w in [*app.number_input, *app.text_input, *app.selectbox]
                if w.label == field.title
            )
            assert widget.value == field.default, (method, name)
            assert widget.help == field_help(EmbedConfig, name), (method, name)
    # ...another seed is another embedding, a bad one is refused.
    control(app.number_input, "Seed").set_value(1).run()
    assert any("with these settings yet" in c.value for c in app.caption)
    assert [b for b in app.button if b.label == "Compute the PCA of the activations"]
    control(app.number_input, "Seed").set_value(-1).run()
    assert any("seed: must be in [0," in e.value for e in app.error)
    control(app.number_input, "Seed").set_value(0).run()
    control(app.button_group, "Select a cluster").set_value(1).run()
    selected = decode_ids(app.query_params["sel"])
    assert len(selected) == selection_count(app) > 0
    control(app.button, "Remove the selection and retrain").click().run()
    finished("remediate")
    (saved,) = load_remediations(store, main).values
    assert saved["removed_index"] == list(selected) and saved["detector"] == "selection"
