"""Sample ids out of the explorer and back in: CSV and JSON exports of a selection (or of a
flagged cluster), and the reader `remediate --remove-from` uses."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from heatclust_core.errors import ConfigError

CSV_COLUMNS = ("sample_id", "poisoned", "predicted", "cluster")


def export_rows(embedding: dict, sample_ids: list[int], clusters: list[int]) -> list[dict]:
    """One row per chosen sample (pool index), in the embedding's order: its ground truth, the
    network's prediction and its cluster at the chosen k."""
    chosen = set(sample_ids)
    return [
        {
            "sample_id": sample,
            "poisoned": bool(poisoned),
            "predicted": predicted,
            "cluster": cluster,
        }
        for sample, poisoned, predicted, cluster in zip(
            embedding["sample_index"],
            embedding["sample_poisoned"],
            embedding["predicted"],
            clusters,
            strict=True,
        )
        if sample in chosen
    ]


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def to_json(rows: list[dict], context: dict) -> str:
    """{"run_id", "class", "method", ..., "sample_ids": [...], "samples": rows}."""
    return json.dumps(
        context | {"sample_ids": [row["sample_id"] for row in rows], "samples": rows}, indent=1
    )


def read_sample_ids(path: Path) -> tuple[int, ...]:
    """Sample ids of a CSV (a sample_id column) or JSON (a sample_ids list, or a bare list)
    export; ConfigError("remove_from") naming the file when it holds none."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError("remove_from", f"cannot read {path}: {exc.strerror}") from None
    try:
        if text.lstrip().startswith(("{", "[")):
            value = json.loads(text)
            ids = value["sample_ids"] if isinstance(value, dict) else value
        else:
            ids = [row["sample_id"] for row in csv.DictReader(io.StringIO(text))]
        return tuple(sorted({int(i) for i in ids}))
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            "remove_from", f"{path} is not a CSV with a sample_id column nor a JSON list of ids"
        ) from None
