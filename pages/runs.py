"""Runs: every finished run and every job of the registry, with filters; delete a run."""

import datetime as dt

import pandas as pd
import streamlit as st

from heatclust_core.errors import HeatClustError
from heatclust_core.jobs import JOB_KINDS, JOB_STATUSES
from heatclust_core.storage.catalog import damaged_rows, run_rows
from ui.job_panel import job_panel
from ui.navigation import require_app
from ui.resources import runner

require_app()

st.title("Runs")
jobs = runner()
rows = run_rows(jobs.store)
damaged = damaged_rows(jobs.store)

st.subheader("Finished runs")
if rows:
    runs = pd.DataFrame(rows)
    left, right = st.columns([2, 1])
    kinds = left.multiselect("Attack", sorted(runs["attack"].unique()), key="run-attack-filter")
    search = right.text_input("Run id contains", key="run-search")
    if kinds:
        runs = runs[runs["attack"].isin(kinds)]
    if search:
        runs = runs[runs["run"].str.contains(search.strip(), regex=False)]
    runs.insert(1, "inspect", "/inspect?run=" + runs["run"])
    st.dataframe(
        runs,
        hide_index=True,
        column_config={
            "inspect": st.column_config.LinkColumn("inspect", display_text="open"),
            "clean accuracy": st.column_config.NumberColumn(format="%.4f"),
            "ASR": st.column_config.NumberColumn(format="%.3f"),
            "MASR": st.column_config.NumberColumn(format="%.3f"),
            "train s": st.column_config.NumberColumn(format="%.0f"),
            "finished": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
        key="runs-table",
    )
    st.caption(f"{len(runs)} of {len(rows)} runs in {jobs.store.root}")
else:
    st.info("No finished runs yet.")
    st.page_link("pages/attack.py", label="Attack & train", icon=":material/science:")
if damaged:
    st.subheader("Damaged runs")
    st.caption(
        "These folders cannot be opened. Delete them here; training the same configuration "
        "again also replaces one."
    )
    st.dataframe(pd.DataFrame(damaged), hide_index=True, key="damaged-table")
if rows or damaged:
    with st.expander("Delete a run", expanded=bool(damaged) and not rows):
        choices = [row["run"] for row in damaged] + [row["run"] for row in rows]
        doomed = st.selectbox("Run to delete", choices, key="delete-run")
        confirmed = st.checkbox(
            f"Yes, delete run {doomed} with its checkpoint and detections", key="delete-confirm"
        )
        if st.button("Delete", disabled=not confirmed, key="delete-button"):
            try:
                jobs.delete_run(doomed)
            except HeatClustError as exc:
                st.error(str(exc))
            else:
                st.session_state.pop("delete-confirm", None)
                st.success(f"Deleted run {doomed}.")
                st.rerun()

st.subheader("Jobs")
left, right = st.columns(2)
statuses = left.multiselect("Status", JOB_STATUSES, key="job-status-filter")
kinds = right.multiselect("Kind", JOB_KINDS, key="job-kind-filter")
registry = [
    job
    for job in jobs.jobs()
    if (not statuses or job.status in statuses) and (not kinds or job.kind in kinds)
]
if registry:
    now = dt.datetime.now().timestamp()
    st.dataframe(
        pd.DataFrame(
            {
                "job": job.id,
                "kind": job.kind,
                "run": job.run_id,
                "status": job.status,
                "stage": job.stage,
                "progress": job.progress,
                "created": dt.datetime.fromtimestamp(job.created_at),
                "duration s": job.duration(now),
                "error": job.error,
                "inspect": f"/inspect?run={job.run_id}" if job.status == "done" else None,
            }
            for job in registry
        ),
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0),
            "duration s": st.column_config.NumberColumn(format="%.0f"),
            "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "inspect": st.column_config.LinkColumn("inspect", display_text="open"),
        },
        key="jobs-table",
    )
else:
    st.caption("No jobs match." if statuses or kinds else "No jobs yet.")
st.subheader("Active jobs")
job_panel(jobs, recent=0, key="runs-jobs")
