"""Every page of the Streamlit app through AppTest (no browser), on tiny runs."""

import base64
import json
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from heatclust_core.attacks.caveats import CHECKERBOARD_BLURRING_AUGMENTATIONS
from heatclust_core.config import (
    AUGMENTATION_NUMBERS,
    AUGMENTATION_SWITCHES,
    AttackConfig,
    AugmentConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    allowed_range,
    field_bounds,
    field_help,
)
from heatclust_core.data.synthetic import CLASS_NAMES
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import load_remediations
from heatclust_core.detection.run import load_detections, run_detection
from heatclust_core.jobs import JobRunner
from heatclust_core.storage.catalog import run_label, run_rows
from heatclust_core.storage.run_store import RunStore

# Drives the app (AppTest) over tiny runs trained by job processes: the slow tier.
pytestmark = pytest.mark.slow

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("app")
    return {name: root / name for name in ("data", "models", "state")}


@pytest.fixture
def app_env(monkeypatch, folders):
    for name, path in folders.items():
        monkeypatch.setenv(f"HEATCLUST_{name.upper()}_DIR", str(path))
    # The shipped example has its own tests (test_app_example.py); these see models/ alone.
    monkeypatch.setenv("HEATCLUST_SHOW_EXAMPLE", "0")
    return folders


def start_app(page: str | None = None, **query) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def widget(elements, label: str):
    return next(w for w in elements if w.label == label)


def chart(app: AppTest, key: str) -> go.Figure:
    """The plotly figure of the first chart whose key contains `key` (arrays decoded)."""
    for element in app.get("plotly_chart"):
        if key in element.proto.id:
            return go.Figure(_decode(json.loads(element.proto.spec)), skip_invalid=True)
    raise AssertionError(f"no chart {key!r}")


def _decode(value):
    """Plotly's JSON keeps numpy arrays as {"dtype", "bdata"[, "shape"]}: back to arrays."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            shape = value.get("shape")
            if isinstance(shape, str):
                shape = [int(n) for n in shape.split(",")]
            return array.reshape(shape) if shape else array
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def poll_until(app: AppTest, done, timeout_s: float = TIMEOUT_S) -> AppTest:
    """Rerun the page (as its polling fragment would) until `done(app)`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.run()
        assert not app.exception, app.exception
        if done(app):
            return app
        time.sleep(0.5)
    raise AssertionError("the page never showed the finished job")


def markdown_text(app: AppTest) -> str:
    return " ".join(m.value for m in app.markdown)


def set_tiny_budget(app: AppTest, seed: int = 0) -> None:
    app.number_input(key="images_per_class").set_value(40)
    app.number_input(key="epochs").set_value(1)
    app.number_input(key="seed").set_value(seed)
    app.run()


@pytest.fixture(scope="module")
def finished_run(folders):
    """A tiny standard-attack run trained by a job, as the app would start it."""
    runner = JobRunner(folders["state"], folders["models"])
    config = RunConfig(
        data=DataConfig(data_dir=str(folders["data"]), images_per_class=20),
        train=TrainConfig(epochs=1, seed=7),
    )
    job = runner.submit_train(config, "cpu").job
    deadline = time.monotonic() + TIMEOUT_S
    while runner.get(job.id).active and time.monotonic() < deadline:
        time.sleep(0.3)
    assert runner.get(job.id).status == "done"
    return job.run_id


def test_data_set_page_shows_every_class_with_examples_and_counts(app_env):
    app = start_app("pages/dataset.py")
    assert app.title[0].value == "Data set"
    markdown = markdown_text(app)
    for class_id, name in enumerate(CLASS_NAMES):
        assert f"{class_id} · {name}" in markdown
    captions = [c.value for c in app.caption]
    assert any("43 classes" in c for c in captions)
    # GTSRB's imbalance: 80 km/h has 612 images, 20 km/h the floor of 105 (a quarter of each
    # for testing).
    assert "459 train+val · 153 test" in captions and "79 train+val · 26 test" in captions
    assert len(app.get("image")) == len(CLASS_NAMES)


def test_sidebar_shows_the_folders_and_the_device(app_env):
    app = start_app()
    sidebar = " ".join(c.value for c in app.sidebar.caption)
    assert str(app_env["data"]) in sidebar and "Device: CPU" in sidebar


def test_attack_page_previews_poisoned_examples_as_parameters_change(app_env):
    app = start_app("pages/attack.py")
    assert app.title[0].value == "Attack & train"
    assert len(app.get("image")) == 3  # clean, poisoned, change rows
    assert any("labelled 5 · Speed limit (80km/h)" in c.value for c in app.caption)
    sticker_keys = ("sticker_color", "sticker_placement")
    assert not any(app.selectbox(key=key).disabled for key in sticker_keys)
    assert app.selectbox(key="amp_pattern").disabled
    assert not app.warning
    app.selectbox(key="kind").set_value("amplitude").run()
    assert all(app.selectbox(key=key).disabled for key in sticker_keys)  # a checkerboard
    assert not app.selectbox(key="amp_pattern").disabled
    notes = " ".join(c.value for c in app.caption)
    assert "Class 5 · Speed limit (80km/h)" in notes and "PGD degradation not shown" in notes
    # Resampling "auto" trains the checkerboard without the resampling transforms (said under
    # the switches); switched on, the caveat, gone again once each of them is off.
    assert not app.warning
    assert any("trains without the crop" in c.value for c in app.caption)
    assert any("amplitude attack's 1-px checkerboard" in c.value for c in app.caption)
    app.selectbox(key="resampling").set_value("on").run()
    assert any("amplitude trigger" in w.value for w in app.warning)
    assert not any("trains without the crop" in c.value for c in app.caption)
    for name in CHECKERBOARD_BLURRING_AUGMENTATIONS:
        app.toggle(key=f"augment_{name}").set_value(False).run()
    assert not app.warning
    app.selectbox(key="kind").set_value("none").run()
    assert len(app.get("image")) == 0
    assert any("poisons nothing" in c.value for c in app.caption)


# The Attack page's fields without a widget of their own (as the command line's, see
# tests/test_cli_fields.py): the split, the training seed (the attack's), the surrogate's
# adversarial training (attack.surrogate_eps) and the augment section (its own widgets).
NO_WIDGET = {"data.test_fraction", "train.seed", "train.adversarial_eps", "train.augment"}
WIDGET_KEYS = {"data.seed": "data_seed", "attack.kind": "kind"}


def test_every_run_config_field_has_a_widget_with_its_default(app_env):
    app = start_app("pages/attack.py")
    widgets = {w.key: w for w in app.main if getattr(w, "key", None)}
    defaults = RunConfig().resolved(CLASS_NAMES)
    for section in ("data", "attack", "train"):
        for name in type(getattr(defaults, section)).model_fields:
            parameter = f"{section}.{name}"
            if parameter in NO_WIDGET:
                continue
            key = WIDGET_KEYS.get(parameter, name)
            assert key in widgets, f"no widget for {parameter}"
            expected = getattr(getattr(defaults, section), name)
            if parameter == "data.data_dir":
                expected = str(app_env["data"])
            assert widgets[key].value == expected, parameter
    augment = RunConfig().train.augment
    for name in AUGMENTATION_SWITCHES:
        assert widgets[f"augment_{name}"].value == getattr(augment, name)
    for name in AUGMENTATION_NUMBERS:
        assert widgets[name].value == getattr(augment, name), name
        assert widgets[name].help == field_help(AugmentConfig, name), name
    # Help texts and the slider's range come from the fields too.
    low, high, _, _ = field_bounds(AttackConfig, "amp")
    assert (widgets["amp"].min, widgets["amp"].max) == (low, high)
    for key, model, name in (
        ("p", AttackConfig, "p"),
        ("epochs", TrainConfig, "epochs"),
        ("precision", TrainConfig, "precision"),
    ):
        assert field_help(model, name) in widgets[key].help, key


@pytest.mark.parametrize(
    ("change", "field_error"),
    [
        ({"target": 2}, "must differ from source"),
        ({"p": 150.0}, "must be in (0, 100), got 150.0"),
        ({"sticker_size": 11}, "must be in [1, 10], got 11"),
        ({"epochs": 0}, "must be in [1, 1000], got 0"),
        ({"dataset": "gtsrb"}, "GTSRB"),
        ({"p": 60.0, "images_per_class": 40}, "poisoned samples but source class"),
    ],
)
def test_wrong_inputs_show_an_error_on_the_field_and_start_nothing(app_env, change, field_error):
    runner = JobRunner(app_env["state"], app_env["models"])
    jobs_before = len(runner.jobs())
    app = start_app("pages/attack.py")
    widgets = {
        "target": app.selectbox,
        "p": app.number_input,
        "sticker_size": app.number_input,
        "epochs": app.number_input,
        "dataset": app.radio,
        "images_per_class": app.number_input,
    }
    for key, value in change.items():
        widgets[key](key=key).set_value(value)
    app.run()
    errors = [e.value for e in app.error]
    assert any(field_error in e for e in errors), errors
    button(app, "Run").click().run()
    assert any("Nothing started" in e.value for e in app.error)
    assert len(runner.jobs()) == jobs_before


def test_a_job_started_from_the_form_runs_to_completion_and_is_then_cached(app_env):
    app = start_app("pages/attack.py")
    set_tiny_budget(app, seed=3)
    button(app, "Run").click().run()
    assert any("Started job" in s.value for s in app.success)
    poll_until(app, lambda a: "· done ·" in markdown_text(a))
    assert "train · run" in markdown_text(app)
    run_id = next(
        row["run"] for row in run_rows(JobRunner(app_env["state"], app_env["models"]).store)
    )
    button(app, "Run").click().run()
    assert any(f"Already trained: run {run_id}" in s.value for s in app.success)


def test_inspect_shows_the_metrics_and_the_charts_of_a_finished_run(app_env, finished_run):
    app = start_app("pages/inspect.py", run=finished_run)
    assert app.selectbox[0].value == finished_run
    metrics = json.loads((app_env["models"] / finished_run / "metrics.json").read_text())
    values = {m.label: m.value for m in app.metric}
    assert values["Clean accuracy"] == f"{metrics['clean_accuracy']:.4f}"
    assert values["MASR"] == f"{metrics['masr']:.4f}"
    reading = metrics["poisons_read_as_target"]
    assert any(
        f"{reading['with_trigger']:.3f} with their trigger" in caption.value
        for caption in app.caption
    )
    # A standard attack has no PGD change to read noise against (tests/attacks/test_metrics.py).
    assert metrics["noise_read_as_target"] is None
    assert not any("sign noise" in caption.value for caption in app.caption)
    asr = chart(app, "asr-chart")
    bars = asr.data[0]
    assert len(bars.x) == 42 and "5 Speed limit (80km/h)" not in bars.x  # all but the target
    expected = [metrics["per_class_asr"][str(c)] for c in bars.customdata]
    assert list(bars.y) == pytest.approx(expected)
    assert asr.layout.shapes[0].y0 == pytest.approx(metrics["masr"])  # the MASR line
    gallery = chart(app, "heatmap-gallery")
    heatmaps = [t for t in gallery.data if t.type == "heatmap"]
    assert len(heatmaps) == 12 and all(t.z.shape == (32, 32) for t in heatmaps)  # 6 + 6
    assert "Speed limit (80km/h)" in gallery.layout.title.text
    cloud = chart(app, "point-cloud").data[2]
    assert cloud.type == "scatter" and len(cloud.x) == len(cloud.customdata) > 0
    assert sum(cloud.customdata) == pytest.approx(1.0)  # the cloud's relevance mass


def test_inspects_detector_settings_are_the_fields_with_their_defaults(app_env, finished_run):
    """Each titled DetectConfig field is a widget labelled with its title, set to its default,
    its help naming the field's range; a value out of range is refused with that range."""
    app = start_app("pages/inspect.py", run=finished_run)
    widgets = {w.label: w for w in [*app.number_input, *app.selectbox, *app.toggle]}
    titled = {n: f for n, f in DetectConfig.model_fields.items() if f.title}
    assert len(titled) >= 10
    for name, field in titled.items():
        widget = widgets[field.title]
        assert widget.value == field.default, name
        bounds = allowed_range(DetectConfig, (name,))
        if bounds:
            assert bounds in widget.help, name
    widgets["HC relevance share"].set_value(1.5)
    button(app, "Heatmap Clustering").click().run()
    assert any("relevance_share: must be in (0, 1]" in e.value for e in app.error)


def test_detectors_started_from_inspect_fill_the_table_clusters_and_scan(app_env, finished_run):
    app = start_app("pages/inspect.py", run=finished_run)
    widget(app.number_input, "HC samples in the MDS picture").set_value(8)
    app.run()
    button(app, "Activation Clustering").click().run()
    button(app, "Heatmap Clustering").click().run()
    button(app, "Scan all classes").click().run()
    poll_until(
        app,
        lambda a: (
            len(a.dataframe) == 1
            and "Class scan" in [s.value for s in a.subheader]
            and "· running ·" not in markdown_text(a)
            and "· queued ·" not in markdown_text(a)
        ),
    )
    table = app.dataframe[0].value
    assert sorted(table["detector"]) == ["Activation Clustering", "Heatmap Clustering"]
    assert table["ACC"].between(0, 1).all() and (table["samples"] > 0).all()
    train_labels = RunStore(app_env["models"]).load_train_set(finished_run).data.labels
    splittable = (np.bincount(train_labels, minlength=43) >= 10).sum()  # the scan's minimum
    assert len(chart(app, "scan-chart").data[0].y) == splittable

    detection = widget(app.selectbox, "Detection")
    hc = next(i for i, label in enumerate(detection.options) if "Heatmap" in label)
    detection.set_value(hc).run()
    mds = chart(app, "clusters-")  # the first view: MDS of the pairwise GW distances
    assert mds.layout.xaxis.title.text == "MDS 1"
    assert sum(len(trace.x) for trace in mds.data) == 8
    hc_detection = next(
        d
        for d in load_detections(
            JobRunner(app_env["state"], app_env["models"]).store, finished_run
        ).values
        if d["detector"] == "hc"
    )
    drawn = sorted(int(s) for trace in mds.data for s in trace.customdata)
    members = np.asarray(hc_detection["sample_index"])
    assert drawn == sorted(members[hc_detection["mds"]["sample_position"]].tolist())
    assert any("(flagged)" in trace.name for trace in mds.data)


def test_removing_what_a_detector_flagged_retrains_and_compares(app_env, finished_run):
    store = RunStore(app_env["models"])
    # Its own AC detection when run alone (in file order the Inspect test above made one).
    if not any(d["detector"] == "ac" for d in load_detections(store, finished_run).values):
        run_detection(store, finished_run, DetectConfig(detector="ac"), device="cpu")
    app = start_app("pages/inspect.py", run=finished_run)
    detection = widget(app.selectbox, "Detection")
    ac = next(i for i, label in enumerate(detection.options) if "Activation" in label)
    detection.set_value(ac).run()
    assert any("No remediation of this detection yet" in c.value for c in app.caption)
    # The trigger search is a toggle drawn from its config field, on by default.
    assert widget(app.toggle, "Trigger search").value is True
    button(app, "Remove flagged and retrain").click().run()
    poll_until(app, lambda a: any(m.label == "DER" for m in a.metric))
    (remediation,) = load_remediations(store, finished_run).values
    values = {m.label: m.value for m in app.metric}
    assert values["DER"] == f"{remediation['der']:.3f}"
    assert values["Clean accuracy after"] == f"{remediation['clean_accuracy_after']:.4f}"
    assert values["Poisons removed"] == (
        f"{remediation['removed_poisoned']} / {remediation['n_poisoned']}"
    )
    bars = chart(app, "remediation-").data
    assert [b.name.split(" ")[0] for b in bars] == ["attacked", "cleaned"]
    assert list(bars[1].y) == pytest.approx(
        [remediation["per_class_asr_after"][label.split(" ")[0]] for label in bars[1].x]
    )
    exre = next(d.value for d in app.dataframe if "verdict" in d.value.columns)
    assert set(exre["verdict"]) <= {"cleared", "confirmed"}
    # The trigger search ran and says what it found (the patch is drawn only if it found one).
    assert any(c.value.startswith("Trigger search: ") for c in app.caption)
    assert any(
        f"trigger-{remediation['run_id']}" in el.proto.id for el in app.get("plotly_chart")
    ) == bool(remediation["trigger"]["found"])
    cleaned = remediation["run_id"]
    assert store.load_config(cleaned).removal.source_run == finished_run
    labels = {row["run"]: run_label(row) for row in run_rows(store)}
    assert f"{finished_run} without {remediation['removed']} samples (retrain)" in labels[cleaned]


def test_runs_page_lists_runs_and_jobs_and_deletes_a_run_after_confirmation(app_env, finished_run):
    app = start_app("pages/runs.py")
    runs = app.dataframe[0].value
    assert finished_run in set(runs["run"])
    assert f"/inspect?run={finished_run}" in set(runs["inspect"])
    jobs = app.dataframe[1].value
    assert {"train"} <= set(jobs["kind"]) and set(jobs["status"]) <= {"done", "failed"}
    others = set(runs["run"]) - {finished_run}

    app.selectbox(key="delete-run").set_value(finished_run).run()
    assert button(app, "Delete").disabled  # not before the confirmation
    app.checkbox(key="delete-confirm").check().run()
    button(app, "Delete").click().run()
    store = JobRunner(app_env["state"], app_env["models"]).store
    assert {row["run"] for row in run_rows(store)} == others
    assert not (app_env["models"] / finished_run).exists()
    assert all(finished_run not in t.value.get("run", ()).tolist() for t in app.dataframe)


def test_a_crafted_run_link_is_not_rendered(app_env, finished_run):
    crafted = "[click](https://example.com) ![x](https://example.com/x.png)"
    app = start_app("pages/inspect.py", run=crafted)
    shown = " ".join(e.value for e in [*app.warning, *app.markdown, *app.caption])
    assert "example.com" not in shown and "not a run id" in shown


def test_the_data_folder_is_a_choice_among_the_servers_roots(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("HEATCLUST_DATA_ROOTS", f"{tmp_path / 'gtsrb'}:{app_env['data']}")
    app = start_app("pages/attack.py")
    assert app.selectbox(key="data_dir").options == [str(app_env["data"]), str(tmp_path / "gtsrb")]
    assert not [t for t in app.text_input if t.label == "Data folder"]


def test_inspect_says_so_when_the_run_asked_for_is_gone(app_env):
    app = start_app("pages/inspect.py", run="0123456789ab")
    assert any("0123456789ab is not (or no longer)" in w.value for w in app.warning) or any(
        "No finished runs" in i.value for i in app.info
    )


@pytest.fixture(scope="module")
def computed_sweep(folders):
    """A tiny two-cell sweep over p, computed; and a wider one with a cell not computed."""
    from heatclust_core.storage.run_store import RunStore
    from heatclust_core.sweeps import SweepConfig, run_sweep

    base = RunConfig(
        data=DataConfig(data_dir=str(folders["data"]), images_per_class=20),
        train=TrainConfig(epochs=1),
    )
    sweep = SweepConfig(name="tiny", base=base, p=(20.0, 30.0), detectors=("ac",))
    return run_sweep(sweep, RunStore(folders["models"]), device="cpu")


def test_compare_shows_the_table_the_charts_and_tunes_between_cells(app_env, computed_sweep):
    app = start_app("pages/compare.py")
    assert app.title[0].value == "Compare"
    table = app.dataframe[0].value
    assert table["p"].tolist() == [20.0, 30.0]
    cells = computed_sweep["cells"]
    assert table["AC ACC"].tolist() == pytest.approx(
        [100 * c["detections"]["ac"]["acc"] for c in cells], abs=0.005
    )
    assert len([c for c in app.get("plotly_chart") if "rates-" in c.proto.id]) == 4

    slider = app.select_slider(key="tune-p")
    for cell in cells:
        slider.set_value(cell["p"]).run()
        values = {m.label: m.value for m in app.metric}
        assert values["Activation Clustering ACC"] == f"{cell['detections']['ac']['acc']:.3f}"
        asr = chart(app, "tune-asr")
        assert list(asr.data[0].y) == pytest.approx(
            [cell["per_class_asr"][str(c)] for c in asr.data[0].customdata]
        )
    assert len(app.get("image")) == 1  # the example poisoned images of the cell


def test_compare_queues_a_cell_not_computed_yet(app_env, computed_sweep):
    from heatclust_core.storage.atomic import write_json
    from heatclust_core.storage.run_store import RunStore
    from heatclust_core.sweeps import SweepConfig
    from heatclust_core.sweeps.runner import sweep_record, sweeps_dir

    wider = SweepConfig.model_validate(computed_sweep["config"]).model_copy(
        update={"name": "wider", "p": (20.0, 30.0, 40.0)}
    )
    record = sweep_record(wider, RunStore(app_env["models"]))
    write_json(
        sweeps_dir(RunStore(app_env["models"])) / f"{record['sweep_id']}.json",
        record | {"updated": 1e12},
    )
    app = start_app("pages/compare.py")
    assert widget(app.selectbox, "Sweep").value == record["sweep_id"]  # the newest first
    app.select_slider(key="tune-p").set_value(40.0).run()
    assert any("not computed yet" in i.value for i in app.info)
    button(app, "Queue this cell").click().run()
    assert any("Started sweep job" in s.value for s in app.success)
    job = JobRunner(app_env["state"], app_env["models"]).jobs(kind="sweep")[0]
    assert job.config["p"] == [40.0] and job.kind == "sweep"
    poll_until(app, lambda a: not JobRunner(app_env["state"], app_env["models"]).get(job.id).active)
    assert JobRunner(app_env["state"], app_env["models"]).get(job.id).status == "done"


def test_compare_starts_a_grid_of_your_own_and_refuses_a_bad_value(app_env, computed_sweep):
    app = start_app("pages/compare.py")
    app.text_input(key="sweep-p").set_value("20, abc").run()
    button(app, "Run sweep").click().run()
    assert any("p: give numbers separated by commas" in e.value for e in app.error)
    app.text_input(key="sweep-p").set_value("20, 150").run()
    button(app, "Run sweep").click().run()
    assert any("attack.p: must be in (0, 100), got 150.0" in e.value for e in app.error)

    app.text_input(key="sweep-p").set_value("25").run()
    app.number_input(key="sweep-epochs").set_value(1)
    app.number_input(key="sweep-images").set_value(40)
    app.multiselect(key="sweep-detectors").set_value(["ac"]).run()
    assert app.selectbox(key="sweep-sticker_color").value == AttackConfig().sticker_color
    app.selectbox(key="sweep-sticker_color").set_value("yellow-green").run()
    assert app.selectbox(key="sweep-head_pool").value == TrainConfig().head_pool
    app.selectbox(key="sweep-head_pool").set_value("max").run()
    button(app, "Run sweep").click().run()
    assert any("Started sweep job" in s.value for s in app.success)
    runner = JobRunner(app_env["state"], app_env["models"])
    job = runner.jobs(kind="sweep")[0]
    assert job.config["base"]["attack"]["sticker_color"] == "yellow-green"
    assert job.config["base"]["train"]["head_pool"] == "max"
    poll_until(app, lambda a: runner.get(job.id).status == "done")
    # The job may have ended during the last rerun, after the page listed the sweeps: draw
    # the page once more so the new sweep is among the choices (else the pick falls back).
    app.run()
    widget(app.selectbox, "Sweep").set_value(runner.get(job.id).result["sweep_id"]).run()
    assert app.dataframe[0].value["p"].tolist() == [25.0]
