"""Background jobs: a SQLite registry, a runner that starts each job in its own process, and
the worker that process runs."""

from heatclust_core.jobs.registry import JOB_KINDS, JOB_STATUSES, Job, JobRegistry
from heatclust_core.jobs.runner import JobRunner, Submission

__all__ = ["JOB_KINDS", "JOB_STATUSES", "Job", "JobRegistry", "JobRunner", "Submission"]
