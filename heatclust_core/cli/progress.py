"""Progress bars of the command line: one tqdm bar per stage, on stderr."""

from __future__ import annotations

import sys

from tqdm import tqdm


class TqdmProgress:
    """One progress bar per stage, on stderr."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.stage = ""
        self.message = ""

    def __call__(self, stage: str, fraction: float, message: str = "") -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                total=1000,
                desc=f"{stage:>9}",
                file=sys.stderr,
                leave=True,
                bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} {postfix}",
            )
        assert self.bar is not None
        position = round(1000 * min(max(fraction, 0.0), 1.0))
        if message != self.message:
            self.message = message
            self.bar.set_postfix_str(message, refresh=False)
        self.bar.update(position - self.bar.n)  # update() honours tqdm's refresh interval

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
