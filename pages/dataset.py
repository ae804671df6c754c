"""Data set page: every class of the embedded synthetic set with example images and counts."""

import streamlit as st

from heatclust_core.config import DataConfig
from heatclust_core.data.gallery import class_overview, upscale
from heatclust_core.data.loading import load_dataset
from heatclust_core.storage import settings
from ui.navigation import require_app

require_app()


@st.cache_resource(show_spinner="Generating the synthetic traffic-sign set (first use only)...")
def _dataset(config: DataConfig):
    return load_dataset(config)


st.title("Data set")
config = DataConfig(data_dir=str(settings.current().data_dir))
dataset = _dataset(config)
overview = class_overview(dataset, examples_per_class=4)
st.caption(
    f"Embedded synthetic traffic signs: {dataset.n_classes} classes, "
    f"{len(dataset.pool)} train+validation and {len(dataset.test)} test images (32x32 RGB), "
    f"generated with seed {config.seed}."
)
columns_per_row = 3
for row_start in range(0, len(overview), columns_per_row):
    for column, entry in zip(
        st.columns(columns_per_row), overview[row_start : row_start + columns_per_row], strict=False
    ):
        with column.container(border=True):
            st.markdown(f"**{entry.class_id} · {entry.name}**")
            st.image([upscale(img) for img in entry.examples], width=72)
            st.caption(f"{entry.n_pool} train+val · {entry.n_test} test")
