"""Progress reporting from long-running library calls to whatever shows it (CLI bar, job file)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, fraction: float, message: str = "") -> None:
        """`stage` names the step (e.g. "train"), `fraction` in [0, 1] is how far it is."""


def silent(stage: str, fraction: float, message: str = "") -> None:
    """A Progress that reports nothing."""
