"""Inspect a finished run: attack success, detectors, heatmaps, point clouds and clusters.

Over 300 lines by choice: one page with many panels, each only drawing what the library
computed (figures come from presentation/figures.py, configs from their fields).
"""

import numpy as np
import streamlit as st

from heatclust_core.attacks.metrics import describe_readings
from heatclust_core.config import REMOVAL_MODE_TITLES, REMOVAL_MODES, build, field_help
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import RemediateConfig, load_remediations
from heatclust_core.detection.run import load_detections
from heatclust_core.detection.scan import ScanConfig, load_scans
from heatclust_core.detection.trigger import trigger_summary
from heatclust_core.errors import (
    ConfigError,
    DamagedFileError,
    HeatClustError,
    RunNotFoundError,
)
from heatclust_core.explain.gallery import heatmap_gallery, sample_point_cloud
from heatclust_core.explain.options import COMPOSITE_NAMES, LRPOptions
from heatclust_core.explain.point_cloud import point_cloud
from heatclust_core.presentation.figures import (
    DETECTOR_NAMES,
    cluster_scatter,
    detection_points,
    detector_table,
    exre_table,
    heatmap_gallery_figure,
    per_class_asr_figure,
    point_cloud_figure,
    remediation_asr_figure,
    scan_figure,
    training_history_figure,
    trigger_patch_figure,
)
from heatclust_core.presentation.report import run_report
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import pick_device
from ui import example
from ui.fields import field_input, field_row
from ui.job_panel import job_panel
from ui.navigation import require_app
from ui.resources import run_artifacts, runner
from ui.run_picker import pick_run

# The HC detector's composite first: it is what the gallery should show by default.
COMPOSITES = sorted(COMPOSITE_NAMES, key=lambda name: name != DetectConfig().lrp_composite)

require_app()

st.title("Inspect")
jobs = runner()
own_store = jobs.store
picked_run = pick_run(own_store, st.query_params.get("run"), key="inspect-run")
if picked_run is None:
    st.stop()
run_id, is_example, store = picked_run
st.query_params["run"] = example.key(run_id) if is_example else run_id
if is_example:
    st.info(
        "The shipped example (read-only): computed by `python -m heatclust_core example "
        "--rebuild` from the default settings. Train a configuration on the Attack & train "
        "page to run detectors of your own; the sidebar hides the example.",
        icon=":material/auto_stories:",
    )

try:
    config = store.load_config(run_id)
    metrics = store.load_metrics(run_id)
    has_network = store.has_network(run_id)
    model, train_set = run_artifacts(run_id, store) if has_network else (None, None)
except RunNotFoundError:
    st.warning(f"Run {run_id} was deleted while this page was open.")
    st.stop()
except DamagedFileError as exc:
    st.error(f"{exc} The Runs page lists damaged runs and deletes them.")
    st.stop()
names = metrics["class_names"]
attack = config.attack

st.caption(
    f"{attack.kind} attack · source {attack.source} {names[attack.source]} → target "
    f"{attack.target} {names[attack.target]} · p={attack.p:g}% · {attack.trigger_label}"
    + (f" · eps={attack.eps:.4f}" if attack.uses_pgd else "")
    + f" · {config.data.dataset} data · {len(metrics['history'])} epochs"
)
if config.removal is not None:
    st.info(
        f"A cleaned run: run {config.removal.source_run} without the "
        f"{len(config.removal.removed)} samples its detection {config.removal.detection} "
        f"flagged, {config.removal.mode}. Its class's remaining samples are analysed below.",
        icon=":material/cleaning_services:",
    )
cells = st.columns(5)
cells[0].metric("Clean accuracy", f"{metrics['clean_accuracy']:.4f}")
cells[1].metric("ASR", f"{metrics['asr']:.4f}", help="Triggered source-class test images → target")
cells[2].metric("MASR", f"{metrics['masr']:.4f}", help="Mean ASR over all classes but the target")
cells[3].metric("Poisoned samples", metrics["n_poisoned"])
cells[4].metric(
    "Training",
    f"{metrics.get('train_seconds') or 0:.0f} s",
    help=f"on {metrics['device']}, in {metrics.get('train_precision', 'float32')}",
)
for line in describe_readings(metrics):
    st.caption(line)
st.plotly_chart(
    per_class_asr_figure(metrics, attack.source, attack.target, attack.kind), key="asr-chart"
)
if has_network:
    st.download_button(
        "HTML report of this run",
        lambda: run_report(store, run_id),
        f"heatclust-{run_id}.html",
        "text/html",
        icon=":material/download:",
        key="run-report",
    )
with st.expander("Training curve, configuration and versions"):
    st.plotly_chart(training_history_figure(metrics["history"]), key="history-chart")
    st.json({"run_id": run_id, "config": config.model_dump(), "versions": metrics.get("versions")})

st.header("Detectors")
suspicious = st.selectbox(
    "Suspicious class",
    range(len(names)),
    index=attack.target,
    format_func=lambda c: f"{c} · {names[c]}" + (" (target)" if c == attack.target else ""),
)
if has_network:
    st.page_link(
        "pages/explore.py",
        label=f"Explore class {suspicious}: embeddings, selection, galleries, the choice of k",
        icon=":material/travel_explore:",
        query_params={"run": example.key(run_id) if is_example else run_id, "class": suspicious},
    )
# The detector settings offered here, in rows; each widget's label, default, choices and help
# come from its DetectConfig field (ui/fields.py).
DETECT_SETTINGS = (
    ("k", "k_selection", "flag_rule", "seed"),
    ("relevance_share", "epsilon", "mds_samples"),
    ("lrp_composite", "reducer", "normalize"),
    ("expected_share", "pool", "mds_pool"),
)
detect_settings: dict = {}
if not store.read_only:
    with st.expander("Detector settings"):
        for row in DETECT_SETTINGS:
            detect_settings.update(field_row(st, DetectConfig, row, "detect-"))
        left, right = st.columns(2)
        scan_method = field_input(left, ScanConfig, "method", key="scan-method")
        device = right.selectbox(
            "Device", ["auto", "cpu"] + (["cuda"] if pick_device().type == "cuda" else [])
        )


def _detect_config(detector: str) -> DetectConfig:
    return build(DetectConfig, {"detector": detector, "class_id": suspicious, **detect_settings})


@st.cache_data(show_spinner="Computing LRP heatmaps...", max_entries=32)
def _gallery(
    models_dir: str, read_only: bool, run_id: str, class_id: int, per_group: int, composite: str
):
    model, train_set = run_artifacts(run_id, RunStore(models_dir, read_only=read_only))
    return heatmap_gallery(
        model, train_set, class_id, per_group, LRPOptions(composite=composite), pick_device()
    )


def _defence_section(detection: dict) -> None:
    """Remove the detection's flagged samples, train again, and compare (as jobs)."""
    st.subheader("Defence: remove what was flagged and train again")
    # Results saved by older versions may lack newer fields or hold retired ones.
    saved_settings = {
        name: value
        for name, value in detection["config"].items()
        if name in DetectConfig.model_fields
    }
    try:
        detect_config = build(DetectConfig, DetectConfig().model_dump() | saved_settings)
    except ConfigError as exc:
        st.caption(f"This detection's settings are no longer valid ({exc}); run it again.")
        return
    left, right = st.columns([3, 1])
    mode = left.radio(
        "Mode",
        REMOVAL_MODES,
        horizontal=True,
        format_func=REMOVAL_MODE_TITLES.get,
        help=field_help(RemediateConfig, "mode"),
        key=f"remediation-mode-{detection['detector']}-{detect_config.result_name()}",
    )
    trigger_search = field_input(
        left,
        RemediateConfig,
        "trigger_search",
        key=f"remediation-trigger-{detect_config.result_name()}",
    )
    if right.button(
        "Remove flagged and retrain",
        icon=":material/cleaning_services:",
        key=f"remediate-{detect_config.result_name()}",
    ):
        try:
            outcome = jobs.submit_remediate(
                run_id,
                RemediateConfig(detect=detect_config, mode=mode, trigger_search=trigger_search),
                device,
            )
            if outcome.cached:
                st.info("This remediation is already below.")
        except HeatClustError as exc:
            st.error(str(exc))
    saved = load_remediations(store, run_id)
    for damaged in saved.damaged:
        st.warning(str(damaged), icon=":material/broken_image:")
    mine = [r for r in saved.values if r.get("detection") == detect_config.result_name()]
    if not mine:
        st.caption(
            f"No remediation of this detection yet: it removes the {sum(detection['cluster_sizes'][c] for c in detection['flagged_clusters'])} "
            "flagged samples"
            + (
                ", and every sample of the class holding the trigger recovered from them,"
                if trigger_search
                else ""
            )
            + " and trains the same configuration without them."
        )
        return
    for tab, remediation in zip(
        st.tabs([f"{r['mode']} → run {r['run_id']}" for r in mine]), mine, strict=True
    ):
        with tab:
            _draw_remediation(remediation)


def _draw_remediation(remediation: dict) -> None:
    cells = st.columns(5)
    for cell, (name, key) in zip(
        cells,
        (("Clean accuracy", "clean_accuracy"), ("ASR", "asr"), ("MASR", "masr")),
        strict=False,
    ):
        after, before = remediation[f"{key}_after"], remediation[f"{key}_before"]
        cell.metric(
            f"{name} after",
            f"{after:.4f}",
            delta=f"{after - before:+.4f}",
            delta_color="normal" if key == "clean_accuracy" else "inverse",
        )
    cells[3].metric(
        "DER",
        f"{remediation['der']:.3f}",
        help="BackdoorBench's defence effectiveness rating: [max(0, ASR drop) − max(0, "
        "accuracy drop) + 1] / 2; 1 removes the backdoor at no cost, 0.5 changes nothing.",
    )
    cells[4].metric(
        "Poisons removed",
        f"{remediation['removed_poisoned']} / {remediation['n_poisoned']}",
        help=f"{remediation['removed']} samples removed, "
        f"{remediation['removed'] - remediation['removed_poisoned']} of them clean",
    )
    trigger = remediation.get("trigger")
    if trigger:
        patch, note = st.columns([1, 5])
        figure = trigger_patch_figure(trigger)
        if figure is not None:
            patch.plotly_chart(figure, key=f"trigger-{remediation['run_id']}")
        note.caption(
            trigger_summary(trigger).capitalize()
            + ". The trigger is the patch where the flagged samples' heatmaps peak; a poison "
            "whose heatmap holds little of it still holds the patch."
        )
    st.plotly_chart(
        remediation_asr_figure(remediation, names), key=f"remediation-{remediation['run_id']}"
    )
    exre = exre_table(remediation, names)
    if exre is not None:
        st.markdown(
            "**Exclusionary reclassification** (ART): the cleaned network's verdict on "
            "each flagged cluster"
        )
        st.dataframe(
            exre,
            hide_index=True,
            column_config={"keep their label": st.column_config.NumberColumn(format="%.3f")},
        )
    st.page_link(
        "pages/inspect.py",
        label=f"Inspect the cleaned run {remediation['run_id']}",
        icon=":material/insights:",
        query_params={"run": remediation["run_id"]},
    )


if not store.read_only:
    buttons = st.columns(5)
    requests = {
        "raw": buttons[0].button("Raw clustering", icon=":material/scatter_plot:"),
        "ac": buttons[1].button("Activation Clustering", icon=":material/hub:"),
        "ss": buttons[2].button("Spectral Signatures", icon=":material/show_chart:"),
        "hc": buttons[3].button(
            "Heatmap Clustering", type="primary", icon=":material/local_fire_department:"
        ),
    }
    scan_requested = buttons[4].button("Scan all classes", icon=":material/manage_search:")
    try:
        for detector, pressed in requests.items():
            if pressed:
                outcome = jobs.submit_detect(run_id, _detect_config(detector), device)
                if outcome.cached:
                    st.info(
                        f"{DETECTOR_NAMES[detector]} with these settings is already in the table below."
                    )
        if scan_requested:
            outcome = jobs.submit_scan(
                run_id, ScanConfig(method=scan_method, seed=detect_settings["seed"]), device
            )
            if outcome.cached:
                st.info("This class scan is already below.")
    except ConfigError as exc:
        st.error(f"{exc.parameter}: {exc.message}", icon=":material/error:")
    except HeatClustError as exc:
        st.error(str(exc))
    job_panel(jobs, kinds=("detect", "scan", "remediate"), run_id=run_id, key="detect-jobs")

saved_detections = load_detections(store, run_id)
detections = saved_detections.values
for damaged in saved_detections.damaged:
    st.warning(str(damaged), icon=":material/broken_image:")
selected_sample = None
if detections:
    st.subheader("Detector comparison")
    st.dataframe(
        detector_table(detections),
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(format="%.3f")
            for name in ("ACC", "TPR", "TNR", "precision", "F1")
        }
        | {
            name: st.column_config.NumberColumn(format="%.1f")
            for name in ("features s", "clustering s", "pairwise s", "total s")
        },
        key="detector-table",
    )
    of_class = [d for d in detections if d["class"] == suspicious]
    if of_class:
        st.subheader("Cluster assignments")
        chosen = st.selectbox(
            "Detection",
            range(len(of_class)),
            format_func=lambda i: (
                f"{DETECTOR_NAMES[of_class[i]['detector']]} · ACC "
                f"{of_class[i]['acc']:.3f} · TPR {of_class[i]['tpr']:.3f} · TNR {of_class[i]['tnr']:.3f}"
            ),
        )
        detection = of_class[chosen]
        points = detection_points(
            detection, train_set.is_poisoned if train_set is not None else None
        )
        views = []
        if detection.get("mds"):
            mds_pool = detection.get("config", {}).get("mds_pool", 1)
            pooled = f" ({mds_pool}x{mds_pool}-pooled heatmaps)" if mds_pool > 1 else ""
            views.append((f"MDS of pairwise GW distances{pooled}", True, "MDS 1", "MDS 2"))
        axes = detection.get("embedding_axes", ["component 1", "component 2"])
        views.append(
            (
                {
                    "hc": "GW distance to the cluster centres",
                    "ss": "Projections on the top singular vectors",
                }.get(detection["detector"], "First two components"),
                False,
                *axes,
            )
        )
        selected_sample = None
        for tab, (title, mds, x_axis, y_axis) in zip(
            st.tabs([v[0] for v in views]), views, strict=True
        ):
            with tab:
                shown = points.dropna(subset=["mds_x"]) if mds else points
                event = st.plotly_chart(
                    cluster_scatter(
                        points, (x_axis, y_axis), f"{title} ({len(shown)} samples)", mds
                    ),
                    on_select="rerun",
                    selection_mode="points",
                    key=f"clusters-{chosen}-{int(mds)}",
                )
                picked = event.selection.points if event and event.selection else []
                if picked:
                    selected_sample = int(picked[0]["customdata"])
        st.caption("Click a point to see its image, heatmap and point cloud below.")
        if not store.read_only:
            _defence_section(detection)
    else:
        st.caption(
            f"No detection of class {suspicious} yet"
            + (": run a detector above." if not store.read_only else " in the example.")
        )
else:
    st.caption(
        "No detector has run on this run yet"
        + (": start one above." if not store.read_only else ".")
    )

st.subheader("Heatmaps")
if not has_network:
    st.caption(
        "The example keeps this sweep cell's rates and cluster assignments only, not its "
        "network: heatmaps and point clouds need it. Train this configuration on the Attack & "
        "train page to explore it."
    )
elif not train_set.has_images(np.flatnonzero(train_set.data.labels == suspicious)):
    st.caption(
        f"The example keeps the training images of its target class only ({attack.target} "
        f"{names[attack.target]}): choose that class above to see heatmaps and point clouds."
    )
else:
    per_group = st.slider("Samples per group", 2, 12, 6)
    gallery_composite = st.selectbox("LRP composite", COMPOSITES, key="gallery-composite")
    poisoned_tiles, clean_tiles = _gallery(
        str(store.root), store.read_only, run_id, suspicious, per_group, gallery_composite
    )
    if not poisoned_tiles:
        st.caption(f"Class {suspicious} holds no poisoned sample; only clean ones are shown.")
    st.plotly_chart(
        heatmap_gallery_figure(poisoned_tiles, clean_tiles, names[suspicious]),
        key="heatmap-gallery",
    )

    st.subheader("Relevance point cloud")
    members = [t.sample for t in poisoned_tiles + clean_tiles]
    if selected_sample is not None and selected_sample not in members:
        members.insert(0, selected_sample)
    left, right = st.columns([2, 1])
    sample = left.selectbox(
        "Sample",
        members,
        index=members.index(selected_sample) if selected_sample in members else 0,
        format_func=lambda i: f"#{i} ({'poisoned' if train_set.is_poisoned[i] else 'clean'})",
    )
    share = right.slider("Relevance share kept", 0.5, 1.0, 0.99, 0.01)
    shown = {t.sample: t for t in poisoned_tiles + clean_tiles}
    if sample in shown:  # the gallery computed its heatmap already
        tile, cloud = shown[sample], point_cloud(shown[sample].heatmap, share)
    else:
        tile, cloud = sample_point_cloud(
            model, train_set, sample, share, LRPOptions(composite=gallery_composite), pick_device()
        )
    st.plotly_chart(point_cloud_figure(tile, cloud), key="point-cloud")

scans = load_scans(store, run_id).values
if scans:
    st.subheader("Class scan")
    st.plotly_chart(scan_figure(scans[0], attack.target), key="scan-chart")
