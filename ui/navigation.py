"""The app's pages, and a guard for pages opened without app.py having run."""

from __future__ import annotations

import streamlit as st

APP_RAN = "heatclust-app-ran"


def app_pages() -> list[st.Page]:
    return [
        st.Page("pages/home.py", title="Overview", icon=":material/home:", default=True),
        st.Page("pages/attack.py", title="Attack & train", icon=":material/science:"),
        st.Page("pages/inspect.py", title="Inspect", icon=":material/insights:"),
        st.Page("pages/explore.py", title="Explore", icon=":material/travel_explore:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/stacked_line_chart:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/list_alt:"),
        st.Page("pages/dataset.py", title="Data set", icon=":material/grid_view:"),
    ]


def mark_app_ran() -> None:
    st.session_state[APP_RAN] = True


def require_app() -> None:
    """Called first by every page. A fresh server that finds a pages/ folder serves the first
    request's page directly (Streamlit's old folder-based mode) when that request is a deep
    link such as /inspect?run=ID: app.py, its navigation and sidebar never run. Calling
    st.navigation leaves that mode for good; the rerun then goes through app.py."""
    if not st.session_state.get(APP_RAN):
        st.navigation(app_pages(), position="hidden")
        st.rerun()
