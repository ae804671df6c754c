"""The job registry: one SQLite table (stdlib sqlite3) under the state folder.

Every process that touches jobs (the Streamlit server, the job processes, the CLI) opens the
same file; WAL mode lets readers poll while a job process writes its progress.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

JobKind = Literal["train", "detect", "scan", "sweep", "remediate", "embed"]
JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
JOB_KINDS: tuple[str, ...] = get_args(JobKind)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
ACTIVE_STATUSES = ("queued", "running")
REGISTRY_FILE = "jobs.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    run_id TEXT,
    device TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    pid INTEGER,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_run ON jobs (run_id);
"""


@dataclass(frozen=True)
class Job:
    """One row of the registry. Times are UNIX seconds; progress is a fraction in [0, 1]."""

    id: str
    kind: str
    config: dict[str, Any]
    run_id: str | None
    device: str
    status: str
    stage: str
    progress: float
    message: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    pid: int | None
    error: str | None
    result: dict[str, Any] | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def duration(self, now: float | None = None) -> float | None:
        """Seconds since the job started, up to when it finished; None while queued."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else (now or time.time())
        return max(0.0, end - self.started_at)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        values = dict(row)
        values["config"] = json.loads(values["config"])
        values["result"] = json.loads(values["result"]) if values["result"] else None
        return cls(**values)


def new_job_id() -> str:
    """Sortable by creation time, unique across processes."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


class JobRegistry:
    def __init__(self, state_dir: str | Path = "state"):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / REGISTRY_FILE
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.executescript(_SCHEMA)

    def job_dir(self, job_id: str) -> Path:
        """The job's own folder: its log and the lock its process holds while it lives."""
        return self.state_dir / "jobs" / job_id

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database's write lock from the start."""
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add(self, kind: str, config: dict[str, Any], run_id: str | None, device: str) -> Job:
        return self.add_unless_active(kind, config, run_id, device)[0]

    def add_unless_active(
        self, kind: str, config: dict[str, Any], run_id: str | None, device: str
    ) -> tuple[Job, bool]:
        """(job, duplicate): the queued or running job of the same kind, run and config if
        there is one, else a new queued job. One transaction, so two identical submissions at
        the same moment make one job."""
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        text = json.dumps(config, sort_keys=True)
        with self.transaction() as db:
            twin = db.execute(
                "SELECT * FROM jobs WHERE kind = ? AND run_id IS ? AND config = ? "
                "AND status IN ('queued', 'running') ORDER BY created_at LIMIT 1",
                (kind, run_id, text),
            ).fetchone()
            if twin is not None:
                return Job.from_row(twin), True
            job_id = new_job_id()
            db.execute(
                "INSERT INTO jobs (id, kind, config, run_id, device, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                (job_id, kind, text, run_id, device, time.time()),
            )
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row), False

    def start_queued(self, slot_of: Callable[[str], str], spawn: Callable[[str], int]) -> list[str]:
        """Start every queued job whose slot (`slot_of(kind)`, per device) is free, oldest
        first: `spawn(job_id)` starts its process and returns the pid, and the job is marked
        running with it. One write transaction, so two processes dispatching at once never
        start a job twice or two jobs in one slot. A spawn that raises OSError marks its job
        failed with the reason. Returns the ids started."""
        started = []
        with self.transaction() as db:
            rows = db.execute(
                "SELECT id, kind, device, status FROM jobs "
                "WHERE status IN ('queued', 'running') ORDER BY created_at, id"
            ).fetchall()
            busy = {(slot_of(r["kind"]), r["device"]) for r in rows if r["status"] == "running"}
            for row in rows:
                slot = (slot_of(row["kind"]), row["device"])
                if row["status"] != "queued" or slot in busy:
                    continue
                try:
                    pid = spawn(row["id"])
                except OSError as exc:
                    db.execute(
                        "UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                        (f"could not start the job process: {exc}", time.time(), row["id"]),
                    )
                    continue
                db.execute(
                    "UPDATE jobs SET status = 'running', pid = ?, started_at = ?, "
                    "stage = 'starting', message = '' WHERE id = ?",
                    (pid, time.time(), row["id"]),
                )
                busy.add(slot)
                started.append(row["id"])
        return started

    def get(self, job_id: str) -> Job | None:
        with self.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def list(
        self,
        status: str | tuple[str, ...] | None = None,
        kind: str | None = None,
        run_id: str | None = None,
    ) -> list[Job]:
        """Jobs matching every given filter, newest first."""
        clauses, values = [], []
        if status is not None:
            statuses = (status,) if isinstance(status, str) else tuple(status)
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            values.extend(statuses)
        if kind is not None:
            clauses.append("kind = ?")
            values.append(kind)
        if run_id is not None:
            clauses.append("run_id = ?")
            values.append(run_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.connect() as db:
            rows = db.execute(
                f"SELECT * FROM jobs {where} ORDER BY created_at DESC, id DESC", values
            ).fetchall()
        return [Job.from_row(row) for row in rows]

    def report(self, job_id: str, stage: str, fraction: float, message: str) -> None:
        with self.connect() as db:
            db.execute(
                "UPDATE jobs SET stage = ?, progress = ?, message = ? "
                "WHERE id = ? AND status = 'running'",
                (stage, min(max(float(fraction), 0.0), 1.0), message, job_id),
            )

    def set_run_id(self, job_id: str, run_id: str) -> None:
        with self.connect() as db:
            db.execute("UPDATE jobs SET run_id = ? WHERE id = ?", (run_id, job_id))

    def finish(self, job_id: str, result: dict[str, Any]) -> bool:
        """Mark a running job done; False if it was no longer running (e.g. cancelled)."""
        with self.connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = 'done', progress = 1, finished_at = ?, result = ? "
                "WHERE id = ? AND status = 'running'",
                (time.time(), json.dumps(result), job_id),
            )
        return cursor.rowcount == 1

    def end(self, job_id: str, status: str, error: str | None = None) -> bool:
        """Move an active job to failed or cancelled; False if it had already ended."""
        if status not in ("failed", "cancelled"):
            raise ValueError(f"end() takes failed or cancelled, not {status!r}")
        with self.connect() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, error = ?, finished_at = ? "
                "WHERE id = ? AND status IN ('queued', 'running')",
                (status, error, time.time(), job_id),
            )
        return cursor.rowcount == 1

    def cancel(self, job_id: str) -> Job | None:
        """Mark an active job cancelled and return it as it was just before (its status and
        pid then), read in the same transaction; None if it had already ended or is unknown."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE id = ? AND status IN ('queued', 'running')", (job_id,)
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'cancelled', error = ?, finished_at = ? WHERE id = ?",
                ("cancelled by the user", time.time(), job_id),
            )
        return Job.from_row(row)

    def delete(self, job_id: str) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def delete_for_run(self, run_id: str) -> int:
        """Forget the finished jobs of a run; active ones are left alone."""
        with self.connect() as db:
            cursor = db.execute(
                "DELETE FROM jobs WHERE run_id = ? AND status NOT IN ('queued', 'running')",
                (run_id,),
            )
        return cursor.rowcount
