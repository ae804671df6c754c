"""Explanations: LRP heatmaps (zennit) and the relevance point clouds built from them."""
