"""The finished runs as rows of a table: what was attacked, how, and how well it worked."""

from __future__ import annotations

import datetime as dt

from heatclust_core.errors import DamagedFileError, RunNotFoundError
from heatclust_core.storage.run_store import METRICS_FILE, RunStore


def run_rows(store: RunStore) -> list[dict]:
    """One dict per finished run, newest first (a run deleted meanwhile is skipped)."""
    rows = []
    for run_id in store.run_ids():
        try:
            config = store.load_config(run_id)
            metrics = store.load_metrics(run_id)
        except (RunNotFoundError, DamagedFileError, FileNotFoundError):
            continue  # deleted or damaged meanwhile: damaged_rows() lists the latter
        attack, names = config.attack, metrics["class_names"]
        detections = store.path(run_id) / "detections"
        finished = (store.path(run_id) / METRICS_FILE).stat().st_mtime
        rows.append(
            {
                "run": run_id,
                "finished": dt.datetime.fromtimestamp(finished),
                "dataset": config.data.dataset,
                "attack": attack.kind,
                "source": f"{attack.source} {names[attack.source]}",
                "target": f"{attack.target} {names[attack.target]}",
                "p %": attack.p if attack.kind != "none" else None,
                "s px": attack.sticker_size,
                "amp": attack.amp if attack.kind == "amplitude" else None,
                "eps": attack.eps if attack.uses_pgd else None,
                "epochs": len(metrics["history"]),
                "clean accuracy": metrics["clean_accuracy"],
                "ASR": metrics["asr"],
                "MASR": metrics["masr"],
                "train s": metrics.get("train_seconds"),
                "detections": len(list(detections.glob("*.json"))) if detections.is_dir() else 0,
                "cleaned from": _cleaned_from(config),
            }
        )
    return sorted(rows, key=lambda row: (row["finished"], row["run"]), reverse=True)


def damaged_rows(store: RunStore) -> list[dict]:
    """One dict per run folder that cannot be used, with the reason; delete these to clean up."""
    return [{"run": run_id, "problem": reason} for run_id, reason in store.damaged().items()]


def run_label(row: dict) -> str:
    """A short human label for pickers: "c90f962f2185 · standard p=33% · ASR 1.00"."""
    what = row["attack"] if row["attack"] == "none" else f"{row['attack']} p={row['p %']:g}%"
    if row.get("cleaned from"):
        what += f" · {row['cleaned from']}"
    return f"{row['run']} · {what} · ASR {row['ASR']:.2f}"


def _cleaned_from(config) -> str | None:
    """ "run X without N samples (retrain)" for a remediation's cleaned run, else None."""
    removal = config.removal
    if removal is None:
        return None
    return f"{removal.source_run} without {len(removal.removed)} samples ({removal.mode})"
