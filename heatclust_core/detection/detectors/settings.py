"""Detector settings the configs name, apart from torch and scikit-learn so that a config (and
a page that only shows results) loads without them."""

from __future__ import annotations

from typing import Literal, get_args

# The last hidden layer before the classifier: fc1 after its ReLU.
DEFAULT_LAYER = "relu"

Reducer = Literal["pca", "ica"]
REDUCERS: tuple[str, ...] = get_args(Reducer)

# Tran et al. remove 1.5 times the poisoned share they assume, as ART's eps_multiplier does.
SS_MULTIPLIER = 1.5
