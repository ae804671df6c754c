"""Explore one class of a run: embeddings, selection, a gallery of the selection, the choice of
k, export, and removal of the selection. The view lives in the URL (see explore/view.py).

Over 300 lines by choice: one page with many linked panels, each only drawing what the
library computed (presentation/explore_figures.py, explore/view.py)."""

import numpy as np
import streamlit as st

from heatclust_core.config import REMOVAL_MODE_TITLES, REMOVAL_MODES, build
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import RemediateConfig
from heatclust_core.detection.run import load_detections
from heatclust_core.errors import ConfigError, DamagedFileError, HeatClustError, RunNotFoundError
from heatclust_core.explain.lrp import explain
from heatclust_core.explain.options import LRPOptions
from heatclust_core.explore.config import (
    EMBEDDING_METHODS,
    EMBEDDING_TITLES,
    METHOD_FIELDS,
    EmbedConfig,
)
from heatclust_core.explore.embeddings import eigengaps, find_embedding, load_embeddings
from heatclust_core.explore.export import export_rows, to_csv, to_json
from heatclust_core.explore.gallery import gallery_tile, thumbnail_uri
from heatclust_core.explore.view import (
    BASE_COLOURINGS,
    COLOUR_MAPS,
    COLOURING_TITLES,
    GALLERY_MODES,
    ExploreView,
    parse_view,
    view_query,
)
from heatclust_core.presentation.explore_figures import (
    EMBEDDING_CHART_META,
    choice_of_k_figure,
    cluster_table,
    embedding_figure,
    k_entry,
    sample_frame,
)
from heatclust_core.presentation.figures import DETECTOR_NAMES
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import pick_device
from ui import example
from ui.fields import field_input
from ui.hover_preview import hover_thumbnails
from ui.job_panel import job_panel
from ui.navigation import require_app
from ui.resources import run_artifacts, runner
from ui.run_picker import pick_run

# Tiles drawn at most; the export holds the whole selection.
GALLERY_LIMIT = 60
# Bumped to clear the chart's own box/lasso when the selection is set another way.
CHART_GENERATION = "explore-chart-generation"
SELECTION = "explore-selection"

require_app()
st.title("Explore a class")
st.caption(
    "Embeddings of one class's training samples; box or lasso select on the picture (or pick a "
    "cluster) to see the selection's inputs and heatmaps, export it, or remove it and retrain."
)

linked = parse_view(st.query_params.to_dict())
for problem in linked.problems:
    st.warning(problem, icon=":material/link_off:")
jobs = runner()
picked_run = pick_run(jobs.store, linked.run, key="explore-run")
if picked_run is None:
    st.stop()
run_id, is_example, store = picked_run
run_key = example.key(run_id) if is_example else run_id
try:
    config = store.load_config(run_id)
    metrics = store.load_metrics(run_id)
except RunNotFoundError:
    st.warning(f"Run {run_id} was deleted while this page was open.")
    st.stop()
except DamagedFileError as exc:
    st.error(f"{exc} The Runs page lists damaged runs and deletes them.")
    st.stop()
names = metrics["class_names"]
target = config.attack.target
if not store.has_network(run_id):
    st.info(
        "This run keeps its results only (a sweep cell of the shipped example): embeddings need "
        "its network and images. Train its configuration on the Attack & train page."
    )
    st.stop()
_, train_set = run_artifacts(run_id, store)
classes = [c for c in range(len(names)) if train_set.has_images(train_set.data.labels == c)]
if linked.class_id is not None and linked.class_id not in classes:
    st.warning("The link's class parameter names no class of this run with images; ignored.")
class_id = st.selectbox(
    "Class",
    classes,
    index=classes.index(linked.class_id)
    if linked.class_id in classes
    else (classes.index(target) if target in classes else 0),
    format_func=lambda c: f"{c} · {names[c]}" + (" (target)" if c == target else ""),
    key="explore-class",
)
method = (
    st.segmented_control(
        "Embedding",
        EMBEDDING_METHODS,
        default=linked.method,
        format_func=EMBEDDING_TITLES.get,
        key="explore-method",
    )
    or linked.method
)

saved = load_embeddings(store, run_id)
for damaged in saved.damaged:
    st.warning(str(damaged), icon=":material/broken_image:")
mine = [e for e in saved.values if e["method"] == method and e["class"] == class_id]
# The link's settings (or the defaults) preselect the settings widgets.
linked_embedding = (
    find_embedding(mine, linked.settings, class_id) if linked.settings is not None else None
)
if linked.settings is not None and linked_embedding is None and linked.method == method:
    st.warning("The link's eset parameter names no saved embedding of this class; ignored.")
base = (
    linked_embedding["config"]
    if linked_embedding is not None
    else EmbedConfig(method=method).model_dump()
)
setting_names = ("seed", *METHOD_FIELDS[method], "lrp_composite")
values = {name: base[name] for name in setting_names}
if not store.read_only:
    with st.expander(f"Settings of the {EMBEDDING_TITLES[method]}"):
        columns = st.columns(3)
        for n, name in enumerate(setting_names):
            values[name] = field_input(
                columns[n % 3], EmbedConfig, name, key=f"embed-{method}-{name}", value=base[name]
            )
try:
    wanted = build(EmbedConfig, {"method": method, "class_id": class_id, **values})
except ConfigError as exc:
    st.error(f"{exc.parameter}: {exc.message}", icon=":material/error:")
    st.stop()
embedding = find_embedding(mine, wanted.settings_name(), class_id)
default_name = EmbedConfig(method=method).settings_name()


def _link(**view) -> None:
    """Put the view so far (and `view`'s parts) in the URL's query parameters."""
    settings = wanted.settings_name()
    explore_view = ExploreView(
        run=run_key,
        class_id=class_id,
        method=method,
        settings=settings if settings != default_name else None,
        **view,
    )
    st.query_params.from_dict(view_query(explore_view))


if not store.read_only:
    if embedding is None and st.button(
        f"Compute the {EMBEDDING_TITLES[method]}", icon=":material/scatter_plot:", type="primary"
    ):
        try:
            outcome = jobs.submit_embed(run_id, wanted)
            if outcome.cached:
                st.rerun()
        except ConfigError as exc:
            st.error(f"{exc.parameter}: {exc.message}", icon=":material/error:")
        except HeatClustError as exc:
            st.error(str(exc))
    job_panel(jobs, kinds=("embed", "remediate"), run_id=run_id, key="explore-jobs")
if embedding is None:
    st.caption(
        f"No {EMBEDDING_TITLES[method]} of class {class_id} with these settings yet"
        + (
            ": compute it above (a job; `python -m heatclust_core embed` does the same)."
            if not store.read_only
            else " in the example."
        )
    )
    _link()
    st.stop()

# -- colouring, k, clusters ---------------------------------------------------------------
detections = {
    d["detector"]: d
    for d in reversed(load_detections(store, run_id).values)
    if d["class"] == class_id and d["sample_index"] == embedding["sample_index"]
}
colourings = list(BASE_COLOURINGS) + [d for d in DETECTOR_NAMES if d in detections]
if linked.colour not in colourings:
    st.warning("The link's color parameter names no detection of this class; ignored.")
left, right = st.columns([2, 1])
# Titles as the options themselves (no format_func): what AppTest can set, as a user does.
colour_titles = [COLOURING_TITLES[c] for c in colourings]
colour = colourings[
    colour_titles.index(
        left.selectbox(
            "Colour by",
            colour_titles,
            index=colourings.index(linked.colour) if linked.colour in colourings else 0,
            key="explore-colour",
        )
    )
]
available_k = [e["k"] for e in embedding["k_choice"]]
k = right.select_slider(
    "Clusters k",
    available_k,
    value=linked.k if linked.k in available_k else available_k[0],
    key="explore-k",
    help="k-means in the embedding's clustering space: "
    + {
        "umap": "the 2-D UMAP picture",
        "tsne": "the 2-D t-SNE picture",
        "pca": "the first 10 principal components",
        "spectral": "the Laplacian's 8 smallest non-trivial eigenvectors",
        "gw-mds": "10 landmark MDS dimensions",
    }[method],
)
frame = sample_frame(embedding, k, detections.get(colour), names)
st.plotly_chart(choice_of_k_figure(embedding, k), key=f"k-choice-{method}")
entry = k_entry(embedding, k)
best = max(embedding["k_choice"], key=lambda e: e["silhouette"])["k"]
gaps = eigengaps(embedding["eigenvalues"]) if embedding.get("eigenvalues") else {}
st.caption(
    f"The silhouette is highest at k = {best}"
    + (f", the largest eigengap comes after k = {max(gaps, key=gaps.get)}" if gaps else "")
    + f". At k = {k} the flagged (smallest) cluster is {entry['flagged'][0]}."
)
table = cluster_table(frame)
st.dataframe(
    table,
    hide_index=True,
    column_config={"poisoned share": st.column_config.NumberColumn(format="%.3f")},
    key=f"cluster-table-{method}-{k}",
)

# -- the selection ------------------------------------------------------------------------
members = set(embedding["sample_index"])
st.session_state.setdefault(SELECTION, {})
context = (run_key, class_id)
if context not in st.session_state[SELECTION]:
    unknown = [s for s in linked.selection if s not in members]
    if unknown:
        st.warning(
            f"{len(unknown)} of the link's selected samples are not in class {class_id}; ignored."
        )
    st.session_state[SELECTION][context] = tuple(s for s in linked.selection if s in members)
generation = st.session_state.setdefault(CHART_GENERATION, 0)


def _select_cluster() -> None:
    cluster = st.session_state["explore-quick-select"]
    if cluster is not None:
        chosen = frame.loc[frame["cluster"] == cluster, "sample"]
        st.session_state[SELECTION][context] = tuple(int(s) for s in chosen)
        st.session_state[CHART_GENERATION] += 1
        st.session_state["explore-quick-select"] = None


def _clear_selection() -> None:
    st.session_state[SELECTION][context] = ()
    st.session_state[CHART_GENERATION] += 1


left, right = st.columns([3, 1])
left.pills(
    "Select a cluster",
    sorted(frame["cluster"].unique().tolist()),
    format_func=lambda c: f"cluster {c}" + (" (flagged)" if c in entry["flagged"] else ""),
    key="explore-quick-select",
    on_change=_select_cluster,
)
right.button("Clear the selection", on_click=_clear_selection, icon=":material/deselect:")


@st.cache_data(show_spinner=False, max_entries=8)
def _thumbnails(models_dir: str, read_only: bool, run: str, class_id: int) -> dict[int, str]:
    _, train_set = run_artifacts(run, RunStore(models_dir, read_only=read_only))
    members = np.flatnonzero(train_set.data.labels == class_id)
    return {int(i): thumbnail_uri(train_set.data.images[i]) for i in members}


chart_key = f"embedding-{run_key}-{class_id}-{method}-{generation}"
event = st.plotly_chart(
    embedding_figure(
        frame,
        colour,
        embedding["axes"],
        f"{embedding['title']} · class {class_id} {names[class_id]} · {len(frame)} samples",
        st.session_state[SELECTION][context],
    ),
    on_select="rerun",
    selection_mode=("box", "lasso", "points"),
    key=chart_key,
)
hover_thumbnails(
    EMBEDDING_CHART_META, _thumbnails(str(store.root), store.read_only, run_id, class_id)
)
points = event.selection.points if event and event.selection else []
seen_key = f"{chart_key}-seen"
picked = tuple(sorted({int(p["customdata"]) for p in points}))
if points and picked != st.session_state.get(seen_key):
    st.session_state[seen_key] = picked
    st.session_state[SELECTION][context] = picked
selection = st.session_state[SELECTION][context]
_link(
    colour=colour,
    k=k,
    selection=selection,
    mode=st.session_state.get("explore-mode") or linked.mode,
    cmap=st.session_state.get("explore-cmap") or linked.cmap,
)
st.caption(
    f"{embedding['n_samples']} samples, {embedding['n_poisoned']} poisoned · computed in "
    f"{embedding['seconds']['total']:.1f} s on {embedding.get('device', 'cpu')} · box, lasso or "
    "click on the picture to select; hover for a sample's image and facts."
)

# -- gallery ------------------------------------------------------------------------------
st.subheader(f"Selection: {len(selection)} samples")
selected = frame[frame["sample"].isin(selection)]
if len(selection):
    poisoned = int((selected["truth"] == "poisoned").sum())
    st.text(
        f"{poisoned} poisoned, {len(selection) - poisoned} clean · "
        + ", ".join(
            f"cluster {c}: {n}" for c, n in selected["cluster"].value_counts().sort_index().items()
        )
    )
left, right = st.columns(2)
mode = (
    left.segmented_control("Show", GALLERY_MODES, default=linked.mode, key="explore-mode")
    or linked.mode
)
cmap = right.selectbox(
    "Colour map",
    list(COLOUR_MAPS),
    index=list(COLOUR_MAPS).index(linked.cmap),
    key="explore-cmap",
    help="bwr: red = relevance for the label, blue = against (LRP's convention).",
)


@st.cache_data(show_spinner="Computing the selection's heatmaps...", max_entries=16)
def _heatmaps(models_dir: str, read_only: bool, run: str, samples: tuple[int, ...], composite: str):
    model, train_set = run_artifacts(run, RunStore(models_dir, read_only=read_only))
    index = np.asarray(samples, dtype=np.int64)
    return explain(
        model,
        train_set.data.images[index],
        train_set.data.labels[index],
        pick_device(),
        LRPOptions(composite=composite),
    ).heatmaps()


if len(selection):
    shown = tuple(selection[:GALLERY_LIMIT])
    heatmaps = _heatmaps(
        str(store.root), store.read_only, run_id, shown, embedding["config"]["lrp_composite"]
    )
    truth = dict(zip(frame["sample"], frame["truth"], strict=True))
    st.image(
        [
            gallery_tile(train_set.data.images[s], heatmaps[n], mode, cmap)
            for n, s in enumerate(shown)
        ],
        caption=[f"#{s} {truth[s]}" for s in shown],
    )
    if len(selection) > GALLERY_LIMIT:
        st.caption(f"The first {GALLERY_LIMIT} of {len(selection)} are shown; the export has all.")
else:
    st.caption("Nothing selected yet.")

# -- export and removal -------------------------------------------------------------------
st.subheader("Export and remove")
clusters = frame["cluster"].tolist()
flagged_ids = frame.loc[frame["flagged"], "sample"].tolist()
export_context = {
    "run_id": run_id,
    "class": class_id,
    "method": method,
    "embedding": EmbedConfig.model_validate(embedding["config"]).result_name(),
    "k": k,
}
cells = st.columns(4)
for cell, (label, ids, what) in zip(
    cells,
    (
        ("Selection as CSV", selection, "selection"),
        ("Selection as JSON", selection, "selection"),
        ("Flagged cluster as CSV", flagged_ids, "flagged"),
        ("Flagged cluster as JSON", flagged_ids, "flagged"),
    ),
    strict=True,
):
    rows = export_rows(embedding, list(ids), clusters)
    as_json = label.endswith("JSON")
    cell.download_button(
        label,
        to_json(rows, export_context | {"what": what}) if as_json else to_csv(rows),
        f"heatclust-{run_id}-class{class_id}-{what}.{'json' if as_json else 'csv'}",
        "application/json" if as_json else "text/csv",
        disabled=not ids,
        icon=":material/download:",
        key=f"export-{what}-{'json' if as_json else 'csv'}",
    )
if store.read_only:
    st.caption(
        "Removing samples and retraining needs a run of your own: train this configuration on "
        "the Attack & train page (the example is read-only)."
    )
else:
    left, right = st.columns([3, 1])
    removal_mode = left.radio(
        "Retraining",
        REMOVAL_MODES,
        horizontal=True,
        format_func=REMOVAL_MODE_TITLES.get,
        key="explore-removal-mode",
    )
    if right.button(
        "Remove the selection and retrain",
        icon=":material/cleaning_services:",
        disabled=not selection,
    ):
        try:
            outcome = jobs.submit_remediate(
                run_id,
                RemediateConfig(
                    detect=DetectConfig(class_id=class_id),
                    mode=removal_mode,
                    removed=tuple(selection),
                ),
            )
            st.info(
                "This removal was already done: Inspect shows it."
                if outcome.cached
                else "Retraining without the selection: see the job above; Inspect compares "
                "before and after when it ends."
            )
        except ConfigError as exc:
            st.error(f"{exc.parameter}: {exc.message}", icon=":material/error:")
        except HeatClustError as exc:
            st.error(str(exc))
st.caption("This view's link (its query parameters):")
st.code("?" + "&".join(f"{k}={v}" for k, v in st.query_params.to_dict().items()), language=None)
