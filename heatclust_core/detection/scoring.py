"""Scoring a detector against the attack's ground truth (SPEC 5)."""

from __future__ import annotations

import numpy as np


def detection_metrics(flagged: np.ndarray, is_poisoned: np.ndarray) -> dict:
    """Confusion counts and rates (fractions in [0, 1]; NaN where undefined)."""
    flagged = np.asarray(flagged, dtype=bool)
    truth = np.asarray(is_poisoned, dtype=bool)
    tp = int((flagged & truth).sum())
    tn = int((~flagged & ~truth).sum())
    fp = int((flagged & ~truth).sum())
    fn = int((~flagged & truth).sum())

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    precision = ratio(tp, tp + fp)
    tpr = ratio(tp, tp + fn)
    f1 = 2 * precision * tpr / (precision + tpr) if tp else 0.0
    return {
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "acc": ratio(tp + tn, len(truth)),
        "tpr": tpr,
        "tnr": ratio(tn, tn + fp),
        "precision": precision,
        "f1": f1,
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }
