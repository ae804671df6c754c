"""The list of jobs with live progress, cancel buttons and links to their results."""

from __future__ import annotations

import time

import streamlit as st

from heatclust_core.jobs import Job, JobRunner

POLL_SECONDS = 3.0
_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/autorenew:",
    "done": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
}


def _duration(job: Job) -> str:
    seconds = job.duration(time.time())
    if seconds is None:
        return "waiting"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _title(job: Job) -> str:
    run = f" · run {job.run_id}" if job.run_id else ""
    what = {
        "detect": f"detect ({job.config.get('detector', '')})",
        "sweep": f"sweep {job.config.get('name', '')}",
        "remediate": f"remediate ({job.config.get('detect', {}).get('detector', '')}, "
        f"{job.config.get('mode', '')})",
    }.get(job.kind, job.kind)
    return f"{_ICONS.get(job.status, '')} {what}{run} · {job.status} · {_duration(job)}"


def _draw_job(job: Job, runner: JobRunner, key: str) -> None:
    with st.container(border=True):
        st.markdown(f"**{_title(job)}**")
        if job.status == "running":
            stage = f"{job.stage}: {job.message}" if job.message else job.stage
            st.progress(job.progress, text=stage)
        elif job.status == "queued":
            st.caption("Queued: waiting for the device (one job of its kind per device at a time).")
        elif job.status == "failed":
            st.error(job.error or "failed", icon=":material/error:")
            with st.expander("Log"):
                st.code(runner.log(job.id, 4000) or "(empty)", language=None)
        elif job.status == "done" and job.kind in ("train", "remediate") and job.run_id:
            # A remediation's job belongs to the attacked run; its result names the cleaned one.
            shown = (job.result or {}).get("run_id", job.run_id)
            st.page_link(
                "pages/inspect.py",
                label=f"Inspect run {shown}",
                icon=":material/insights:",
                query_params={"run": shown},
            )
        if job.active and st.button("Cancel", key=f"{key}-cancel-{job.id}"):
            runner.cancel(job.id)
            st.rerun()


def job_panel(
    runner: JobRunner,
    kinds: tuple[str, ...] | None = None,
    run_id: str | None = None,
    recent: int = 3,
    key: str = "jobs",
) -> None:
    """Active jobs (polled every POLL_SECONDS while any runs) and the latest finished ones.
    When the last active job ends, the whole page reruns so its results appear."""

    def matching() -> list[Job]:
        return [j for j in runner.jobs(run_id=run_id) if kinds is None or j.kind in kinds]

    def draw() -> None:
        jobs = matching()
        active = [j for j in jobs if j.active]
        was_active = st.session_state.get(f"{key}-was-active", False)
        st.session_state[f"{key}-was-active"] = bool(active)
        if was_active and not active:
            st.rerun()
        for job in active + [j for j in jobs if not j.active][:recent]:
            _draw_job(job, runner, key)
        if not jobs:
            st.caption("No jobs yet.")

    polling = any(j.active for j in matching())
    st.fragment(draw, run_every=POLL_SECONDS if polling else None)()
