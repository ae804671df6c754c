"""Where sweep cells run: here (one by one, or in local worker processes), or on a Ray cluster.

An executor takes the pending cells and yields (index, summary) as each finishes, so the
sweep can record every finished cell at once and a stopped sweep loses nothing finished.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from heatclust_core.config import RunConfig, from_stored
from heatclust_core.detection.config import DetectConfig
from heatclust_core.errors import ConfigError
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps.cell import cell_summary, run_cell

CellResults = Iterator[tuple[int, dict[str, Any]]]


class Executor(Protocol):
    def run(
        self,
        cells: Sequence[RunConfig],
        detect: DetectConfig,
        detectors: tuple[str, ...],
        store: RunStore,
        device: str,
        progress,
    ) -> CellResults: ...


class LocalExecutor:
    """`workers` = 1 runs the cells in this process, one after the other (on a small CPU the
    fastest: a training already uses every core); more start a pool of worker processes."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ConfigError("workers", f"must be at least 1, got {workers}")
        self.workers = workers

    def run(self, cells, detect, detectors, store, device, progress) -> CellResults:
        if self.workers == 1:
            for index, cell in enumerate(cells):
                yield index, run_cell(cell, detect, detectors, store, device, progress)
            return
        with ProcessPoolExecutor(self.workers, mp_context=get_context("spawn")) as pool:
            futures = {
                pool.submit(run_cell, cell, detect, detectors, RunStore(store.root), device): index
                for index, cell in enumerate(cells)
            }
            for future in as_completed(futures):
                yield futures[future], future.result()


def _cell_on_a_worker(
    cell: dict, detect: dict, detectors: tuple[str, ...], device: str
) -> dict[str, bytes]:
    """A Ray task: run one cell in a scratch folder of the worker (no shared disk needed) and
    send back its run folders (with the surrogate's, for label-consistent attacks) as tar
    archives. A relative data folder resolves inside the scratch folder: the synthetic set is
    generated there; a GTSRB folder must be given by an absolute path valid on the workers."""
    with tempfile.TemporaryDirectory(prefix="heatclust-cell-") as scratch:
        os.chdir(scratch)
        store = RunStore(Path(scratch) / "models")
        run_cell(
            from_stored(RunConfig, cell),
            DetectConfig.model_validate(detect),
            tuple(detectors),
            store,
            device,
        )
        return {run_id: _pack(store.path(run_id)) for run_id in store.run_ids()}


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=".")
    return buffer.getvalue()


class RayExecutor:
    """Each cell is one Ray task; its results come back to this driver, which writes them to
    the run store. `address` connects to a running cluster ("auto", "ray://host:10001", ...);
    None starts a local instance with `num_cpus` CPUs."""

    def __init__(
        self, address: str | None = None, num_cpus: int | None = None, cpus_per_cell: float = 1
    ):
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_cell = cpus_per_cell

    def run(self, cells, detect, detectors, store, device, progress) -> CellResults:
        import ray

        if not ray.is_initialized():
            ray.init(
                address=self.address,
                num_cpus=self.num_cpus if self.address is None else None,
                include_dashboard=False,
                log_to_driver=False,
            )
        remote = ray.remote(num_cpus=self.cpus_per_cell, max_retries=0)(_cell_on_a_worker)
        pending = {
            remote.remote(cell.model_dump(), detect.model_dump(), tuple(detectors), device): index
            for index, cell in enumerate(cells)
        }
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            for run_id, archive in ray.get(ready[0]).items():
                store.import_archive(run_id, archive)
            progress("sweep", 0.0, f"cell {index} back from the cluster")
            yield index, cell_summary(store, cells[index], detect, tuple(detectors))
