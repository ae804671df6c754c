"""Long-lived objects of the Streamlit server, cached per configured folder."""

from __future__ import annotations

import streamlit as st

from heatclust_core.jobs import JobRunner
from heatclust_core.storage import settings
from heatclust_core.storage.run_store import RunStore
from heatclust_core.training.network import pick_device


@st.cache_resource(show_spinner=False)
def _runner(state_dir: str, models_dir: str) -> JobRunner:
    return JobRunner(state_dir, models_dir)


def runner() -> JobRunner:
    """The job runner for the folders set by HEATCLUST_STATE_DIR and HEATCLUST_MODELS_DIR."""
    current = settings.current()
    return _runner(str(current.state_dir), str(current.models_dir))


def store() -> RunStore:
    return runner().store


@st.cache_resource(show_spinner="Loading the run's network and training set...", max_entries=4)
def _run_artifacts(models_dir: str, read_only: bool, run_id: str):
    run_store = RunStore(models_dir, read_only=read_only)
    return run_store.load_model(run_id, pick_device("auto")), run_store.load_train_set(run_id)


def run_artifacts(run_id: str, run_store: RunStore | None = None):
    """(model on the default device, PoisonedSet) of a finished run of `run_store` (default:
    models/)."""
    run_store = run_store or store()
    return _run_artifacts(str(run_store.root), run_store.read_only, run_id)
