"""HeatClust dashboard entry point: navigation (and the sidebar's facts); pages live in pages/."""

import streamlit as st

from heatclust_core.storage import settings
from heatclust_core.training.network import device_description
from ui import example, warmup
from ui.navigation import app_pages, mark_app_ran

st.set_page_config(page_title="HeatClust", page_icon=":material/bug_report:", layout="wide")
navigation = st.navigation(app_pages())
mark_app_ran()
folders = settings.current()
st.sidebar.caption(f"Data: embedded synthetic set (or GTSRB) in `{folders.data_dir}`")
st.sidebar.caption(f"Runs: `{folders.models_dir}` · jobs: `{folders.state_dir}`")
st.sidebar.caption(f"Device: {device_description()}")
example.sidebar_toggle()
try:
    navigation.run()
finally:  # also when the page stops early or reruns
    warmup.start()
