"""Plotly figures and tables of runs and detections: the dashboard draws them, the report embeds
them. Each builder takes plain results (metrics dicts, detection dicts, arrays) and returns a
plotly Figure or a pandas DataFrame; nothing here is computed that the library did not save.

Long because it holds every figure the pages and the report share, so both draw the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.trigger import trigger_patch_image
from heatclust_core.explain.tiles import HeatmapTile

if TYPE_CHECKING:
    from heatclust_core.explain.point_cloud import PointCloud  # loads scipy and torch

POISONED_COLOR = "#d62728"
CLEAN_COLOR = "#1f77b4"
SOURCE_COLOR = "#ff7f0e"
CLUSTER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
DETECTOR_NAMES = {
    "raw": "Raw clustering",
    "ac": "Activation Clustering",
    "ss": "Spectral Signatures",
    "hc": "Heatmap Clustering",
}


def per_class_asr_figure(
    metrics: dict, source: int, target: int, kind: str = "standard"
) -> go.Figure:
    """Figure 6: the trigger's success on every class's test images, the MASR as a line, the
    target class (no ASR: it is where triggers lead) marked. The standard attack's source class
    is highlighted; the label-consistent attacks have none (they poison target images only),
    and MASR is their headline."""
    names = metrics["class_names"]
    asr = metrics["per_class_asr"]
    ids = [c for c in range(len(names)) if str(c) in asr]
    has_source = kind == "standard"
    colors = [SOURCE_COLOR if has_source and c == source else CLEAN_COLOR for c in ids]
    figure = go.Figure(
        go.Bar(
            x=[f"{c} {names[c]}" for c in ids],
            y=[asr[str(c)] for c in ids],
            marker_color=colors,
            customdata=ids,
            hovertemplate="class %{x}<br>ASR %{y:.3f}<extra></extra>",
            name="per-class ASR",
        )
    )
    figure.add_hline(
        y=metrics["masr"],
        line_dash="dash",
        line_color=POISONED_COLOR,
        annotation_text=f"MASR {metrics['masr']:.3f}",
        annotation_position="top left",
    )
    target_text = f"target: {target} {names[target]}"
    if has_source:
        target_text += f" (ASR {metrics['asr']:.3f} from source {source})"
    figure.add_annotation(
        text=target_text,
        xref="paper",
        yref="paper",
        x=1,
        y=1.12,
        showarrow=False,
        font_color=POISONED_COLOR,
    )
    figure.update_layout(
        title="Attack success rate per class"
        + (" (source class in orange)" if has_source else f" ({kind} attack, as Figure 6)"),
        yaxis_title="share of triggered test images classified as the target",
        yaxis_range=[0, 1.05],
        xaxis_tickangle=-45,
        margin={"t": 80},
        showlegend=False,
    )
    return figure


def training_history_figure(history: Sequence[dict]) -> go.Figure:
    epochs = [h["epoch"] for h in history]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_scatter(x=epochs, y=[h["train_loss"] for h in history], name="train loss")
    figure.add_scatter(x=epochs, y=[h["val_loss"] for h in history], name="validation loss")
    figure.add_scatter(
        x=epochs, y=[h["val_acc"] for h in history], name="validation accuracy", secondary_y=True
    )
    figure.update_layout(title="Training", xaxis_title="epoch")
    figure.update_yaxes(title_text="loss", secondary_y=False)
    figure.update_yaxes(title_text="accuracy", range=[0, 1.02], secondary_y=True)
    return figure


def detector_table(detections: Sequence[dict]) -> pd.DataFrame:
    """One row per saved detection: Tables 1-4's ACC/TPR/TNR, precision, F1 and stage times."""
    rows = []
    for d in detections:
        config = d["config"]
        seconds = d.get("seconds", {})
        rows.append(
            {
                "detector": DETECTOR_NAMES.get(d["detector"], d["detector"]),
                "class": f"{d['class']} {d['class_name']}",
                "settings": _settings(config, d.get("k_chosen")),
                "ACC": d["acc"],
                "TPR": d["tpr"],
                "TNR": d["tnr"],
                "precision": d["precision"],
                "F1": d["f1"],
                "samples": d["n_samples"],
                "poisoned": d["n_poisoned"],
                "flagged": int(sum(d["cluster_sizes"][c] for c in d["flagged_clusters"])),
                "features s": seconds.get("features"),
                "clustering s": seconds.get("clustering"),
                "pairwise s": seconds.get("pairwise"),
                "total s": seconds.get("total"),
            }
        )
    return pd.DataFrame(rows)


def detector_bars(detections: Sequence[dict]) -> go.Figure:
    """ACC, TPR and TNR of each detection side by side (fractions), one group per rate."""
    figure = go.Figure()
    for d in detections:
        figure.add_trace(
            go.Bar(
                name=DETECTOR_NAMES.get(d["detector"], d["detector"]),
                x=["accuracy", "poisons found (TPR)", "clean kept (TNR)"],
                y=[d["acc"], d["tpr"], d["tnr"]],
                text=[f"{v:.2f}" for v in (d["acc"], d["tpr"], d["tnr"])],
                textposition="outside",
            )
        )
    figure.update_layout(
        barmode="group",
        yaxis={"range": [0, 1.1], "title": "fraction"},
        height=340,
        margin={"t": 30, "b": 30},
        legend={"orientation": "h"},
    )
    return figure


def _settings(config: dict, k_chosen: int | None = None) -> str:
    # Results saved by older versions may lack newer fields: fill in today's defaults.
    config = DetectConfig().model_dump() | config
    if config["detector"] == "raw":
        text = f"{config['reducer'].upper()} {config['n_components']}"
    elif config["detector"] == "ac":
        text = f"layer {config['layer']}, {config['reducer'].upper()} {config['n_components']}" + (
            ", unit length" if config["normalize"] else ""
        )
    elif config["detector"] == "ss":
        return f"layer {config['layer']}, expected share {config['expected_share']}"
    else:
        text = (
            f"share {config['relevance_share']}, eps {config['epsilon']}, {config['lrp_composite']}"
        )
    clusters = (
        f"k={k_chosen} of 2-{config['k']} by silhouette"
        if config["k_selection"] == "silhouette"
        else f"k={config['k']}"
    )
    return f"{clusters}, {config['flag_rule']}; {text}"


def detection_points(detection: dict, is_poisoned: np.ndarray | None = None) -> pd.DataFrame:
    """Per sample of a detection: sample id, cluster, ground truth, flagged, and the saved
    2-D coordinates (x, y), plus MDS coordinates (mds_x, mds_y) where HC made them. The ground
    truth is the pool's (N,) `is_poisoned`, or without it the detection's own copy."""
    index = np.asarray(detection["sample_index"])
    clusters = np.asarray(detection["cluster_labels"])
    embedding = np.asarray(detection["embedding"], dtype=float)
    truth = (
        np.asarray(detection["sample_poisoned"], dtype=bool)
        if is_poisoned is None
        else is_poisoned[index]
    )
    frame = pd.DataFrame(
        {
            "sample": index,
            "cluster": clusters,
            "truth": np.where(truth, "poisoned", "clean"),
            "flagged": np.isin(clusters, detection["flagged_clusters"]),
            "x": embedding[:, 0],
            "y": embedding[:, 1] if embedding.shape[1] > 1 else 0.0,
        }
    )
    frame["mds_x"] = frame["mds_y"] = np.nan
    mds = detection.get("mds")
    if mds:
        positions = np.asarray(mds["sample_position"])
        coords = np.asarray(mds["coords"], dtype=float)
        frame.loc[positions, "mds_x"] = coords[:, 0]
        frame.loc[positions, "mds_y"] = coords[:, 1]
    return frame


def cluster_scatter(points: pd.DataFrame, axes: Sequence[str], title: str, mds: bool) -> go.Figure:
    """Colour = cluster, marker = ground truth (x for poisoned), hover = sample id."""
    x, y = ("mds_x", "mds_y") if mds else ("x", "y")
    shown = points.dropna(subset=[x, y])
    figure = go.Figure()
    for cluster in sorted(shown["cluster"].unique()):
        for truth, symbol in (("clean", "circle"), ("poisoned", "x")):
            part = shown[(shown["cluster"] == cluster) & (shown["truth"] == truth)]
            if part.empty:
                continue
            flagged = bool(part["flagged"].iloc[0])
            figure.add_scatter(
                x=part[x],
                y=part[y],
                mode="markers",
                marker={
                    "symbol": symbol,
                    "size": 8 if symbol == "x" else 7,
                    "color": CLUSTER_COLORS[int(cluster) % len(CLUSTER_COLORS)],
                    "opacity": 0.8,
                },
                name=f"cluster {cluster}{' (flagged)' if flagged else ''} · {truth}",
                customdata=part["sample"],
                hovertemplate="sample %{customdata}<br>"
                + f"cluster {cluster}, {truth}<extra></extra>",
            )
    figure.update_layout(
        title=title,
        xaxis_title=axes[0],
        yaxis_title=axes[1],
        legend_title="colour = cluster, marker = ground truth",
    )
    return figure


def _heatmap_trace(heatmap: np.ndarray, show_scale: bool) -> go.Heatmap:
    limit = float(np.abs(heatmap).max()) or 1.0
    return go.Heatmap(
        z=heatmap,
        zmin=-limit,
        zmax=limit,
        colorscale="RdBu_r",
        showscale=show_scale,
        hovertemplate="row %{y}, col %{x}<br>relevance %{z:.4f}<extra></extra>",
    )


def heatmap_gallery_figure(
    poisoned: Sequence[HeatmapTile], clean: Sequence[HeatmapTile], class_name: str
) -> go.Figure:
    """Figures 3-4: rows of samples; poisoned on the left, clean on the right, each image
    beside its LRP heatmap (red = relevance for the label, blue = against)."""
    rows = max(len(poisoned), len(clean), 1)
    titles = []
    for r in range(rows):
        for group, name in ((poisoned, "poisoned"), (clean, "clean")):
            if r < len(group):
                titles += [f"{name} #{group[r].sample}", "heatmap"]
            else:
                titles += ["", ""]
    figure = make_subplots(
        rows=rows,
        cols=4,
        subplot_titles=titles,
        horizontal_spacing=0.02,
        vertical_spacing=0.04,
    )
    for r in range(rows):
        for offset, group in ((0, poisoned), (2, clean)):
            if r >= len(group):
                continue
            tile = group[r]
            figure.add_trace(
                go.Image(z=tile.image, hovertemplate=f"sample {tile.sample}<extra></extra>"),
                row=r + 1,
                col=offset + 1,
            )
            figure.add_trace(_heatmap_trace(tile.heatmap, False), row=r + 1, col=offset + 2)
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor=None)
    figure.update_layout(
        title=f"LRP heatmaps of {class_name}: poisoned (left) and clean (right) training samples",
        height=150 * rows + 120,
        margin={"t": 90},
    )
    figure.update_annotations(font_size=11)
    return figure


def point_cloud_figure(tile: HeatmapTile, cloud: PointCloud) -> go.Figure:
    """The image, its heatmap, and the relevance point cloud HC compares (size = mass)."""
    figure = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            f"sample {tile.sample} ({'poisoned' if tile.poisoned else 'clean'})",
            "LRP heatmap",
            f"point cloud: {cloud.size} pixels",
        ),
    )
    figure.add_trace(go.Image(z=tile.image), row=1, col=1)
    figure.add_trace(_heatmap_trace(tile.heatmap, True), row=1, col=2)
    rows, cols = cloud.coords[:, 0], cloud.coords[:, 1]
    figure.add_trace(
        go.Scatter(
            x=cols,
            y=rows,
            mode="markers",
            marker={
                "size": 3 + 40 * np.sqrt(cloud.weights / cloud.weights.max()) / 3,
                "color": cloud.weights,
                "colorscale": "Reds",
                "showscale": False,
            },
            customdata=cloud.weights,
            hovertemplate="row %{y}, col %{x}<br>mass %{customdata:.4f}<extra></extra>",
            name="relevance mass",
        ),
        row=1,
        col=3,
    )
    size = tile.image.shape[0]
    figure.update_xaxes(range=[-0.5, size - 0.5], showticklabels=False)
    figure.update_yaxes(range=[size - 0.5, -0.5], showticklabels=False)
    figure.update_layout(height=380, showlegend=False)
    return figure


# Per scan method: the bar's quantity (hover), the title's phrase and the axis title.
_SCAN_AXES = {
    "heatmap": (
        "silhouette",
        "silhouette of each class's heatmap split",
        "silhouette of the 2-means split (higher = more suspicious)",
    ),
    "activation": (
        "silhouette",
        "silhouette of each class's activation split",
        "silhouette of the 2-means split (higher = more suspicious)",
    ),
    "labels": (
        "share read as one other class (95 % lower bound)",
        "share of each class the network reads as one other class",
        "lower bound of the share in one other class of the confident joint",
    ),
    "trigger": (
        "share of a class turned",
        "share of another class turned into each class by its most shared patch",
        "largest share of another class's images it classifies as this one, patch pasted",
    ),
    "combined": (
        "robust z",
        "the larger of the heatmap and labels robust z-scores",
        "robust z-score over the classes (higher = more suspicious)",
    ),
}


def _scan_hover(entry: dict) -> str:
    parts = [f"{entry['n_samples']} samples"]
    if "smaller_share" in entry:
        parts.append(f"smaller cluster {entry['smaller_share']:.2f}")
    if "silhouette" in entry and "heatmap_z" in entry:
        parts.append(f"silhouette {entry['silhouette']:.3f} (z {entry['heatmap_z']:.1f})")
    if entry.get("patch_size"):
        turned = (
            f"turns {entry['patch_success']:.2f} of class {entry['patch_source']}"
            if entry.get("patch_source") is not None
            else "turns no other class"
        )
        parts.append(
            f"{entry['patch_size']} px patch in {entry['patch_holders']} samples, "
            f"{entry['enrichment']:.0f}x the other classes' share; pasted, {turned}"
        )
    if "suspected_source" in entry:
        z = f" (z {entry['labels_z']:.1f})" if "labels_z" in entry else ""
        parts.append(f"{entry['source_share']:.3f} read as class {entry['suspected_source']}{z}")
    return "<br>".join(parts)


def scan_figure(scan: dict, target: int | None = None) -> go.Figure:
    """The class scan ranked, most suspicious on top."""
    ranking = list(reversed(scan["ranking"]))
    # Scans saved before the method was recorded were activation scans.
    method = scan.get("config", {}).get("method", "activation")
    quantity, title, axis = _SCAN_AXES.get(method, _SCAN_AXES["activation"])
    figure = go.Figure(
        go.Bar(
            x=[e["score"] for e in ranking],
            y=[f"{e['class']} {e['name']}" for e in ranking],
            orientation="h",
            marker_color=[POISONED_COLOR if e["class"] == target else CLEAN_COLOR for e in ranking],
            customdata=[[_scan_hover(e)] for e in ranking],
            hovertemplate="%{y}<br>" + quantity + " %{x:.3f}<br>%{customdata[0]}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Class scan: {title} (target class in red)",
        xaxis_title=axis,
        height=max(300, 28 * len(ranking) + 120),
    )
    return figure


def remediation_asr_figure(remediation: dict, class_names: Sequence[str]) -> go.Figure:
    """Per-class ASR of the attacked run and of its cleaned run, side by side."""
    before, after = remediation["per_class_asr_before"], remediation["per_class_asr_after"]
    ids = sorted((int(c) for c in before), key=int)
    labels = [f"{c} {class_names[c]}" for c in ids]
    figure = go.Figure()
    for name, rates, color in (
        (f"attacked (MASR {remediation['masr_before']:.3f})", before, POISONED_COLOR),
        (f"cleaned (MASR {remediation['masr_after']:.3f})", after, CLEAN_COLOR),
    ):
        figure.add_bar(
            x=labels,
            y=[rates.get(str(c)) for c in ids],
            name=name,
            marker_color=color,
            hovertemplate="class %{x}<br>ASR %{y:.3f}<extra>" + name + "</extra>",
        )
    figure.update_layout(
        title=f"Attack success per class before and after removing what "
        f"{DETECTOR_NAMES.get(remediation['detector'], remediation['detector'])} flagged "
        f"({remediation['mode']})",
        barmode="group",
        yaxis_title="share of triggered test images classified as the target",
        yaxis_range=[0, 1.05],
        xaxis_tickangle=-45,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        margin={"t": 90},
    )
    return figure


def remediation_table(remediation: dict) -> pd.DataFrame:
    """Before/after rows: clean accuracy, ASR, MASR (fractions)."""
    return pd.DataFrame(
        [
            {
                "measure": name,
                "attacked": remediation[f"{key}_before"],
                "cleaned": remediation[f"{key}_after"],
                "change": remediation[f"{key}_after"] - remediation[f"{key}_before"],
            }
            for name, key in (
                ("clean accuracy", "clean_accuracy"),
                ("ASR", "asr"),
                ("MASR", "masr"),
            )
        ]
    )


def exre_table(remediation: dict, class_names: Sequence[str]) -> pd.DataFrame | None:
    """ART's exclusionary reclassification, one row per flagged cluster (retraining only)."""
    if not remediation.get("exre"):
        return None
    rows = []
    for verdict in remediation["exre"]:
        source = verdict["suspected_source"]
        rows.append(
            {
                "cluster": verdict["cluster"],
                "samples": verdict["size"],
                "truly poisoned": verdict["truly_poisoned"],
                "keep their label": verdict["own_label_share"],
                "suspected source": f"{source} {class_names[source]}" if source is not None else "",
                "verdict": verdict["verdict"],
            }
        )
    return pd.DataFrame(rows)


def trigger_patch_figure(trigger: dict) -> go.Figure | None:
    """The recovered trigger patch, drawn pixel by pixel (None if no patch was found)."""
    patch = trigger_patch_image(trigger)
    if patch is None:
        return None
    figure = go.Figure(
        go.Image(z=patch, hovertemplate="row %{y}, col %{x}<br>RGB %{z}<extra></extra>")
    )
    figure.update_layout(
        width=160,
        height=160,
        margin=dict(l=0, r=0, t=24, b=0),
        title=dict(text="recovered trigger", font=dict(size=12)),
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure
