"""HeatClust dashboard entry point: navigation only; each page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="HeatClust", page_icon=":material/bug_report:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/dataset.py", title="Data set", icon=":material/grid_view:", default=True),
    ]
)
navigation.run()
