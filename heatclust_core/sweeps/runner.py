"""Running a sweep: cells already computed are read back, the others go to an executor; the
sweep's record is rewritten (atomically) as each cell finishes, so stopping and restarting a
sweep recomputes nothing that finished."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from heatclust_core.config import ResolvedRunConfig
from heatclust_core.errors import DamagedFileError
from heatclust_core.pipeline import resolve
from heatclust_core.progress import Progress, silent
from heatclust_core.storage.atomic import JsonFiles, read_json_files, write_json
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps.cell import cell_summary, is_cell_done
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.executors import Executor, LocalExecutor

SWEEPS_FOLDER = "sweeps"
SWEEP_RECORD_KEYS = ("sweep_id", "name", "config", "cells", "complete", "updated")


def sweeps_dir(store: RunStore) -> Path:
    """Sweep records live beside the runs they are made of: models/sweeps/."""
    return store.root / SWEEPS_FOLDER


def resolved_cells(sweep: SweepConfig) -> list[ResolvedRunConfig]:
    """The sweep's cells, each settled against the data once: an unknown class or a p the
    data cannot supply fails here, before anything is written."""
    return [resolve(cell) for cell in sweep.cells()]


def sweep_record(
    sweep: SweepConfig, store: RunStore, cells: list[ResolvedRunConfig] | None = None
) -> dict[str, Any]:
    """The sweep as it stands on disk: every cell's summary, None where not computed yet.
    Runs nothing (so a page can show a sweep's finished cells at once). `cells`: the sweep's
    resolved cells, when the caller has them."""
    cells = resolved_cells(sweep) if cells is None else cells
    summaries = [_summary_if_done(store, cell, sweep) for cell in cells]
    return {
        "sweep_id": sweep.sweep_id(),
        "name": sweep.name,
        "config": sweep.model_dump(),
        "cells": summaries,
        "complete": all(s is not None for s in summaries),
        "updated": time.time(),
    }


def run_sweep(
    sweep: SweepConfig,
    store: RunStore,
    executor: Executor | None = None,
    device: str = "auto",
    progress: Progress = silent,
    cells: list[ResolvedRunConfig] | None = None,
) -> dict[str, Any]:
    """Compute the missing cells of `sweep` and return its record (also saved as
    models/sweeps/<sweep_id>.json). `cells`: the sweep's resolved cells, when the caller has
    them."""
    cells = resolved_cells(sweep) if cells is None else cells
    record = sweep_record(sweep, store, cells)
    path = sweeps_dir(store) / f"{record['sweep_id']}.json"
    write_json(path, record)
    pending = [i for i, summary in enumerate(record["cells"]) if summary is None]
    total, done = len(cells), len(cells) - len(pending)
    progress("sweep", done / total, f"{done} of {total} cells already computed")
    if pending:
        executor = executor or LocalExecutor()

        def cell_progress(stage: str, fraction: float, message: str = "") -> None:
            progress(
                "sweep", (done + fraction) / total, f"cell {done + 1}/{total} {stage} {message}"
            )

        results = executor.run(
            [cells[i] for i in pending], sweep.detect, sweep.detectors, store, device, cell_progress
        )
        for local_index, summary in results:
            record["cells"][pending[local_index]] = summary
            done += 1
            record["updated"] = time.time()
            write_json(path, record)
            progress("sweep", done / total, f"{done} of {total} cells computed")
    record["complete"] = True
    write_json(path, record)
    return record


def _summary_if_done(store: RunStore, cell, sweep: SweepConfig) -> dict[str, Any] | None:
    """The cell's summary, or None when it is to be computed (again: a damaged detection file
    of a cell is recomputed rather than failing the sweep)."""
    if not is_cell_done(store, cell, sweep.detect, sweep.detectors):
        return None
    try:
        return cell_summary(store, cell, sweep.detect, sweep.detectors)
    except DamagedFileError:
        return None


def load_sweeps(store: RunStore) -> JsonFiles:
    """Saved sweep records, most recently updated first, and the files that are damaged."""
    loaded = read_json_files(sweeps_dir(store), required=SWEEP_RECORD_KEYS)
    loaded.values.sort(key=lambda r: r["updated"], reverse=True)
    return loaded
