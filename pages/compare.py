"""Compare: sweeps over attack kind, p, s, amp and seeds as the paper's tables and charts, and
live tuning between the computed cells of a sweep."""

import streamlit as st
from pydantic import ValidationError

from heatclust_core.attacks.preview import attack_preview
from heatclust_core.config import (
    ATTACK_KINDS,
    SHARED_TRAIN_FIELDS,
    SHARED_TRIGGER_FIELDS,
    AttackConfig,
    DataConfig,
    RunConfig,
    TrainConfig,
    from_stored,
)
from heatclust_core.data.gallery import upscale
from heatclust_core.detection.config import DETECTORS
from heatclust_core.errors import ConfigError, HeatClustError
from heatclust_core.pipeline import resolve
from heatclust_core.presentation.figures import DETECTOR_NAMES, per_class_asr_figure
from heatclust_core.presentation.report import sweep_report
from heatclust_core.presentation.sweep_figures import per_class_asr_sweep_figure, rate_figures
from heatclust_core.storage import settings
from heatclust_core.sweeps import PRESETS, SweepConfig, preset
from heatclust_core.sweeps.config import custom_sweep
from heatclust_core.sweeps.runner import load_sweeps, sweep_record
from heatclust_core.sweeps.tables import paper_layout, sweep_table
from ui import example
from ui.fields import field_row
from ui.job_panel import job_panel
from ui.navigation import require_app
from ui.resources import runner

require_app()


def _numbers(text: str, cast, parameter: str) -> tuple:
    try:
        return tuple(cast(part) for part in text.replace(",", " ").split())
    except ValueError:
        raise ConfigError(parameter, f"give numbers separated by commas, got {text!r}") from None


def _submit(sweep: SweepConfig) -> None:
    try:
        outcome = runner().submit_sweep(sweep)
    except HeatClustError as exc:
        st.error(str(exc))
        return
    if outcome.cached:
        st.success("Every cell of this sweep is already computed: it is listed below.")
    elif outcome.duplicate:
        st.info("This sweep is already queued or running.")
    else:
        st.success(f"Started sweep job {outcome.job.id}.")


st.title("Compare")
st.caption(
    "A sweep trains and scans one run per cell of a grid. Cells reuse every cached run and "
    "detection, so an interrupted sweep resumes where it stopped."
)
jobs = runner()
own_store = jobs.store
# Picker key -> (record, the store its runs live in): the user's sweeps, then the example's.
by_key = {}
for sweep_store in (own_store, example.store()):
    if sweep_store is None:
        continue
    saved_sweeps = load_sweeps(sweep_store)
    for damaged in saved_sweeps.damaged:
        st.warning(str(damaged), icon=":material/broken_image:")
    for saved in saved_sweeps.values:
        key = example.key(saved["sweep_id"]) if sweep_store.read_only else saved["sweep_id"]
        by_key[key] = (saved, sweep_store)
records = [record for record, _ in by_key.values()]
data_dir = str(settings.current().data_dir)

with st.expander("Start a sweep", expanded=not records):
    from_preset, custom = st.tabs(["The paper's tables", "Your own grid"])
    with from_preset:
        name = st.selectbox(
            "Preset", list(PRESETS), format_func=lambda n: PRESETS[n].description, key="preset"
        )
        full = st.toggle("The paper's full budget (100 epochs)", key="preset-full")
        preset_train = field_row(st, TrainConfig, SHARED_TRAIN_FIELDS, "preset-")
        chosen, note = preset(
            name,
            full,
            RunConfig(data=DataConfig(data_dir=data_dir), train=TrainConfig(**preset_train)),
        )
        st.caption(f"{note}. {len(chosen.cells())} cells.")
        if st.button("Run preset", type="primary", key="run-preset"):
            _submit(chosen)
    with custom:
        kinds = st.multiselect("Attacks", ATTACK_KINDS[1:], default=["standard"], key="sweep-kinds")
        left, middle, right = st.columns(3)
        p_text = left.text_input("p values (%)", "33, 15, 10", key="sweep-p")
        amp_text = middle.text_input("amp values", "128", key="sweep-amp")
        size_text = right.text_input("sticker sizes s", "3", key="sweep-s")
        left, middle, right = st.columns(3)
        n_seeds = left.number_input("Seeds", value=1, step=1, key="sweep-seeds")
        epochs = middle.number_input(
            "Epochs", value=TrainConfig().epochs, step=1, key="sweep-epochs"
        )
        images = right.number_input(
            "Images per class", value=DataConfig().images_per_class, step=100, key="sweep-images"
        )
        train = field_row(st, TrainConfig, SHARED_TRAIN_FIELDS, "sweep-")
        trigger = field_row(st, AttackConfig, SHARED_TRIGGER_FIELDS, "sweep-")
        detectors = st.multiselect(
            "Detectors",
            DETECTORS,
            default=list(SweepConfig().detectors),
            format_func=DETECTOR_NAMES.get,
            key="sweep-detectors",
        )
        if st.button("Run sweep", key="run-sweep"):
            try:
                sweep = custom_sweep(
                    "custom",
                    {"data_dir": data_dir, "images_per_class": images},
                    {"epochs": epochs, **train},
                    {
                        "kinds": kinds,
                        "p": _numbers(p_text, float, "p"),
                        "amp": _numbers(amp_text, int, "amp"),
                        "sticker_size": _numbers(size_text, int, "sticker_size"),
                        "seeds": tuple(range(max(int(n_seeds), 0))),
                    },
                    detectors,
                    trigger,
                )
            except ConfigError as exc:
                st.error(f"{exc.parameter}: {exc.message}", icon=":material/error:")
            else:
                _submit(sweep)

job_panel(jobs, kinds=("sweep",), key="sweep-jobs")
if not records:
    st.info("No sweep yet: start one above.")
    st.stop()


def _sweep_label(key: str) -> str:
    saved, sweep_store = by_key[key]
    done = sum(c is not None for c in saved["cells"])
    return ("Example · " if sweep_store.read_only else "") + (
        f"{saved['name']} · {saved['sweep_id']} · {done}/{len(saved['cells'])} cells"
    )


picked = st.selectbox("Sweep", list(by_key), format_func=_sweep_label)
sweep_id = by_key[picked][0]["sweep_id"]
store = by_key[picked][1]
if store.read_only:
    st.caption(
        "The shipped example (read-only), built by `python -m heatclust_core example "
        "--rebuild` from the default settings; the sidebar hides it.",
    )
try:
    sweep = from_stored(SweepConfig, by_key[picked][0]["config"])
    record = sweep_record(sweep, store)  # fresh from the run store: cells finished since count
except (ValidationError, HeatClustError) as exc:
    st.error(f"Sweep {sweep_id} cannot be shown: {str(exc).splitlines()[0]}")
    st.stop()
table = sweep_table(record)

st.subheader("Table")
if table.empty:
    st.caption("No cell computed yet.")
else:
    st.dataframe(paper_layout(table, record).round(2), hide_index=True, key="sweep-table")
    with st.expander("All columns: means and variances over seeds (percent)"):
        st.dataframe(table.round(3), hide_index=True)
    left, right = st.columns(2)
    left.download_button(
        "Table as CSV", table.to_csv(index=False), f"{sweep_id}.csv", "text/csv", key="csv"
    )
    right.download_button(
        "HTML report",
        lambda: sweep_report(record),
        f"{sweep_id}.html",
        "text/html",
        key="sweep-report",
    )
    figures = rate_figures(record)
    for row in range(0, len(figures), 2):
        for column, figure in zip(st.columns(2), figures[row : row + 2], strict=False):
            column.plotly_chart(figure, key=f"rates-{row}-{figure.layout.title.text}")
    per_class = per_class_asr_sweep_figure(record)
    if per_class is not None:
        st.plotly_chart(per_class, key="sweep-per-class-asr")

st.subheader("Live tuning")
st.caption("Move between the cells of this sweep; nothing is recomputed.")
cells = sweep.cells()
axes = {
    "kind": sorted({c.attack.kind for c in cells}, key=ATTACK_KINDS.index),
    "p": sorted({c.attack.p for c in cells}),
    "amp": sorted({c.attack.amp for c in cells}),
    "sticker_size": sorted({c.attack.sticker_size for c in cells}),
    "seed": sorted({c.attack.seed for c in cells}),
}
labels = {"kind": "Attack", "p": "p (%)", "amp": "amp", "sticker_size": "s (px)", "seed": "Seed"}
wanted = {}
columns = st.columns(sum(len(values) > 1 for values in axes.values()) or 1)
for column, axis in zip(columns, [a for a, v in axes.items() if len(v) > 1], strict=False):
    wanted[axis] = column.select_slider(labels[axis], axes[axis], key=f"tune-{axis}")
for axis, values in axes.items():
    wanted.setdefault(axis, values[0])
index = next(
    i
    for i, c in enumerate(cells)
    if (c.attack.kind, c.attack.p, c.attack.amp, c.attack.sticker_size, c.attack.seed)
    == tuple(wanted[a] for a in ("kind", "p", "amp", "sticker_size", "seed"))
)
cell, summary = resolve(cells[index]), record["cells"][index]
if summary is None:
    st.info("This cell is not computed yet.")
    if not store.read_only and st.button("Queue this cell", key="queue-cell"):
        single = sweep.model_copy(
            update={
                "kinds": (cell.attack.kind,),
                "p": (cell.attack.p,),
                "amp": (cell.attack.amp,),
                "sticker_size": (cell.attack.sticker_size,),
                "seeds": (cell.attack.seed,),
            }
        )
        _submit(single)
else:
    metrics = store.load_metrics(summary["run_id"])
    tiles = st.columns(2 + len(summary["detections"]))
    tiles[0].metric("ASR", f"{summary['asr']:.3f}")
    tiles[1].metric("MASR", f"{summary['masr']:.3f}")
    for tile, (detector, scores) in zip(tiles[2:], summary["detections"].items(), strict=True):
        tile.metric(
            f"{DETECTOR_NAMES.get(detector, detector)} ACC",
            f"{scores['acc']:.3f}",
            help=f"TPR {scores['tpr']:.3f} · TNR {scores['tnr']:.3f}",
        )
        tile.caption(f"TPR {scores['tpr']:.3f} · TNR {scores['tnr']:.3f}")
    st.plotly_chart(
        per_class_asr_figure(metrics, cell.attack.source, cell.attack.target, cell.attack.kind),
        key="tune-asr",
    )
    st.page_link(
        "pages/inspect.py",
        label=f"Inspect run {summary['run_id']}",
        icon=":material/insights:",
        query_params={
            "run": example.key(summary["run_id"]) if store.read_only else summary["run_id"]
        },
    )
preview = attack_preview(cell.data, cell.attack, n=6)
if preview is not None:
    st.image([upscale(i, 3) for i in preview.poisoned], caption=["poisoned"] * 6)
    if preview.note:
        st.caption(preview.note)
