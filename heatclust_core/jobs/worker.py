"""The job process: `python -m heatclust_core.jobs.worker --job ID` (started by JobRunner).

Runs one registered job, writes its progress to the registry and a line per step to its log
(stdout, which the runner points at state/jobs/ID/log.txt), records the result or the error,
then starts whatever queued job its slot was holding up.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from collections.abc import Sequence

from heatclust_core.errors import HeatClustError
from heatclust_core.jobs.kinds import execute
from heatclust_core.jobs.registry import Job, JobRegistry
from heatclust_core.jobs.runner import JobRunner


class RegistryProgress:
    """Progress into the registry (at most every `interval_s`, and at every stage change) and
    into the log (a line whenever the stage or the message changes, e.g. once per epoch)."""

    def __init__(self, registry: JobRegistry, job_id: str, interval_s: float = 0.5):
        self.registry = registry
        self.job_id = job_id
        self.interval_s = interval_s
        self.stage: str | None = None
        self.message: str | None = None
        self.last_write = 0.0

    def __call__(self, stage: str, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        changed = stage != self.stage or message != self.message
        if changed or fraction >= 1.0 or now - self.last_write >= self.interval_s:
            self.registry.report(self.job_id, stage, fraction, message)
            self.last_write = now
        if changed:
            print(f"{time.strftime('%H:%M:%S')} {stage:>10} {100 * fraction:5.1f}% {message}")
        self.stage, self.message = stage, message


def _terminate(signum, frame):
    # Unwind (running `finally` blocks, e.g. removing a half-built run folder) instead of dying.
    raise SystemExit(128 + signum)


def _wait_until_running(registry: JobRegistry, job_id: str, timeout_s: float = 60.0) -> Job | None:
    """The job's row once it says running. The runner marks it so in the transaction that
    starts this process, which may not have committed when this process first looks."""
    deadline = time.monotonic() + timeout_s
    job = registry.get(job_id)
    while job is not None and job.status == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = registry.get(job_id)
    return job


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m heatclust_core.jobs.worker")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--models-dir", required=True)
    parser.add_argument("--job", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    runner = JobRunner(args.state_dir, args.models_dir)
    registry = runner.registry
    job = _wait_until_running(registry, args.job)
    if job is None or job.status != "running":
        print(f"job {args.job} is not waiting to run ({job.status if job else 'unknown'})")
        return 1
    print(f"job {job.id}: {job.kind} on {job.device}, run {job.run_id}", flush=True)
    status = 0
    try:
        result = execute(job, runner.store, RegistryProgress(registry, job.id))
        if registry.finish(job.id, result):
            print(f"done in {job.duration() or 0:.1f} s")
    except HeatClustError as exc:
        print(f"error: {exc}")
        registry.end(job.id, "failed", str(exc))
        status = 1
    except SystemExit as exc:
        print("stopped by a signal")
        registry.end(job.id, "failed", "stopped by a signal")
        status = int(exc.code) if isinstance(exc.code, int) else 1
    except BaseException as exc:
        traceback.print_exc(file=sys.stdout)
        registry.end(job.id, "failed", f"{type(exc).__name__}: {exc}")
        status = 1
    sys.stdout.flush()
    runner.dispatch()
    return status


if __name__ == "__main__":
    sys.exit(main())
