"""The run picker of Inspect and Explore: the user's runs (newest first), then the shipped
example's (its main run first); a link's run parameter preselects one."""

from __future__ import annotations

import streamlit as st

from heatclust_core.storage.catalog import run_label, run_rows
from heatclust_core.storage.run_store import RUN_ID_PATTERN, RunStore
from ui import example


def pick_run(
    own_store: RunStore, wanted: str | None, key: str
) -> tuple[str, bool, RunStore] | None:
    """(run id, whether it is the example's, its store) of the run picked; None (after an info
    line) when there is no run at all. `wanted` is the link's run parameter (a run id, or
    example-<run id>); it is never echoed."""
    shipped = example.store()
    by_key = {row["run"]: (row, own_store) for row in run_rows(own_store)}
    if shipped is not None:
        main_run = (example.manifest() or {}).get("main_run")
        for row in sorted(run_rows(shipped), key=lambda r: r["run"] != main_run):
            by_key[example.key(row["run"])] = (row, shipped)
    if not by_key:
        st.info("No finished runs yet. Train one first.")
        st.page_link("pages/attack.py", label="Attack & train", icon=":material/science:")
        return None
    if wanted and not RUN_ID_PATTERN.fullmatch(example.split_key(wanted)[0]):
        st.warning(
            "The link's run parameter is not a run id (12 hex digits); showing the newest run."
        )
        wanted = None
    elif wanted and wanted not in by_key:
        problem = own_store.problem(wanted) if own_store.path(wanted).is_dir() else None
        if problem:
            st.warning(
                f"Run {wanted} cannot be opened ({problem}); the Runs page deletes it. "
                "Showing the newest run."
            )
        else:
            st.warning(
                f"Run {wanted} is not (or no longer) in {own_store.root}, nor a shown example; "
                "showing the newest run."
            )
    picked = st.selectbox(
        "Run",
        list(by_key),
        index=list(by_key).index(wanted) if wanted in by_key else 0,
        format_func=lambda k: (
            ("Example · " if example.split_key(k)[1] else "") + run_label(by_key[k][0])
        ),
        key=key,
    )
    run_id, is_example = example.split_key(picked)
    return run_id, is_example, by_key[picked][1]
