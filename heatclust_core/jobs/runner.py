"""Starting, watching and cancelling jobs, each in its own OS process.

A job process is started in a new session (so a restart of the Streamlit server or a Ctrl-C
in its terminal does not kill it) and inherits an exclusive `flock` on its job folder's lock
file. The kernel drops that lock when the process ends, however it ends, so "is the lock
free?" tells whether a job still lives, with no PID-reuse guesswork and across restarts of
the server. A running job whose lock is free died without reporting: it is marked failed on
the next look.

Jobs share a device one at a time per slot (jobs/kinds.py): one training job (a run, a sweep,
a remediation) per device, and one analysis job (a detector, a class scan) beside it. Queued
jobs start when their slot frees, from whichever process looks next: a page, the CLI, or the
job that just finished.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from heatclust_core.config import RunConfig
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.remediation import (
    RemediateConfig,
    load_remediation,
    selection_detection,
)
from heatclust_core.detection.run import load_detection
from heatclust_core.detection.scan import ScanConfig, scan_path
from heatclust_core.errors import HeatClustError
from heatclust_core.explore.config import EmbedConfig
from heatclust_core.explore.embeddings import check_embedding, load_embedding
from heatclust_core.jobs.kinds import JOB_KIND_TABLE
from heatclust_core.jobs.registry import Job, JobRegistry
from heatclust_core.pipeline import resolve
from heatclust_core.storage.run_store import RunStore
from heatclust_core.sweeps.config import SweepConfig
from heatclust_core.sweeps.runner import sweep_record
from heatclust_core.training.network import pick_device

LOCK_FILE = "lock"
LOG_FILE = "log.txt"
_children: list[subprocess.Popen] = []  # reaped on each look, so no zombies pile up


@dataclass(frozen=True)
class Submission:
    """What a submit did: started a job, found an identical active one, or found the result
    already on disk (`cached`, nothing started)."""

    run_id: str | None
    job: Job | None = None
    cached: bool = False
    duplicate: bool = False


def _device_slot_name(device: str) -> str:
    """ "auto", "cuda" and "cuda:0" name one device, so they share one slot: "cpu" or "cuda:N"."""
    resolved = pick_device(device)
    if resolved.type == "cuda" and resolved.index is None:
        return f"cuda:{torch.cuda.current_device()}"
    return str(resolved)


class JobRunner:
    def __init__(self, state_dir: str | Path = "state", models_dir: str | Path = "models"):
        self.registry = JobRegistry(Path(state_dir).resolve())
        self.store = RunStore(Path(models_dir).resolve())
        self.store.remove_leftovers()

    # -- submitting -----------------------------------------------------------------------
    def submit_train(self, config: RunConfig, device: str = "auto") -> Submission:
        """Validate (raises ConfigError/DatasetError, writing nothing), then queue and start."""
        config = resolve(config)
        run_id = config.run_id()
        if self.store.exists(run_id):
            return Submission(run_id, cached=True)
        return self._submit("train", config.model_dump(), run_id, device)

    def submit_detect(self, run_id: str, config: DetectConfig, device: str = "auto") -> Submission:
        self.store.load_config(run_id)  # raises RunNotFoundError for an unknown run
        if load_detection(self.store, run_id, config) is not None:
            return Submission(run_id, cached=True)
        return self._submit("detect", config.model_dump(), run_id, device)

    def submit_scan(self, run_id: str, config: ScanConfig, device: str = "auto") -> Submission:
        self.store.load_config(run_id)
        if scan_path(self.store, run_id, config).is_file():
            return Submission(run_id, cached=True)
        return self._submit("scan", config.model_dump(), run_id, device)

    def submit_embed(self, run_id: str, config: EmbedConfig, device: str = "auto") -> Submission:
        check_embedding(self.store, run_id, config)
        if load_embedding(self.store, run_id, config) is not None:
            return Submission(run_id, cached=True)
        return self._submit("embed", config.model_dump(), run_id, device)

    def submit_remediate(
        self, run_id: str, config: RemediateConfig, device: str = "auto"
    ) -> Submission:
        self.store.load_config(run_id)
        if config.removed is not None:
            selection_detection(self.store, run_id, config)
        if load_remediation(self.store, run_id, config) is not None:
            return Submission(run_id, cached=True)
        return self._submit("remediate", config.model_dump(), run_id, device)

    def submit_sweep(self, sweep: SweepConfig, device: str = "auto") -> Submission:
        """Queue the missing cells of a sweep (validated here); cached if none is missing."""
        record = sweep_record(sweep, self.store)
        if record["complete"]:
            return Submission(record["sweep_id"], cached=True)
        return self._submit("sweep", sweep.model_dump(), None, device)

    def _submit(self, kind: str, config: dict, run_id: str | None, device: str) -> Submission:
        job, duplicate = self.registry.add_unless_active(
            kind, config, run_id, _device_slot_name(device)
        )
        if duplicate:
            return Submission(run_id, job=job, duplicate=True)
        self.dispatch()
        return Submission(run_id, job=self.registry.get(job.id))

    # -- watching -------------------------------------------------------------------------
    def jobs(self, **filters) -> list[Job]:
        """The registry after a look at the running jobs (dead ones are marked failed)."""
        self.dispatch()
        return self.registry.list(**filters)

    def get(self, job_id: str) -> Job | None:
        self.dispatch()
        return self.registry.get(job_id)

    def is_alive(self, job_id: str) -> bool:
        """True while the job's process holds its lock."""
        path = self.registry.job_dir(job_id) / LOCK_FILE
        if not path.exists():
            return False
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    def refresh(self) -> None:
        """Mark running jobs whose process is gone as failed, with the end of their log."""
        for child in list(_children):
            if child.poll() is not None:
                _children.remove(child)
        for job in self.registry.list(status="running"):
            if not self.is_alive(job.id):
                tail = self.log(job.id, max_chars=600).strip()
                reason = "the job's process ended without reporting a result (killed or crashed)"
                self.registry.end(
                    job.id, "failed", f"{reason}; log ends: {tail}" if tail else reason
                )

    def log(self, job_id: str, max_chars: int = 20_000) -> str:
        path = self.registry.job_dir(job_id) / LOG_FILE
        if not path.is_file():
            return ""
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - max_chars))
            return handle.read().decode(errors="replace")

    # -- starting -------------------------------------------------------------------------
    def dispatch(self) -> list[str]:
        """Start every queued job whose device slot is free; returns the ids started."""
        self.refresh()
        return self.registry.start_queued(lambda kind: JOB_KIND_TABLE[kind].slot, self._spawn)

    def _spawn(self, job_id: str) -> int:
        folder = self.registry.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        # The package is installed (requirements.txt installs it editable), so the worker
        # imports it from any working directory.
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        command = [
            sys.executable,
            "-m",
            "heatclust_core.jobs.worker",
            "--state-dir",
            str(self.registry.state_dir),
            "--models-dir",
            str(self.store.root),
            "--job",
            job_id,
        ]
        with open(folder / LOCK_FILE, "a") as lock, open(folder / LOG_FILE, "ab") as log:
            # Taken here and inherited: the lock is held from the first instant of the child.
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(lock.fileno(),),
                    env=env,
                )
            except BaseException:
                fcntl.flock(lock, fcntl.LOCK_UN)
                raise
        _children.append(child)
        return child.pid

    # -- stopping -------------------------------------------------------------------------
    def cancel(self, job_id: str, grace_s: float = 5.0) -> Job | None:
        """Cancel a queued job, or stop a running one: SIGTERM to its process group, SIGKILL
        after `grace_s` seconds. Returns the job as it stands afterwards."""
        before = self.registry.cancel(job_id)
        if before is None:  # unknown, or ended meanwhile
            return self.registry.get(job_id)
        if before.status == "running" and before.pid:
            self._stop(job_id, before.pid, grace_s)
        self.dispatch()
        return self.registry.get(job_id)

    def _stop(self, job_id: str, pid: int, grace_s: float) -> None:
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            if not self.is_alive(job_id):
                return
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and self.is_alive(job_id):
                time.sleep(0.05)
                self.refresh()

    def delete_run(self, run_id: str) -> None:
        """Remove a finished run's folder and its finished jobs; refuses while a job uses it."""
        active = self.registry.list(status=("queued", "running"), run_id=run_id)
        if active:
            raise HeatClustError(
                f"run {run_id} has {len(active)} active job(s); cancel them before deleting it"
            )
        self.store.delete(run_id)
        self.registry.delete_for_run(run_id)
