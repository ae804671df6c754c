"""Analysis results saved in a run's folder, one JSON file each: detections, scans,
remediations, embeddings. Each kind names its folder and the keys its readers need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from heatclust_core.errors import DamagedFileError
from heatclust_core.storage.atomic import JsonFiles, read_json_files, read_json_object, write_json
from heatclust_core.storage.run_store import RunStore


class ResultConfig(Protocol):
    """A config whose result is saved under a name hashed from its fields."""

    def result_name(self) -> str: ...


@dataclass(frozen=True)
class RunResults:
    """One kind of analysis result saved in a run's folder as `folder`/<name>.json (detections,
    scans, remediations, embeddings), <name> being its config's `result_name()`. `required`:
    the keys its readers need; a file without them is damaged."""

    folder: str
    required: tuple[str, ...]
    pattern: str = "*.json"

    def path(self, store: RunStore, run_id: str, config: ResultConfig) -> Path:
        return store.path(run_id) / self.folder / f"{config.result_name()}.json"

    def save(self, store: RunStore, run_id: str, config: ResultConfig, result: dict) -> None:
        write_json(self.path(store, run_id, config), result)

    def load(self, store: RunStore, run_id: str, config: ResultConfig) -> dict | None:
        """The saved result of `config`; None when there is none or it is damaged (so that it
        is computed again)."""
        try:
            return read_json_object(self.path(store, run_id, config), self.required)
        except (FileNotFoundError, DamagedFileError):
            return None

    def load_all(self, store: RunStore, run_id: str) -> JsonFiles:
        """The run's saved results of this kind, newest file first, and the damaged files."""
        return read_json_files(store.path(run_id) / self.folder, self.pattern, self.required)
