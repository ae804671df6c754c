"""Plotly figures and tables of the explorer: the embedding coloured and selectable, the choice
of k, and the clusters at the chosen k."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from heatclust_core.explore.config import K_CHOICES
from heatclust_core.explore.embeddings import eigengaps
from heatclust_core.explore.view import COLOURING_TITLES
from heatclust_core.presentation.figures import CLUSTER_COLORS

TRUTH_COLOURS = {"clean": "#4c78a8", "poisoned": "#e45756"}
# layout.meta of the embedding chart: how the page's hover preview finds it.
EMBEDDING_CHART_META = "heatclust-embedding"


def k_entry(embedding: dict, k: int) -> dict:
    """The saved k-means of the embedding at k (the largest saved k if k is beyond them)."""
    entries = {entry["k"]: entry for entry in embedding["k_choice"]}
    return entries.get(k) or entries[max(entries)]


def sample_frame(
    embedding: dict, k: int, detection: dict | None, class_names: Sequence[str]
) -> pd.DataFrame:
    """Per sample of the embedding: id, x, y, ground truth, predicted class name, trigger
    share, its cluster at k (and whether flagged), and the detection's cluster if given."""
    coords = np.asarray(embedding["coords"], dtype=float)
    entry = k_entry(embedding, k)
    clusters = np.asarray(entry["labels"])
    predicted = np.asarray(embedding["predicted"])
    frame = pd.DataFrame(
        {
            "sample": embedding["sample_index"],
            "x": coords[:, 0],
            "y": coords[:, 1],
            "truth": np.where(np.asarray(embedding["sample_poisoned"], bool), "poisoned", "clean"),
            "predicted": [f"{c} · {class_names[c]}" for c in predicted],
            "trigger": np.array(
                [np.nan if v is None else v for v in embedding["trigger_share"]], dtype=float
            ),
            "cluster": clusters,
            "flagged": np.isin(clusters, entry["flagged"]),
        }
    )
    frame["detection"] = None
    if detection is not None:
        by_sample = dict(zip(detection["sample_index"], detection["cluster_labels"], strict=True))
        flagged = set(detection["flagged_clusters"])
        frame["detection"] = [
            None
            if s not in by_sample
            else f"cluster {by_sample[s]}" + (" (flagged)" if by_sample[s] in flagged else "")
            for s in frame["sample"]
        ]
    return frame


def _category(frame: pd.DataFrame, colour: str) -> pd.Series:
    if colour == "truth":
        return frame["truth"]
    if colour == "cluster":
        return frame["cluster"].map(lambda c: f"cluster {c}") + np.where(
            frame["flagged"], " (flagged)", ""
        )
    if colour == "predicted":
        return frame["predicted"]
    return frame["detection"].fillna("not in the detection")


def embedding_figure(
    frame: pd.DataFrame,
    colour: str,
    axes: Sequence[str],
    title: str,
    selection: Sequence[int] = (),
) -> go.Figure:
    """Scatter of the samples, one trace per colour category (or a colour scale for the
    trigger share; samples without a trigger location grey); marker x = poisoned. Points of
    `selection` (sample ids) are drawn selected. customdata = sample id; hover says the rest."""
    chosen = set(int(s) for s in selection)
    figure = go.Figure()
    hover = "sample %{customdata}<br>%{text}<extra></extra>"
    text = (
        frame["truth"]
        + ", predicted "
        + frame["predicted"]
        + ", cluster "
        + frame["cluster"].astype(str)
        + np.where(frame["trigger"].notna(), ", trigger share ", "")
        + frame["trigger"].map(lambda v: "" if np.isnan(v) else f"{v:.2f}")
    )

    def add(part: pd.DataFrame, name: str, marker: dict) -> None:
        positions = [n for n, s in enumerate(part["sample"]) if int(s) in chosen]
        figure.add_scatter(
            x=part["x"],
            y=part["y"],
            mode="markers",
            name=name,
            marker={
                "size": 7,
                "opacity": 0.85,
                "symbol": np.where(part["truth"] == "poisoned", "x", "circle"),
                **marker,
            },
            customdata=part["sample"],
            text=text[part.index],
            hovertemplate=hover,
            selectedpoints=positions if chosen else None,
            unselected={"marker": {"opacity": 0.15}},
        )

    if colour == "trigger":
        known = frame[frame["trigger"].notna()]
        if not known.empty:
            add(
                known,
                "relevance on the trigger",
                {
                    "color": known["trigger"],
                    "colorscale": "Viridis",
                    "cmin": 0.0,
                    "cmax": 1.0,
                    "colorbar": {"title": "share"},
                },
            )
        unknown = frame[frame["trigger"].isna()]
        if not unknown.empty:
            add(unknown, "no trigger location", {"color": "#bbbbbb"})
    else:
        categories = _category(frame, colour)
        for n, value in enumerate(sorted(categories.unique())):
            part = frame[categories == value]
            colour_of = TRUTH_COLOURS.get(value) or CLUSTER_COLORS[n % len(CLUSTER_COLORS)]
            add(part, value, {"color": colour_of})
    figure.update_layout(
        title=title,
        xaxis_title=axes[0],
        yaxis_title=axes[1],
        legend_title=f"colour = {COLOURING_TITLES[colour]}, marker x = poisoned",
        dragmode="select",
        height=560,
        meta=EMBEDDING_CHART_META,
    )
    return figure


def choice_of_k_figure(embedding: dict, k: int) -> go.Figure:
    """Silhouette of k-means per k (the chosen k highlighted) and, for the spectral embedding,
    the eigengap after the k-th smallest Laplacian eigenvalue."""
    entries = embedding["k_choice"]
    gaps = eigengaps(embedding["eigenvalues"]) if embedding.get("eigenvalues") else None
    figure = make_subplots(
        rows=1,
        cols=2 if gaps else 1,
        subplot_titles=["silhouette of k-means"] + (["eigengap of the Laplacian"] if gaps else []),
    )
    colours = ["#e45756" if e["k"] == k else "#4c78a8" for e in entries]
    figure.add_bar(
        x=[e["k"] for e in entries],
        y=[e["silhouette"] for e in entries],
        marker_color=colours,
        name="silhouette",
        hovertemplate="k = %{x}: silhouette %{y:.3f}<extra></extra>",
        row=1,
        col=1,
    )
    if gaps:
        figure.add_bar(
            x=list(gaps),
            y=list(gaps.values()),
            marker_color=["#e45756" if g == k else "#72b7b2" for g in gaps],
            name="eigengap",
            hovertemplate="k = %{x}: gap %{y:.4f}<extra></extra>",
            row=1,
            col=2,
        )
    figure.update_xaxes(title="k", tickvals=list(K_CHOICES))
    figure.update_layout(height=260, showlegend=False, margin={"t": 40, "b": 40})
    return figure


def cluster_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cluster at the chosen k: size, poisoned samples and share, flagged."""
    rows = []
    for cluster, part in frame.groupby("cluster"):
        poisoned = int((part["truth"] == "poisoned").sum())
        rows.append(
            {
                "cluster": int(cluster),
                "size": len(part),
                "poisoned": poisoned,
                "poisoned share": poisoned / len(part),
                "flagged": bool(part["flagged"].iloc[0]),
            }
        )
    return pd.DataFrame(rows)
