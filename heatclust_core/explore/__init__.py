"""Exploring one class of a finished run: embeddings of its samples (activations, heatmaps, GW
distances), the choice of the number of clusters, and the facts a view is coloured by."""
