"""The SQLite job registry on its own (no processes)."""

import threading
import time

from heatclust_core.jobs.registry import JobRegistry


def test_jobs_are_listed_newest_first_and_filtered(tmp_path):
    registry = JobRegistry(tmp_path)
    first = registry.add("train", {"a": 1}, "run1", "cpu")
    time.sleep(0.01)
    second = registry.add("detect", {"detector": "hc"}, "run1", "cpu")
    third = registry.add("scan", {}, "run2", "cuda:0")
    assert [j.id for j in registry.list()] == [third.id, second.id, first.id]
    assert [j.id for j in registry.list(run_id="run1", kind="detect")] == [second.id]
    assert {j.id for j in registry.list(status="queued")} == {first.id, second.id, third.id}
    assert registry.get(second.id).config == {"detector": "hc"}
    assert registry.get("missing") is None
    assert first.status == "queued" and first.duration() is None


def test_progress_is_kept_only_while_running_and_an_ended_job_stays_ended(tmp_path):
    registry = JobRegistry(tmp_path)
    job = registry.add("train", {}, "run", "cpu")
    registry.report(job.id, "train", 0.5, "epoch 1/2")
    assert registry.get(job.id).stage == ""  # queued: nothing to report yet
    with registry.connect() as db:
        db.execute(
            "UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?", (time.time(), job.id)
        )
    registry.report(job.id, "train", 1.7, "epoch 2/2")
    running = registry.get(job.id)
    assert (running.stage, running.progress, running.message) == ("train", 1.0, "epoch 2/2")
    assert registry.end(job.id, "cancelled", "by the user")
    assert not registry.finish(job.id, {"late": True})  # a cancelled job is not revived
    assert not registry.end(job.id, "failed", "too late")
    ended = registry.get(job.id)
    assert (ended.status, ended.error, ended.result) == ("cancelled", "by the user", None)
    assert ended.duration() is not None


def test_forgetting_a_run_keeps_its_active_jobs(tmp_path):
    registry = JobRegistry(tmp_path)
    active = registry.add("detect", {}, "run", "cpu")
    ended = registry.add("scan", {}, "run", "cpu")
    registry.end(ended.id, "failed", "boom")
    other = registry.add("scan", {}, "other", "cpu")
    registry.end(other.id, "failed", "boom")
    assert registry.delete_for_run("run") == 1
    assert {j.id for j in registry.list()} == {active.id, other.id}


def test_a_second_registry_on_the_same_folder_sees_the_same_jobs(tmp_path):
    job = JobRegistry(tmp_path).add("train", {"x": 1}, "run", "cpu")
    assert JobRegistry(tmp_path).get(job.id) == job


def test_identical_submissions_at_the_same_moment_make_one_job(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    registry = JobRegistry(tmp_path)
    barrier = threading.Barrier(8)

    def submit(_):
        barrier.wait()
        return JobRegistry(tmp_path).add_unless_active("train", {"a": 1, "b": 2}, "r1", "cpu")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(submit, range(8)))
    assert len({job.id for job, _ in results}) == 1
    assert sorted(duplicate for _, duplicate in results) == [False] + [True] * 7
    assert len(registry.list()) == 1
    # Another config, or the same one once the first has ended, is a new job.
    assert not registry.add_unless_active("train", {"a": 2}, "r1", "cpu")[1]
    registry.end(results[0][0].id, "failed", "x")
    assert not registry.add_unless_active("train", {"b": 2, "a": 1}, "r1", "cpu")[1]


def test_cancel_reports_the_state_the_job_was_in_when_it_was_cancelled(tmp_path):
    registry = JobRegistry(tmp_path)
    job = registry.add("train", {}, "r1", "cpu")
    assert registry.start_queued(lambda kind: "training", lambda job_id: 4242) == [job.id]
    before = registry.cancel(job.id)
    assert (before.status, before.pid) == ("running", 4242)
    assert registry.get(job.id).status == "cancelled"
    assert registry.cancel(job.id) is None and registry.cancel("nope") is None


def test_queued_jobs_start_oldest_first_one_per_slot_and_device(tmp_path):
    registry = JobRegistry(tmp_path)
    slots = {"train": "training", "sweep": "training", "detect": "analysis"}
    first = registry.add("train", {}, "r1", "cpu")
    time.sleep(0.01)
    second = registry.add("sweep", {}, None, "cpu")
    time.sleep(0.01)
    detect = registry.add("detect", {}, "r1", "cpu")
    other_device = registry.add("train", {}, "r2", "cuda:0")
    pids = iter(range(100, 200))
    started = registry.start_queued(slots.get, lambda job_id: next(pids))
    assert started == [first.id, detect.id, other_device.id]
    assert registry.get(second.id).status == "queued"  # the cpu's training slot is taken
    assert (registry.get(first.id).status, registry.get(first.id).pid) == ("running", 100)
    assert registry.start_queued(slots.get, lambda job_id: next(pids)) == []
    registry.finish(first.id, {})
    assert registry.start_queued(slots.get, lambda job_id: next(pids)) == [second.id]


def test_a_job_whose_process_cannot_start_fails_with_the_reason(tmp_path):
    registry = JobRegistry(tmp_path)
    job = registry.add("train", {}, "r1", "cpu")

    def spawn(job_id):
        raise OSError("no such file")

    assert registry.start_queued(lambda kind: "training", spawn) == []
    failed = registry.get(job.id)
    assert (
        failed.status == "failed"
        and "could not start the job process: no such file" in failed.error
    )
