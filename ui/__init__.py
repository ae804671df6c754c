"""Streamlit drawing helpers shared by the pages (the library, heatclust_core, has none)."""
