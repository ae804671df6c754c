"""LRP settings, apart from zennit and torch so that configs and pages can name them cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

CompositeName = Literal[
    "epsilon-plus-flat", "epsilon-plus", "epsilon-alpha2-beta1-flat", "epsilon-alpha2-beta1"
]
COMPOSITE_NAMES: tuple[str, ...] = get_args(CompositeName)


@dataclass(frozen=True)
class LRPOptions:
    # Heatmap Clustering separates the poisons far better with alpha2-beta1 than with
    # epsilon-plus-flat (README, "Defaults"); the detector, the CLI, the app and the gallery
    # all take their default from here.
    composite: CompositeName = "epsilon-alpha2-beta1"
    epsilon: float = 1e-6
    # Biases absorb relevance; ignoring them makes the input relevance sum to the logit.
    ignore_bias: bool = False
