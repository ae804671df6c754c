"""Self-contained HTML reports of a run or a sweep, for auditors: one file, readable offline.

plotly.js is inlined once (no CDN), images are inlined as base64 PNG, and nothing in the page
refers to an external URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

import heatclust_core
from heatclust_core.attacks.metrics import describe_readings
from heatclust_core.attacks.preview import attack_preview
from heatclust_core.detection.remediation import load_remediations
from heatclust_core.detection.run import load_detections
from heatclust_core.detection.scan import load_scans
from heatclust_core.detection.trigger import trigger_patch_image, trigger_summary
from heatclust_core.explain.gallery import heatmap_gallery
from heatclust_core.presentation.figures import (
    DETECTOR_NAMES,
    cluster_scatter,
    detection_points,
    detector_table,
    exre_table,
    heatmap_gallery_figure,
    per_class_asr_figure,
    remediation_asr_figure,
    remediation_table,
    scan_figure,
    training_history_figure,
)
from heatclust_core.presentation.sweep_figures import per_class_asr_sweep_figure, rate_figures
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps.tables import paper_layout, sweep_table
from heatclust_core.training.network import pick_device

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
.meta { color: #666; } .images img { image-rendering: pixelated; margin: 2px; }
pre { background: #f7f7f7; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
"""


class _Page:
    """Accumulates sections; the first chart carries plotly.js, the others reuse it."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.charts = 0

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, css: str = "") -> None:
        self.parts.append(f'<p class="{css}">{html.escape(text)}</p>')

    def table(self, frame: pd.DataFrame, digits: int = 3) -> None:
        self.parts.append(
            frame.to_html(
                index=False, float_format=lambda v: f"{v:.{digits}f}", na_rep="", border=0
            )
        )

    def json(self, value: Any) -> None:
        self.parts.append(f"<pre>{html.escape(json.dumps(value, indent=2, sort_keys=True))}</pre>")

    def chart(self, figure: go.Figure) -> None:
        self.parts.append(
            figure.to_html(
                full_html=False,
                include_plotlyjs=self.charts == 0,
                config={"displaylogo": False, "responsive": True},
            )
        )
        self.charts += 1

    def images(self, images: np.ndarray, caption: str, scale: int = 3) -> None:
        tags = "".join(
            f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{_png(image)}" '
            f'width="{image.shape[1] * scale}">'
            for image in images
        )
        self.parts.append(f'<div class="images">{tags}<div class="meta">{caption}</div></div>')

    def render(self) -> str:
        made = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>"
            f"<p class='meta'>HeatClust {heatclust_core.__version__} · written {made}</p>"
            + "\n".join(self.parts)
            + "</body></html>"
        )


def _png(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def run_report(store: RunStore, run_id: str, gallery_size: int = 6) -> str:
    """Configuration, versions, metrics, per-class ASR, training curve, poisoned examples,
    detector table, heatmap gallery, cluster plots and class scan of one run."""
    config = store.load_config(run_id)
    metrics = store.load_metrics(run_id)
    attack, names = config.attack, metrics["class_names"]
    page = _Page(f"HeatClust report: run {run_id}")
    if store.read_only:
        page.text(
            "The example shipped with HeatClust, built from its default settings by "
            "`python -m heatclust_core example --rebuild`.",
            css="meta",
        )
    page.text(
        f"{attack.kind} attack, source {attack.source} {names[attack.source]} → target "
        f"{attack.target} {names[attack.target]}, p={attack.p:g}%, {attack.trigger_label}"
    )
    page.heading("Attack success")
    page.table(
        pd.DataFrame(
            [
                {
                    "clean accuracy": metrics["clean_accuracy"],
                    "ASR": metrics["asr"],
                    "MASR": metrics["masr"],
                    "poisoned samples": metrics["n_poisoned"],
                    "epochs": len(metrics["history"]),
                    "training s": metrics.get("train_seconds"),
                }
            ]
        ),
        digits=4,
    )
    for line in describe_readings(metrics):
        page.text(line)
    page.chart(per_class_asr_figure(metrics, attack.source, attack.target, attack.kind))
    page.chart(training_history_figure(metrics["history"]))

    preview = attack_preview(config.data, attack, n=6)
    if preview is not None:
        page.heading("Poisoned examples")
        page.images(preview.clean, "clean")
        page.images(preview.poisoned, f"poisoned (labelled {preview.label_after})")

    loaded = load_detections(store, run_id)
    detections = loaded.values
    train_set = store.load_train_set(run_id)
    page.heading("Detectors")
    if detections:
        page.table(detector_table(detections))
        for detection in detections:
            points = detection_points(detection, train_set.is_poisoned)
            name = DETECTOR_NAMES.get(detection["detector"], detection["detector"])
            axes = detection.get("embedding_axes", ["component 1", "component 2"])
            page.chart(cluster_scatter(points, axes, f"{name}: cluster assignments", mds=False))
            if detection.get("mds"):
                page.chart(
                    cluster_scatter(
                        points, ("MDS 1", "MDS 2"), f"{name}: MDS of GW distances", True
                    )
                )
    else:
        page.text("No detector has run on this run.")
    for damaged in loaded.damaged:
        page.text(f"Left out: {damaged}")

    remediations = load_remediations(store, run_id)
    if remediations.values:
        page.heading("Defence: flagged samples removed, network trained again")
        for remediation in remediations.values:
            name = DETECTOR_NAMES.get(remediation["detector"], remediation["detector"])
            trigger = remediation.get("trigger")
            page.text(
                f"{name}, {remediation['mode']}: run {remediation['run_id']} without the "
                f"{remediation['removed']} "
                + (
                    "samples flagged or holding the recovered trigger"
                    if trigger and trigger["found"]
                    else "flagged samples"
                )
                + f", {remediation['removed_poisoned']} of the {remediation['n_poisoned']} "
                f"poisons among them; DER {remediation['der']:.3f}."
            )
            if trigger:
                page.text(trigger_summary(trigger).capitalize() + ".")
                patch = trigger_patch_image(trigger)
                if patch is not None:
                    page.images(patch[None], "the recovered trigger", scale=16)
            page.table(remediation_table(remediation), digits=4)
            page.chart(remediation_asr_figure(remediation, names))
            exre = exre_table(remediation, names)
            if exre is not None:
                page.table(exre)
    for damaged in remediations.damaged:
        page.text(f"Left out: {damaged}")

    suspicious = detections[0]["class"] if detections else attack.target
    device = pick_device()
    poisoned, clean = heatmap_gallery(
        store.load_model(run_id, device), train_set, suspicious, gallery_size, device=device
    )
    page.heading("Heatmaps")
    page.chart(heatmap_gallery_figure(poisoned, clean, names[suspicious]))

    scans = load_scans(store, run_id).values
    if scans:
        page.heading("Class scan")
        page.chart(scan_figure(scans[0], attack.target))

    page.heading("Configuration and versions")
    page.json(
        {"run_id": run_id, "config": config.model_dump(), "versions": metrics.get("versions")}
    )
    return page.render()


def sweep_report(record: dict[str, Any], note: str = "") -> str:
    """The sweep's table in the paper's form, the full table, and detection rates against
    the varying axis with their spread over seeds."""
    page = _Page(f"HeatClust report: sweep {record['sweep_id']}")
    if note:
        page.text(note)
    done = sum(cell is not None for cell in record["cells"])
    page.text(f"{done} of {len(record['cells'])} cells computed.", css="meta")
    table = sweep_table(record)
    page.heading("Table")
    if table.empty:
        page.text("No cell computed yet.")
    else:
        page.table(paper_layout(table, record), digits=2)
        for figure in rate_figures(record):
            page.chart(figure)
        per_class = per_class_asr_sweep_figure(record)
        if per_class is not None:
            page.chart(per_class)
        page.heading("All columns (percent; variances over seeds)")
        page.table(table, digits=2)
    page.heading("Configuration")
    page.json(record["config"])
    return page.render()
