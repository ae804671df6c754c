"""Jobs in their own processes: results, queueing per device, cancel, crashes, restarts."""

import os
import signal
import time

import pytest

from heatclust_core.config import AttackConfig, DataConfig, RunConfig, TrainConfig
from heatclust_core.detection.config import DetectConfig
from heatclust_core.detection.run import load_detections
from heatclust_core.detection.scan import ScanConfig, load_scans
from heatclust_core.errors import ConfigError, HeatClustError
from heatclust_core.jobs import JobRunner

# Starts job processes that train tiny networks: the slow tier.
pytestmark = pytest.mark.slow

TIMEOUT_S = 180


def tiny_config(data_dir, **train) -> RunConfig:
    return RunConfig(
        data=DataConfig(data_dir=str(data_dir), images_per_class=20),
        train=TrainConfig(**({"epochs": 1} | train)),
    )


def endless_config(data_dir) -> RunConfig:
    """Trains far longer than any test waits (stopped by cancel or kill)."""
    return tiny_config(data_dir, epochs=1000, patience=1000)


def wait_for(runner: JobRunner, job_id: str, condition, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        if condition(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not get there in {timeout_s} s: {runner.get(job_id)}")


def wait_done(runner, job_id):
    return wait_for(runner, job_id, lambda job: not job.active)


def wait_training(runner, job_id):
    return wait_for(runner, job_id, lambda job: job.status == "running" and job.stage == "train")


@pytest.fixture
def runner(tmp_path):
    return JobRunner(tmp_path / "state", tmp_path / "models")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A runner whose store holds one finished tiny run, trained by a job."""
    root = tmp_path_factory.mktemp("jobs")
    runner = JobRunner(root / "state", root / "models")
    submission = runner.submit_train(tiny_config(root / "data"), "cpu")
    job = wait_done(runner, submission.job.id)
    assert job.status == "done", job.error
    return runner, job, root


def test_a_training_job_runs_in_its_own_process_and_records_its_result(trained):
    runner, job, _ = trained
    assert job.pid and job.pid != os.getpid()
    assert job.result["run_id"] == job.run_id and runner.store.exists(job.run_id)
    assert 0.0 <= job.result["clean_accuracy"] <= 1.0
    assert (job.stage, job.progress) == ("evaluate", 1.0)
    log = runner.log(job.id)
    assert "epoch 1/1" in log and "done in" in log


def test_the_same_settings_are_not_trained_again(trained):
    runner, job, root = trained
    again = runner.submit_train(tiny_config(root / "data"), "cpu")
    assert again.cached and again.job is None and again.run_id == job.run_id


def test_invalid_settings_start_nothing(runner, tmp_path):
    config = tiny_config(tmp_path / "data").model_copy(
        update={"attack": AttackConfig(source=3, target=3)}
    )
    with pytest.raises(ConfigError) as error:
        runner.submit_train(config, "cpu")
    assert error.value.parameter == "attack.target"
    assert runner.jobs() == [] and not (tmp_path / "models").exists()


def test_an_attack_the_data_cannot_supply_is_refused_at_submission(runner, tmp_path):
    from heatclust_core.sweeps import SweepConfig

    too_many = tiny_config(tmp_path / "data").model_copy(update={"attack": AttackConfig(p=60)})
    with pytest.raises(ConfigError, match="poisoned samples but source class") as error:
        runner.submit_train(too_many, "cpu")
    assert error.value.parameter == "attack.p"
    with pytest.raises(ConfigError, match="poisoned samples but source class"):
        runner.submit_sweep(SweepConfig(base=tiny_config(tmp_path / "data"), p=(20.0, 60.0)))
    # Counted from the class sizes alone: no job, no run, no sweep record, no data cache.
    assert runner.jobs() == [] and list(tmp_path.iterdir()) == [tmp_path / "state"]


def test_one_training_job_per_device_the_next_waits_in_the_queue(runner, tmp_path):
    first = runner.submit_train(tiny_config(tmp_path / "data"), "cpu").job
    second = runner.submit_train(tiny_config(tmp_path / "data", seed=1), "cpu").job
    duplicate = runner.submit_train(tiny_config(tmp_path / "data", seed=1), "cpu")
    assert first.status == "running" and second.status == "queued"
    assert duplicate.duplicate and duplicate.job.id == second.id
    first, second = wait_done(runner, first.id), wait_done(runner, second.id)
    assert first.status == second.status == "done"
    assert second.started_at >= first.finished_at - 0.5  # started by the first job as it ended


def test_cancel_stops_the_process_within_seconds_and_leaves_nothing_half_written(runner, tmp_path):
    job = runner.submit_train(endless_config(tmp_path / "data"), "cpu").job
    wait_training(runner, job.id)
    started = time.monotonic()
    cancelled = runner.cancel(job.id)
    assert time.monotonic() - started < 10
    assert cancelled.status == "cancelled" and cancelled.error == "cancelled by the user"
    assert not runner.is_alive(job.id) and not _process_running(job.pid)
    leftovers = list((tmp_path / "models").glob("*")) if (tmp_path / "models").exists() else []
    assert leftovers == []


def _process_running(pid: int) -> bool:
    """True while the process exists and is not a zombie (exited, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_job_is_marked_failed_on_the_next_look(runner, tmp_path):
    job = runner.submit_train(endless_config(tmp_path / "data"), "cpu").job
    wait_training(runner, job.id)
    os.killpg(job.pid, signal.SIGKILL)
    failed = wait_for(runner, job.id, lambda j: not j.active, timeout_s=15)
    assert failed.status == "failed"
    assert "ended without reporting a result" in failed.error
    assert "epoch" in failed.error  # the end of its log says how far it got


def test_a_restarted_server_finds_the_running_job_and_can_cancel_it(tmp_path):
    first_server = JobRunner(tmp_path / "state", tmp_path / "models")
    job = first_server.submit_train(endless_config(tmp_path / "data"), "cpu").job
    wait_training(first_server, job.id)
    del first_server
    restarted = JobRunner(tmp_path / "state", tmp_path / "models")
    assert os.getsid(job.pid) == job.pid  # its own session: a server's Ctrl-C does not reach it
    seen = restarted.get(job.id)
    assert seen.status == "running" and seen.message.startswith("epoch")
    assert restarted.cancel(job.id).status == "cancelled"


def test_a_job_that_raises_records_the_message(trained):
    runner, job, _ = trained
    bad = runner.submit_detect(job.run_id, DetectConfig(detector="ac", class_id=99), "cpu").job
    failed = wait_done(runner, bad.id)
    assert failed.status == "failed"
    assert failed.error == "class_id: must be in [0, 42], got 99"


def test_detector_and_scan_jobs_save_their_results_in_the_run_folder(trained):
    runner, job, _ = trained
    detect = runner.submit_detect(job.run_id, DetectConfig(detector="ac"), "cpu").job
    scan = runner.submit_scan(job.run_id, ScanConfig(), "cpu").job
    assert detect.status == "running"
    assert scan.status == "queued"  # one analysis job per device at a time
    detect, scan = wait_done(runner, detect.id), wait_done(runner, scan.id)
    assert detect.status == scan.status == "done", (detect.error, scan.error)
    saved = load_detections(runner.store, job.run_id).values
    assert [d["detector"] for d in saved] == ["ac"]
    assert detect.result["acc"] == saved[0]["acc"] and "cluster_labels" not in detect.result
    assert [s["run_id"] for s in load_scans(runner.store, job.run_id).values] == [job.run_id]
    assert runner.submit_detect(job.run_id, DetectConfig(detector="ac"), "cpu").cached


def test_deleting_a_run_removes_it_alone_and_waits_for_its_jobs(runner, tmp_path):
    kept = runner.submit_train(tiny_config(tmp_path / "data"), "cpu").job
    doomed = runner.submit_train(tiny_config(tmp_path / "data", seed=2), "cpu").job
    kept, doomed = wait_done(runner, kept.id), wait_done(runner, doomed.id)
    scan = runner.submit_scan(doomed.run_id, ScanConfig(), "cpu").job
    with pytest.raises(HeatClustError, match="active job"):
        runner.delete_run(doomed.run_id)
    wait_done(runner, scan.id)
    runner.delete_run(doomed.run_id)
    assert runner.store.run_ids() == [kept.run_id]
    assert [j.id for j in runner.jobs()] == [kept.id]
    assert not [p for p in runner.store.root.iterdir() if p.name.startswith(".")]
