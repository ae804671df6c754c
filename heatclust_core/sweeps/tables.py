"""A sweep's cells as the paper's tables: one row per grid point, mean and variance over seeds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

AXES = ("kind", "p", "sticker_size", "amp")
DETECTOR_LABELS = {"raw": "Raw", "ac": "AC", "ss": "SS", "hc": "HC"}
RATES = ("acc", "tpr", "tnr")


def cells_frame(record: dict[str, Any]) -> pd.DataFrame:
    """One row per computed cell: axes, seed, run id, clean accuracy, ASR, MASR and every
    detector's ACC/TPR/TNR/precision/F1 (fractions in [0, 1])."""
    rows = []
    for cell in record["cells"]:
        if cell is None:
            continue
        row = {axis: cell[axis] for axis in AXES}
        row |= {
            "seed": cell["seed"],
            "run_id": cell["run_id"],
            "clean_accuracy": cell["clean_accuracy"],
            "asr": cell["asr"],
            "masr": cell["masr"],
        }
        for detector, scores in cell["detections"].items():
            label = DETECTOR_LABELS.get(detector, detector)
            row |= {
                f"{label} {key.upper()}": value for key, value in scores.items() if key != "seconds"
            }
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_table(record: dict[str, Any], percent: bool = True) -> pd.DataFrame:
    """Rows: the grid points (attack kind, p, s, amp). Columns: seeds (how many), then for
    ASR, MASR, clean accuracy and each detector's ACC/TPR/TNR its mean and its sample
    variance over seeds (ddof = 1, as Table 5; empty for a single seed). Percent by default,
    as the paper prints them (variances then in percent squared)."""
    frame = cells_frame(record)
    if frame.empty:
        return frame
    detectors = [DETECTOR_LABELS.get(d, d) for d in record["config"]["detectors"]]
    values = ["asr", "masr", "clean_accuracy"] + [
        f"{d} {rate.upper()}" for d in detectors for rate in RATES
    ]
    scale = 100.0 if percent else 1.0
    rows = []
    for key, group in frame.groupby(list(AXES), sort=False):
        row = dict(zip(AXES, key, strict=True)) | {"seeds": len(group)}
        for column in values:
            data = group[column].to_numpy(dtype=float) * scale
            row[f"{column} mean"] = float(np.mean(data))
            row[f"{column} var"] = float(np.var(data, ddof=1)) if len(data) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def paper_layout(table: pd.DataFrame, record: dict[str, Any]) -> pd.DataFrame:
    """The table as the paper prints it: the axis that varies, ASR or MASR, and each
    detector's ACC/TPR/TNR (means; variances follow with " var" when there are seeds)."""
    if table.empty:
        return table
    varying = [axis for axis in AXES if table[axis].nunique() > 1] or ["p"]
    kinds = set(table["kind"])
    success = "asr" if kinds == {"standard"} else "masr"
    detectors = [DETECTOR_LABELS.get(d, d) for d in record["config"]["detectors"]]
    columns = [f"{success} mean"] + [f"{d} {r.upper()} mean" for d in detectors for r in RATES]
    if (table["seeds"] > 1).any():
        columns = [c for mean in columns for c in (mean, mean.replace(" mean", " var"))]
    out = table[varying + columns].copy()
    out.columns = [
        c.replace(" mean", "").replace("asr", "ASR").replace("mASR", "MASR") for c in out.columns
    ]
    return out
