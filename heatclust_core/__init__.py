"""HeatClust: backdoor poisoning attacks and their detection by Heatmap Clustering.

The library has no UI dependency; the Streamlit pages and the command line sit on top of it.
"""

__version__ = "0.1.0"
