"""The shipped example in the app: where it is, whether it is shown, and how it is labelled."""

from __future__ import annotations

import streamlit as st

from heatclust_core.errors import DamagedFileError
from heatclust_core.example.shipped import example_store, read_gallery, read_manifest
from heatclust_core.storage import settings
from heatclust_core.storage.run_store import RunStore

SHOW_KEY = "show-example"
# Picker keys and links name an example run "example-<run id>": a user's run of the same
# configuration in models/ keeps its plain id.
PREFIX = "example-"
BADGE = ":material/auto_stories: Example"


def shown() -> bool:
    """Whether the example is shown: the sidebar's toggle, first set by HEATCLUST_SHOW_EXAMPLE."""
    return bool(st.session_state.get(SHOW_KEY, settings.current().show_example))


def sidebar_toggle() -> None:
    # The choice lives in a plain session key: a widget's own state is dropped by any run that
    # does not draw it (a deep link's first run goes straight to its page).
    st.session_state.setdefault(SHOW_KEY, settings.current().show_example)
    st.sidebar.toggle(
        "Show the shipped example",
        value=st.session_state[SHOW_KEY],
        key=f"{SHOW_KEY}-toggle",
        on_change=_remember,
        help="A finished analysis that ships with HeatClust (read-only); new runs go to "
        f"{settings.current().models_dir}.",
    )


def _remember() -> None:
    st.session_state[SHOW_KEY] = st.session_state[f"{SHOW_KEY}-toggle"]


@st.cache_resource(show_spinner=False)
def _store(example_dir: str) -> RunStore:
    return example_store(example_dir)


def store() -> RunStore | None:
    """The example's read-only run store; None when it is hidden or absent."""
    if not shown() or manifest() is None:
        return None
    return _store(str(settings.current().example_dir))


def manifest() -> dict | None:
    """The example's manifest; None when there is none (a damaged one is reported once)."""
    try:
        return read_manifest(settings.current().example_dir)
    except DamagedFileError as exc:
        st.warning(f"The shipped example cannot be shown: {exc}", icon=":material/broken_image:")
        return None


def gallery():
    """(poisoned tiles, clean tiles) the example keeps for the landing page; None when it keeps
    none or they cannot be read (said once on the page)."""
    try:
        return read_gallery(settings.current().example_dir)
    except DamagedFileError as exc:
        st.warning(f"The example's heatmaps cannot be shown: {exc}", icon=":material/broken_image:")
        return None


def key(run_id: str) -> str:
    return PREFIX + run_id


def split_key(picked: str) -> tuple[str, bool]:
    """(run id, whether it is the example's)."""
    if picked.startswith(PREFIX):
        return picked.removeprefix(PREFIX), True
    return picked, False
