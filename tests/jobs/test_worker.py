"""The job process's helpers, in this process."""

import threading
import time

from heatclust_core.jobs.registry import JobRegistry
from heatclust_core.jobs.worker import RegistryProgress, _wait_until_running


def _running_job(registry: JobRegistry):
    job = registry.add("train", {}, "run", "cpu")
    with registry.connect() as db:
        db.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job.id,))
    return job


def test_the_worker_waits_for_the_commit_that_marks_its_job_running(tmp_path):
    registry = JobRegistry(tmp_path)
    job = registry.add("train", {}, "run", "cpu")

    def commit_later():
        time.sleep(0.3)
        with registry.connect() as db:
            db.execute("UPDATE jobs SET status = 'running' WHERE id = ?", (job.id,))

    threading.Thread(target=commit_later).start()
    assert _wait_until_running(registry, job.id, timeout_s=10).status == "running"
    assert _wait_until_running(registry, "unknown") is None


def test_progress_reaches_the_registry_throttled_and_the_log_once_per_message(tmp_path, capsys):
    registry = JobRegistry(tmp_path)
    job = _running_job(registry)
    progress = RegistryProgress(registry, job.id, interval_s=60)
    progress("train", 0.10, "epoch 1/2")
    progress("train", 0.20, "epoch 1/2")  # same message, inside the interval: not written
    assert registry.get(job.id).progress == 0.10
    progress("train", 0.55, "epoch 2/2")  # a new message is written at once
    assert registry.get(job.id).message == "epoch 2/2"
    progress("evaluate", 1.0, "saved")
    assert (registry.get(job.id).stage, registry.get(job.id).progress) == ("evaluate", 1.0)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(maxsplit=1)[1] for line in lines] == [
        "train  10.0% epoch 1/2",
        "train  55.0% epoch 2/2",
        "evaluate 100.0% saved",
    ]
