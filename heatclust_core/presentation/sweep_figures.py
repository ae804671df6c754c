"""Plotly charts of a sweep: detection rates and attack success against the varying axis."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from heatclust_core.sweeps.tables import AXES, DETECTOR_LABELS, RATES, sweep_table

AXIS_TITLES = {
    "p": "poisoned share p (%)",
    "amp": "trigger amplitude",
    "sticker_size": "sticker size s (px)",
}


def varying_axis(table) -> str:
    """The numeric axis the sweep varies (p if none does)."""
    for axis in ("p", "amp", "sticker_size"):
        if table[axis].nunique() > 1:
            return axis
    return "p"


def rate_figures(record: dict[str, Any]) -> list[go.Figure]:
    """One chart per rate (ACC, TPR, TNR) with a line per detector and attack kind, and one of
    ASR/MASR; error bars are the standard deviation over seeds where there are several."""
    table = sweep_table(record)
    if table.empty:
        return []
    axis = varying_axis(table)
    detectors = [DETECTOR_LABELS.get(d, d) for d in record["config"]["detectors"]]
    others = [a for a in AXES if a not in ("kind", axis)]
    figures = []
    series = [("asr", "ASR"), ("masr", "MASR")]
    panels = [(f"Attack success vs {axis}", series)] + [
        (f"Detection {rate.upper()} vs {axis}", [(f"{d} {rate.upper()}", d) for d in detectors])
        for rate in RATES
    ]
    for title, columns in panels:
        figure = go.Figure()
        for (kind, *fixed), group in table.groupby(["kind", *others], sort=False):
            group = group.sort_values(axis)
            suffix = f" · {kind}" if table["kind"].nunique() > 1 else ""
            suffix += "".join(
                f" · {name}={value:g}"
                for name, value in zip(others, fixed, strict=True)
                if table[name].nunique() > 1
            )
            for column, label in columns:
                spread = np.sqrt(group[f"{column} var"].to_numpy(dtype=float))
                figure.add_scatter(
                    x=group[axis],
                    y=group[f"{column} mean"],
                    error_y={
                        "type": "data",
                        "array": np.nan_to_num(spread),
                        "visible": bool(np.isfinite(spread).any()),
                    },
                    mode="lines+markers",
                    name=f"{label}{suffix}",
                    customdata=group["seeds"],
                    hovertemplate=f"{label}{suffix}<br>{axis} %{{x}}<br>%{{y:.2f}} %"
                    "<br>%{customdata} seed(s)<extra></extra>",
                )
        figure.update_layout(
            title=title,
            xaxis_title=AXIS_TITLES.get(axis, axis),
            yaxis_title="percent (mean ± std over seeds)",
            yaxis_range=[0, 102],
        )
        figures.append(figure)
    return figures


def per_class_asr_sweep_figure(record: dict[str, Any]) -> go.Figure | None:
    """The paper's Figure 6 over a sweep: for every class but the target, the trigger's success
    rate, one group of bars per class and one bar per value of the varying axis (mean over
    seeds). None when no computed cell has per-class rates."""
    cells = [cell for cell in record["cells"] if cell is not None and cell["per_class_asr"]]
    if not cells:
        return None
    table = sweep_table(record)
    axis = varying_axis(table)
    names = next((cell["class_names"] for cell in cells if "class_names" in cell), None)
    target = next((cell["target"] for cell in cells if "target" in cell), None)
    by_value: dict[tuple, list[dict[str, float]]] = {}
    for cell in cells:
        by_value.setdefault((cell["kind"], cell[axis]), []).append(cell["per_class_asr"])
    several_kinds = table["kind"].nunique() > 1
    figure = go.Figure()
    for (kind, value), rates in sorted(by_value.items(), key=lambda item: item[0][1], reverse=True):
        classes = sorted({int(c) for r in rates for c in r})
        means = [100 * float(np.mean([r[str(c)] for r in rates if str(c) in r])) for c in classes]
        labels = [f"{c} {names[c]}" if names else str(c) for c in classes]
        suffix = f" · {kind}" if several_kinds else ""
        figure.add_bar(
            x=labels,
            y=means,
            name=f"{axis}={value:g}{suffix} (MASR {np.mean(means):.1f} %)",
            hovertemplate=f"{axis}={value:g}<br>%{{x}}<br>ASR %{{y:.1f}} %<extra></extra>",
        )
    target_text = ""
    if target is not None:
        target_text = f"; target {target}" + (f" {names[target]}" if names else "")
    figure.update_layout(
        title=f"Attack success rate per class by {axis} (paper's Figure 6{target_text})",
        barmode="group",
        yaxis_title="triggered test images classified as the target (%)",
        yaxis_range=[0, 102],
        xaxis_tickangle=-45,
        legend_title=AXIS_TITLES.get(axis, axis),
    )
    return figure
