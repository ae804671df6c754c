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
